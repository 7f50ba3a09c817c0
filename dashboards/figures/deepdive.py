"""Deep-dive figures: a theme's spend by service line and its two splits. Pure: no Dash, no I/O.

Inputs are the frames ``ThemeBreakdown.by_function()`` and ``ThemeBreakdown.split(column)``
return (amounts in pence). Every bar says its amount in pounds, so the charts read without axes;
colours are Okabe-Ito (safe for the common colour-vision deficiencies).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
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
    groups, pence = _sum_by(by_function, ["function", "line"])
    functions_of = [k[0] for k in groups]
    lines = [k[1] for k in groups]
    gbp = pence / 100
    total = float(gbp.sum())
    # the same line name can appear under two functions: label by function and line
    seen = Counter(lines)
    labels = [
        line if seen[line] == 1 else f"{line} ({fn})"
        for fn, line in zip(functions_of, lines, strict=True)
    ]
    sizes = pd.Series(gbp)
    order = [labels[i] for i in sizes.sort_values(ascending=True).index]  # top = largest

    bars = []
    largest_first = sizes.sort_values(ascending=False).index
    functions = list(dict.fromkeys(functions_of[i] for i in largest_first))
    for i, fn in enumerate(functions):
        part = [j for j, f in enumerate(functions_of) if f == fn]
        values = gbp[part].tolist()
        texts = [format_gbp(v) for v in values]
        shares = [format_share(v, total) for v in values]
        bars.append(
            go.Bar(
                x=values,
                y=[labels[j] for j in part],
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
    lo, hi = min(0.0, float(gbp.min())), max(0.0, float(gbp.max()))
    span = (hi - lo) or 1.0
    layout = {
        "title": {"text": f"{title}: {format_gbp(total)}", "x": 0, "xanchor": "left"},
        "font": FONT,
        "height": 170 + 30 * len(gbp),
        "margin": {"l": 10, "r": 20, "t": 50, "b": 10},
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
        "barmode": "overlay",
        "bargap": 0.25,
        "legend": {"orientation": "h", "y": -0.02, "yanchor": "top", "x": 0},
        "xaxis": {
            "visible": False,
            "range": [lo - (0.2 * span if lo < 0 else 0), hi + 0.22 * span],
        },
        "yaxis": {
            "automargin": True,
            "ticksuffix": "  ",
            "categoryorder": "array",
            "categoryarray": order,
        },
        "meta": {"total_gbp": total},
    }
    # one constructor call: several times faster than add_trace / update_layout, same figure
    fig = go.Figure(data=bars, layout=layout)
    fig.layout.legend.update(title=None)  # no legend title (a constructor drops the None)
    return fig


def split_bar(split: pd.DataFrame, column: str, title: str | None = None) -> go.Figure:
    """One stacked bar of the theme total split by ``column`` ('mode' or 'control'); each part
    named with its amount and share in the legend and on the bar."""
    title = title or SPLIT_TITLES.get(column, column)
    if split.empty:
        return empty_figure(f"No theme spend to split ({title.lower()}).")
    groups, sums = _sum_by(split, [column])
    pence = pd.Series(sums).sort_values(ascending=False)  # largest first
    names = [k[0] for k in groups]
    gbp = pence.to_numpy() / 100
    total = float(gbp.sum())
    spare = [c for c in _SERIES if c not in SPLIT_COLOURS.values()]

    bars = []
    for i, (name, value) in enumerate(zip([names[j] for j in pence.index], gbp, strict=True)):
        share = format_share(float(value), total)
        words = f"{str(name).capitalize()}: {format_gbp(float(value))} ({share})"
        bars.append(
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
    layout = {
        "title": {"text": f"{title}: {format_gbp(total)}", "x": 0, "xanchor": "left"},
        "font": FONT,
        "barmode": "relative",
        "bargap": 0.3,
        "height": 165,
        "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
        "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "legend": {"orientation": "h", "y": -0.05, "yanchor": "top", "x": 0},
        "uniformtext": {"minsize": 11, "mode": "hide"},
        "meta": {"total_gbp": total},
    }
    return go.Figure(data=bars, layout=layout)


def _sum_by(frame: pd.DataFrame, keys: list[str]) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """``amount_pence`` summed by ``keys`` (missing values named UNSPECIFIED), groups in order
    of first appearance, sums as int64. The frames are a few rows: plain Python beats pandas'
    per-call cost."""
    columns = [[UNSPECIFIED if _missing(v) else str(v) for v in frame[k].tolist()] for k in keys]
    sums: dict[tuple[str, ...], Any] = {}
    for key, amount in zip(zip(*columns, strict=True), frame["amount_pence"].tolist(), strict=True):
        sums[key] = sums.get(key, 0) + amount
    return list(sums), np.array(list(sums.values())).astype(np.int64)


def _missing(value: object) -> bool:
    """A missing value as ``fillna`` sees it (None, NaN, NA, NaT)."""
    return (
        value is None
        or (isinstance(value, float | np.floating) and bool(np.isnan(value)))
        or (value is pd.NA or value is pd.NaT)
    )
