"""Bar charts of a count broken down by agency type or by function (COFOG division).

Inputs are the frames ``CountResult.by("agency_type")`` and ``CountResult.by("function")``
return: one row per category with ``amount_pence``. Every bar is labelled in pounds, so the chart
reads without its axis, and the bars add up to the count's total.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from dashboards.figures.money import format_gbp, format_share
from dashboards.figures.plain import figure

#: Okabe-Ito colours (safe for the common colour-vision deficiencies).
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
}
#: What a missing category is called on a chart.
UNSPECIFIED = "Not specified"
FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13}


def empty_figure(message: str) -> go.Figure:
    """A figure that says ``message`` in words (instead of an empty chart); built without
    plotly's validation (it was ~4 ms a figure, three times in a page's layout)."""
    return figure([], _empty_layout(message))


def placeholder(message: str = "Loading…") -> dict[str, Any]:
    """`empty_figure` as the JSON a page's layout sends for a graph until its callback
    answers: without plotly's default template (7.5 kB a figure, with nothing to draw) and
    without making a figure object (~1.5 ms)."""
    return {"data": [], "layout": _empty_layout(message)}


def _empty_layout(message: str) -> dict[str, Any]:
    return {
        "annotations": [
            {
                "text": message,
                "x": 0.5,
                "y": 0.5,
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "font": {**FONT, "size": 15, "color": "#444"},
            }
        ],
        "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
        "height": 220,
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "meta": {"empty": True, "message": message},
    }


def agency_bar(rows_by_agency: pd.DataFrame, title: str = "Spend by agency type") -> go.Figure:
    """Horizontal bars of spend by agency type, largest at the top."""
    return _hbar(rows_by_agency, "agency_type", title, OKABE_ITO["blue"])


def function_bar(
    rows_by_function: pd.DataFrame, title: str = "Spend by function (COFOG division)"
) -> go.Figure:
    """Horizontal bars of spend by function, largest at the top."""
    return _hbar(rows_by_function, "function", title, OKABE_ITO["orange"])


def _hbar(frame: pd.DataFrame, category: str, title: str, colour: str) -> go.Figure:
    if frame.empty:
        return empty_figure(f"No spend to show for {title.lower()}.")
    data = frame[[category, "amount_pence"]].copy()
    data[category] = data[category].fillna(UNSPECIFIED).astype(str)
    data = data.groupby(category, sort=False)["amount_pence"].sum().reset_index()
    data = data.sort_values("amount_pence", ascending=True, ignore_index=True)  # top = largest
    gbp = data["amount_pence"].astype("int64") / 100
    total = float(gbp.sum())
    labels = [format_gbp(v) for v in gbp]
    shares = [format_share(v, total) for v in gbp]
    colours = [colour if v >= 0 else OKABE_ITO["vermillion"] for v in gbp]

    bar = {
        "type": "bar",
        "x": gbp.tolist(),
        "y": data[category].tolist(),
        "orientation": "h",
        "marker": {"color": colours},
        "text": labels,
        "textposition": "outside",
        "cliponaxis": False,
        "customdata": [list(pair) for pair in zip(labels, shares, strict=True)],
        "hovertemplate": "<b>%{y}</b><br>%{customdata[0]} (%{customdata[1]} of the count)"
        "<extra></extra>",
        "name": title,
    }
    lo, hi = min(0.0, float(gbp.min())), max(0.0, float(gbp.max()))
    span = (hi - lo) or 1.0
    layout = {
        "title": {"text": f"{title}: {format_gbp(total)}", "x": 0, "xanchor": "left"},
        "font": FONT,
        "height": 110 + 30 * len(data),
        "margin": {"l": 10, "r": 20, "t": 50, "b": 10},
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
        "showlegend": False,
        "bargap": 0.25,
        "xaxis": {
            "visible": False,
            # room for the outside labels on both sides of zero
            "range": [lo - (0.2 * span if lo < 0 else 0), hi + 0.22 * span],
        },
        "yaxis": {"automargin": True, "ticksuffix": "  "},
        "meta": {"total_gbp": total},
    }
    return figure([bar], layout)
