"""Comparisons: a place against the other pilots, a peer group and England, over years and
ranked in one year; an agency's spend by function across places; what the store covers by
agency type and year.

Inputs are long frames (``totalplace.queries.group_totals`` with a ``year``): one row per
name (and year, and category) with ``amount_gbp``, ``per_head_gbp`` and a ``role``: 'place'
(drawn in vermillion), 'pilot' (grey), 'peer' (Okabe-Ito colours), 'england' or 'group'
(black, dashed).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboards.figures.breakdown import FONT, OKABE_ITO, empty_figure
from dashboards.figures.money import format_gbp, format_per_head

#: measure -> (column, label)
MEASURES = {
    "per_head": ("per_head_gbp", "Spend per head"),
    "total": ("amount_gbp", "Total spend"),
}
ROLE_ORDER = {"place": 0, "peer": 1, "group": 2, "england": 3, "pilot": 4}
PILOT_GREY = "#b4b9c2"
BAR_COLOURS = {
    "place": OKABE_ITO["vermillion"],
    "england": OKABE_ITO["black"],
    "group": "#5b6475",
    "peer": OKABE_ITO["blue"],
}
_PEER_COLOURS = [
    OKABE_ITO["blue"],
    OKABE_ITO["green"],
    OKABE_ITO["purple"],
    OKABE_ITO["orange"],
    OKABE_ITO["sky"],
]


def _money(value: float, measure: str) -> str:
    return format_per_head(value) if measure == "per_head" else format_gbp(value)


def _style(role: str, k: int) -> dict[str, object]:
    if role == "place":
        return {"color": OKABE_ITO["vermillion"], "width": 4}
    if role in ("england", "group"):
        return {
            "color": OKABE_ITO["black"],
            "width": 2,
            "dash": "dash" if role == "england" else "dot",
        }
    if role == "peer":
        return {"color": _PEER_COLOURS[k % len(_PEER_COLOURS)], "width": 2.5}
    return {"color": PILOT_GREY, "width": 1.5}


def _points(frame: pd.DataFrame, column: str) -> dict[str, tuple[str, list[str], list[float]]]:
    """name -> (role, years, values), years in order (plain Python: a few hundred rows)."""
    out: dict[str, tuple[str, list[str], list[float]]] = {}
    rows = zip(
        frame["name"].tolist(),
        frame["role"].tolist(),
        frame["year"].tolist(),
        frame[column].tolist(),
        strict=True,
    )
    for name, role, year, value in sorted(rows, key=lambda r: (str(r[0]), str(r[2]))):
        entry = out.setdefault(str(name), (str(role), [], []))
        entry[1].append(str(year))
        entry[2].append(value)
    return out


def compare_lines(frame: pd.DataFrame, measure: str, title: str) -> go.Figure:
    """One line per name over the years; the place thick vermillion, other pilots grey."""
    column, label = MEASURES[measure]
    if frame.empty or frame[column].dropna().empty:
        return empty_figure(f"No {label.lower()} to compare.")
    points = _points(frame, column)
    # the place is drawn last, on top
    order = sorted(points, key=lambda n: (-ROLE_ORDER.get(points[n][0], 9), n))
    traces: list[go.Scatter] = []
    peers = 0
    for name in order:
        role, years, values = points[name]
        style = _style(role, peers)
        peers += role == "peer"
        traces.append(
            go.Scatter(
                x=years,
                y=values,
                mode="lines+markers" if role != "pilot" else "lines",
                name=name,
                line=style,
                marker={"size": 6},
                customdata=[_money(v, measure) for v in values],
                hovertemplate=f"<b>{name}</b> %{{x}}<br>{label}: %{{customdata}}<extra></extra>",
                legendrank=ROLE_ORDER.get(role, 9) * 100,
                showlegend=role != "pilot",
            )
        )
    traces.append(  # one legend entry for all the grey pilot lines
        go.Scatter(
            x=[None],
            y=[None],
            mode="lines",
            name="Other pilots",
            line={"color": PILOT_GREY, "width": 1.5},
            hoverinfo="skip",
            legendrank=900,
        )
    )
    return go.Figure(
        traces,
        layout={
            "title": {"text": title, "x": 0, "xanchor": "left"},
            "font": FONT,
            "height": 520,
            "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
            "plot_bgcolor": "white",
            "paper_bgcolor": "white",
            "hovermode": "closest",
            "legend": {"orientation": "h", "x": 0, "y": -0.22, "yanchor": "top"},
            "xaxis": {"type": "category", "showgrid": False},
            "yaxis": {
                "title": {"text": label},
                "tickprefix": "£",
                "tickformat": ",.0f" if measure == "per_head" else "~s",
                "gridcolor": "#e6e8ec",
            },
        },
    )


def compare_ranked(frame: pd.DataFrame, measure: str, title: str) -> go.Figure:
    """Horizontal bars, largest at the top, the place in vermillion, labelled in pounds."""
    column, label = MEASURES[measure]
    data = frame.dropna(subset=[column])
    if data.empty:
        return empty_figure(f"No {label.lower()} to rank.")
    data = data.sort_values(column, ascending=True, ignore_index=True)
    colours = [BAR_COLOURS.get(str(role), PILOT_GREY) for role in data["role"]]
    texts = [_money(v, measure) for v in data[column]]
    fig = go.Figure(
        go.Bar(
            x=data[column].tolist(),
            y=data["name"].tolist(),
            orientation="h",
            marker={"color": colours},
            text=[t.removesuffix(" a head") for t in texts],
            textposition="outside",
            cliponaxis=False,
            customdata=texts,
            hovertemplate="<b>%{y}</b><br>%{customdata}<extra></extra>",
        )
    )
    hi = max(0.0, float(data[column].max()))
    lo = min(0.0, float(data[column].min()))
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        font=FONT,
        height=110 + 26 * len(data),
        margin={"l": 10, "r": 20, "t": 50, "b": 10},
        plot_bgcolor="white",
        paper_bgcolor="white",
        showlegend=False,
        bargap=0.25,
        xaxis={"visible": False, "range": [lo, hi * 1.18 or 1]},
        yaxis={"automargin": True, "ticksuffix": "  "},
    )
    return fig


def function_stack(frame: pd.DataFrame, measure: str, title: str, place: str | None) -> go.Figure:
    """Stacked horizontal bars: each name's spend by function (COFOG division)."""
    column, label = MEASURES[measure]
    cells: dict[str, dict[str, float]] = {}
    for name, fn, value in zip(
        frame["name"].tolist(), frame["function"].tolist(), frame[column].tolist(), strict=True
    ):
        if value is None or pd.isna(value) or value == 0:
            continue
        row = cells.setdefault(str(fn), {})
        row[str(name)] = row.get(str(name), 0.0) + float(value)
    if not cells:
        return empty_figure(f"No {label.lower()} by function to show.")
    totals: dict[str, float] = {}
    for row in cells.values():
        for name, v in row.items():
            totals[name] = totals.get(name, 0.0) + v
    order = sorted(totals, key=lambda n: totals[n])  # bottom to top: largest on top
    fns = sorted(cells, key=lambda f: -sum(cells[f].values()))
    palette = [*_PEER_COLOURS, OKABE_ITO["vermillion"], OKABE_ITO["yellow"], "#6b6b6b"]
    traces = []
    for k, fn in enumerate(fns):
        xs = [cells[fn].get(n) for n in order]
        traces.append(
            go.Bar(
                x=xs,
                y=order,
                orientation="h",
                name=fn,
                marker={"color": palette[k % len(palette)]},
                customdata=[_money(v, measure) if v is not None else "" for v in xs],
                hovertemplate=f"<b>%{{y}}</b><br>{fn}: %{{customdata}}<extra></extra>",
            )
        )
    ticks = [f"<b>{n}</b>" if n == place else n for n in order]
    return go.Figure(
        traces,
        layout={
            "barmode": "relative",
            "title": {"text": title, "x": 0, "xanchor": "left"},
            "font": FONT,
            "height": 140 + 28 * len(order),
            "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
            "plot_bgcolor": "white",
            "paper_bgcolor": "white",
            "legend": {"orientation": "h", "y": -0.08, "x": 0, "yanchor": "top"},
            "xaxis": {
                "tickprefix": "£",
                "tickformat": ",.0f" if measure == "per_head" else "~s",
                "gridcolor": "#e6e8ec",
                "title": {"text": label},
            },
            "yaxis": {"automargin": True, "tickvals": order, "ticktext": ticks},
        },
    )


