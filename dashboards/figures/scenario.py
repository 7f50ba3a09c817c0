"""Workshop scenario figures: baseline beside scenario, and the steps from one to the other.

Input: the frame ``totalplace.workshop.scenarios.compare`` returns (agency_type, function,
baseline_pence, scenario_pence, difference_pence, difference_pct). Pure: no Dash, no I/O.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboards.figures.breakdown import FONT, OKABE_ITO, UNSPECIFIED, empty_figure
from dashboards.figures.money import format_gbp

BASELINE_COLOUR = OKABE_ITO["sky"]
SCENARIO_COLOUR = OKABE_ITO["blue"]
UP, DOWN, TOTAL = OKABE_ITO["orange"], OKABE_ITO["green"], OKABE_ITO["black"]


def changed_cells(comparison: pd.DataFrame) -> pd.DataFrame:
    """The cells a scenario changes, largest change (either way) first."""
    if comparison.empty:
        return comparison
    moved = comparison[comparison["difference_pence"] != 0]
    order = moved["difference_pence"].abs().sort_values(ascending=False).index
    return moved.loc[order].reset_index(drop=True)


def baseline_vs_scenario(comparison: pd.DataFrame, scenario_name: str = "Scenario") -> go.Figure:
    """Grouped horizontal bars by agency type: baseline and scenario side by side.

    Only agency types the scenario changes are drawn (the rest are equal, and would drown the
    change); ``meta`` holds both totals.
    """
    if comparison.empty:
        return empty_figure("No figures to compare.")
    base_total = int(comparison["baseline_pence"].sum()) / 100
    scen_total = int(comparison["scenario_pence"].sum()) / 100
    df = comparison.assign(agency_type=comparison["agency_type"].fillna(UNSPECIFIED))
    by = df.groupby("agency_type", as_index=False)[
        ["baseline_pence", "scenario_pence", "difference_pence"]
    ].sum()
    touched = set(changed_cells(df)["agency_type"])
    by = by[by["agency_type"].isin(touched)]
    if by.empty:
        return empty_figure(f"{scenario_name} changes nothing yet: it equals the baseline.")
    by = by.sort_values("baseline_pence", ascending=True)  # top = largest
    fig = go.Figure()
    # horizontal groups stack their first trace at the bottom: the scenario goes first so the
    # baseline reads above it, and the legend is reversed to match
    for column, name, colour in (
        ("scenario_pence", scenario_name, SCENARIO_COLOUR),
        ("baseline_pence", "Baseline", BASELINE_COLOUR),
    ):
        gbp = (by[column].astype("int64") / 100).tolist()
        fig.add_trace(
            go.Bar(
                x=gbp,
                y=by["agency_type"].tolist(),
                orientation="h",
                name=name,
                marker={"color": colour},
                text=[format_gbp(v) for v in gbp],
                textposition="outside",
                cliponaxis=False,
                hovertemplate=f"<b>%{{y}}</b><br>{name}: %{{text}}<extra></extra>",
            )
        )
    hi = max(1.0, float(by[["baseline_pence", "scenario_pence"]].max().max()) / 100)
    fig.update_layout(
        title={"text": "Agency types the scenario changes", "x": 0, "xanchor": "left"},
        font=FONT,
        barmode="group",
        height=160 + 60 * len(by),
        margin={"l": 10, "r": 20, "t": 50, "b": 10},
        plot_bgcolor="white",
        paper_bgcolor="white",
        legend={"orientation": "h", "y": -0.02, "yanchor": "top", "x": 0, "traceorder": "reversed"},
        xaxis={"visible": False, "range": [0, hi * 1.25]},
        yaxis={"automargin": True, "ticksuffix": "  "},
        meta={"baseline_gbp": base_total, "scenario_gbp": scen_total},
    )
    return fig


def scenario_waterfall(
    comparison: pd.DataFrame, scenario_name: str = "Scenario", max_steps: int = 12
) -> go.Figure:
    """From the baseline total, each changed cell's difference, to the scenario total.

    Beyond ``max_steps`` changed cells the smallest are summed into one 'other cells' step.
    """
    if comparison.empty:
        return empty_figure("No figures to compare.")
    moved = changed_cells(comparison)
    if moved.empty:
        return empty_figure(f"{scenario_name} changes nothing yet: it equals the baseline.")
    base = int(comparison["baseline_pence"].sum()) / 100
    scen = int(comparison["scenario_pence"].sum()) / 100
    labels = [f"{a} × {f}" for a, f in zip(moved["agency_type"], moved["function"], strict=True)]
    steps = (moved["difference_pence"].astype("int64") / 100).tolist()
    if len(steps) > max_steps:
        rest = sum(steps[max_steps - 1 :])
        n = len(steps) - max_steps + 1
        labels, steps = [*labels[: max_steps - 1], f"{n} other cells"], steps[: max_steps - 1]
        steps.append(rest)
    x = ["Baseline", *labels, scenario_name]
    values = [base, *steps, scen]
    texts = [format_gbp(base), *[_signed(v) for v in steps], format_gbp(scen)]
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            y=x,
            x=values,
            measure=["absolute", *["relative"] * len(steps), "total"],
            text=texts,
            textposition="outside",
            cliponaxis=False,
            increasing={"marker": {"color": UP}},
            decreasing={"marker": {"color": DOWN}},
            totals={"marker": {"color": TOTAL}},
            connector={"line": {"color": "#999", "width": 1}},
            hovertemplate="<b>%{y}</b><br>%{text}<extra></extra>",
            name=scenario_name,
        )
    )
    # changes are small beside a place's total: the axis is cut to the path they take (every
    # bar is labelled in pounds, so nothing is read off the axis)
    path = [base]
    for v in steps:
        path.append(path[-1] + v)
    lo, hi = min(path), max(path)
    pad = max(0.4 * (hi - lo), 0.001 * abs(base), 1.0)
    fig.update_layout(
        title={
            "text": f"From baseline to {scenario_name}: {_signed(scen - base)}",
            "x": 0,
            "xanchor": "left",
        },
        font=FONT,
        height=140 + 32 * len(x),
        margin={"l": 10, "r": 30, "t": 50, "b": 10},
        plot_bgcolor="white",
        paper_bgcolor="white",
        showlegend=False,
        xaxis={"visible": False, "range": [lo - pad, hi + 1.5 * pad]},
        yaxis={"automargin": True, "autorange": "reversed", "ticksuffix": "  "},
        meta={"baseline_gbp": base, "scenario_gbp": scen, "steps": len(steps)},
    )
    return fig


def _signed(value: float) -> str:
    """'+£1.2m', '-£300,000', '£0'."""
    text = format_gbp(value)
    return text if text.startswith("-") or text == "£0" else "+" + text


CASHABLE_COLOUR, CAPACITY_COLOUR = OKABE_ITO["green"], OKABE_ITO["yellow"]


def savings_split(savings: pd.DataFrame, scenario_name: str = "Scenario") -> go.Figure:
    """Invest-to-save savings over each change's years, cashable (budgets can be cut) stacked
    with non-cashable (capacity freed, budgets unchanged); one bar per change.

    Input: ``totalplace.workshop.scenarios.savings`` (step, label, cashable_pence,
    non_cashable_pence). ``meta`` holds both totals in pounds.
    """
    if savings.empty:
        return empty_figure(f"{scenario_name} has no invest-to-save change.")
    cash = int(savings["cashable_pence"].sum()) / 100
    capacity = int(savings["non_cashable_pence"].sum()) / 100
    labels = savings["label"].tolist()
    fig = go.Figure()
    for column, name, colour in (
        ("cashable_pence", f"Cashable: {format_gbp(cash)}", CASHABLE_COLOUR),
        ("non_cashable_pence", f"Non-cashable: {format_gbp(capacity)}", CAPACITY_COLOUR),
    ):
        gbp = (savings[column].astype("int64") / 100).tolist()
        fig.add_trace(
            go.Bar(
                x=gbp,
                y=labels,
                orientation="h",
                name=name,
                marker={"color": colour},
                text=[format_gbp(v) if v else "" for v in gbp],
                textposition="inside",
                hovertemplate=f"<b>%{{y}}</b><br>{name.split(':')[0]}: %{{x:,.0f}}<extra></extra>",
            )
        )
    fig.update_layout(
        title={
            "text": f"Savings over the years: {format_gbp(cash)} cashable, "
            f"{format_gbp(capacity)} non-cashable",
            "x": 0,
            "xanchor": "left",
        },
        font=FONT,
        barmode="stack",
        height=160 + 40 * len(labels),
        margin={"l": 10, "r": 20, "t": 50, "b": 10},
        plot_bgcolor="white",
        paper_bgcolor="white",
        legend={"orientation": "h", "y": -0.02, "yanchor": "top", "x": 0},
        xaxis={"visible": False},
        yaxis={"automargin": True, "autorange": "reversed", "ticksuffix": "  "},
        meta={"cashable_gbp": cash, "non_cashable_gbp": capacity},
    )
    return fig
