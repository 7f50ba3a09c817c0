"""Deep-dive figures: a theme's spend by service line and its two splits. Pure: no Dash, no I/O.

Inputs are the frames ``ThemeBreakdown.by_function()`` and ``ThemeBreakdown.split(column)``
return (amounts in pence). Every bar says its amount in pounds, so the charts read without axes;
colours are Okabe-Ito (safe for the common colour-vision deficiencies).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboards.figures.breakdown import FONT, OKABE_ITO, UNSPECIFIED, empty_figure
from dashboards.figures.money import format_gbp, format_share

#: One colour per COFOG division, in order of first appearance (largest first).
_SERIES = [
    OKABE_ITO[k] for k in ("blue", "orange", "green", "purple", "sky", "vermillion", "yellow")
]
#: Fixed colours for the split categories, so 'reactive' looks the same on every theme.
SPLIT_COLOURS = {
    "reactive": OKABE_ITO["vermillion"],
    "preventative": OKABE_ITO["green"],
    "local": OKABE_ITO["blue"],
    "national": OKABE_ITO["orange"],
}
SPLIT_TITLES = {"mode": "Reactive or preventative", "control": "Local or national control"}


def service_line_bar(by_function: pd.DataFrame, title: str = "By service line") -> go.Figure:
    """Horizontal bars of theme spend by service line, coloured by function (one legend entry
    per function), largest at the top."""
    if by_function.empty:
        return empty_figure("No theme spend to show by service line.")
    df = by_function[["function", "line", "amount_pence"]].copy()
    df["function"] = df["function"].fillna(UNSPECIFIED).astype(str)
    df["line"] = df["line"].fillna(UNSPECIFIED).astype(str)
    df = df.groupby(["function", "line"], as_index=False, sort=False)["amount_pence"].sum()
    df["gbp"] = df["amount_pence"].astype("int64") / 100
    total = float(df["gbp"].sum())
    # the same line name can appear under two functions: label by function and line
    dupes = df["line"].duplicated(keep=False)
    df["label"] = df["line"].where(~dupes, df["line"] + " (" + df["function"] + ")")
    order = df.sort_values("gbp", ascending=True)["label"].tolist()  # top = largest

    fig = go.Figure()
    functions = df.sort_values("gbp", ascending=False)["function"].drop_duplicates().tolist()
    for i, fn in enumerate(functions):
        part = df[df["function"] == fn]
        texts = [format_gbp(v) for v in part["gbp"]]
        shares = [format_share(v, total) for v in part["gbp"]]
        fig.add_trace(
            go.Bar(
                x=part["gbp"].tolist(),
                y=part["label"].tolist(),
                orientation="h",
                name=fn,
                marker={"color": _SERIES[i % len(_SERIES)]},
                text=texts,
                textposition="outside",
                cliponaxis=False,
                customdata=list(zip(texts, shares, strict=True)),
                hovertemplate="<b>%{y}</b><br>%{customdata[0]} (%{customdata[1]} of the theme)"
                f"<br>{fn}<extra></extra>",
            )
        )
    lo, hi = min(0.0, float(df["gbp"].min())), max(0.0, float(df["gbp"].max()))
    span = (hi - lo) or 1.0
    fig.update_layout(
        title={"text": f"{title}: {format_gbp(total)}", "x": 0, "xanchor": "left"},
        font=FONT,
        height=170 + 30 * len(df),
        margin={"l": 10, "r": 20, "t": 50, "b": 10},
        plot_bgcolor="white",
        paper_bgcolor="white",
        barmode="overlay",
        bargap=0.25,
        legend={"orientation": "h", "y": -0.02, "yanchor": "top", "x": 0, "title": None},
        xaxis={"visible": False, "range": [lo - (0.2 * span if lo < 0 else 0), hi + 0.22 * span]},
        yaxis={
            "automargin": True,
            "ticksuffix": "  ",
            "categoryorder": "array",
            "categoryarray": order,
        },
        meta={"total_gbp": total},
    )
    return fig


def split_bar(split: pd.DataFrame, column: str, title: str | None = None) -> go.Figure:
    """One stacked bar of the theme total split by ``column`` ('mode' or 'control'); each part
    named with its amount and share in the legend and on the bar."""
    title = title or SPLIT_TITLES.get(column, column)
    if split.empty:
        return empty_figure(f"No theme spend to split ({title.lower()}).")
    df = split[[column, "amount_pence"]].copy()
    df[column] = df[column].fillna(UNSPECIFIED).astype(str)
    df = df.groupby(column, as_index=False, sort=False)["amount_pence"].sum()
    df = df.sort_values("amount_pence", ascending=False, ignore_index=True)
    gbp = df["amount_pence"].astype("int64") / 100
    total = float(gbp.sum())
    spare = [c for c in _SERIES if c not in SPLIT_COLOURS.values()]

    fig = go.Figure()
    for i, (name, value) in enumerate(zip(df[column], gbp, strict=True)):
        share = format_share(float(value), total)
        words = f"{str(name).capitalize()}: {format_gbp(float(value))} ({share})"
        fig.add_trace(
            go.Bar(
                x=[float(value)],
                y=[title],
                orientation="h",
                name=words,
                marker={"color": SPLIT_COLOURS.get(str(name), spare[i % len(spare)])},
                text=[f"{str(name).capitalize()} {share}"],
                textposition="inside",
                insidetextanchor="middle",
                hovertemplate=f"<b>{words}</b><extra></extra>",
            )
        )
    fig.update_layout(
        title={"text": f"{title}: {format_gbp(total)}", "x": 0, "xanchor": "left"},
        font=FONT,
        barmode="relative",
        bargap=0.3,
        height=165,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        plot_bgcolor="white",
        paper_bgcolor="white",
        xaxis={"visible": False},
        yaxis={"visible": False},
        legend={"orientation": "h", "y": -0.05, "yanchor": "top", "x": 0},
        uniformtext={"minsize": 11, "mode": "hide"},
        meta={"total_gbp": total},
    )
    return fig