#: what a coverage cell's colour shows -> (legend title, tick format)
COVERAGE_VALUES = {
    "sources": ("Sources", "d"),
    "rows": ("Ledger rows", ",d"),
    "amount": ("£bn", ",.1f"),
}


def coverage_heatmap(
    frame: pd.DataFrame, value: str = "sources", title: str = "What the store covers"
) -> go.Figure:
    """Agency type x year: how many sources cover each cell, how many ledger rows, or how
    many pounds (colour); which sources (hover).

    ``frame``: ``totalplace.queries.coverage`` (source_id, agency_type, year, rows,
    amount_pence). Amounts add every source and area level loaded, so two releases covering
    one year both count: read them one source at a time."""
    if frame.empty:
        return empty_figure("Nothing is loaded yet: run `totalplace build`.")
    legend, tickformat = COVERAGE_VALUES.get(value, COVERAGE_VALUES["sources"])
    cells = frame.groupby(["agency_type", "year"], as_index=False).agg(
        sources=("source_id", lambda s: ", ".join(sorted(set(map(str, s))))),
        n=("source_id", "nunique"),
        rows=("rows", "sum"),
        amount=("amount_pence", "sum"),
    )
    cells["amount"] = cells["amount"].astype("float64") / 1e11  # pence -> £bn
    column = {"sources": "n", "rows": "rows", "amount": "amount"}.get(value, "n")
    types = sorted(cells["agency_type"].astype(str).unique(), reverse=True)
    years = sorted(cells["year"].astype(str).unique())

    def grid(col: str) -> pd.DataFrame:
        return cells.pivot(index="agency_type", columns="year", values=col).reindex(
            index=types, columns=years
        )

    z, text, rows, amount = grid(column), grid("sources"), grid("rows"), grid("amount")
    custom = [
        [
            "nothing loaded"
            if not isinstance(t, str)
            else f"{t} · {int(r):,} rows · {format_gbp(a * 1e9)}"
            for t, r, a in zip(trow, rrow, arow, strict=True)
        ]
        for trow, rrow, arow in zip(
            text.values.tolist(), rows.values.tolist(), amount.values.tolist(), strict=True
        )
    ]
    zvals = z.values.tolist()
    fig = go.Figure(
        go.Heatmap(
            z=[[None if pd.isna(v) else v for v in row] for row in zvals],
            x=years,
            y=types,
            colorscale="Cividis",
            zmin=0,
            xgap=2,
            ygap=2,
            customdata=custom,
            hovertemplate="<b>%{y}</b>, %{x}<br>%{customdata}<extra></extra>",
            colorbar={
                "title": {"text": legend},
                "tickformat": tickformat,
                **({"dtick": 1} if value == "sources" else {}),
            },
        )
    )
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        font=FONT,
        height=150 + 26 * len(types),
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
        paper_bgcolor="white",
        plot_bgcolor="#f1f2f4",
        xaxis={"type": "category", "side": "top"},
        yaxis={"automargin": True},
        meta={"value": value},
    )
    return fig
