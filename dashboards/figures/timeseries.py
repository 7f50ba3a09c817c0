"""A place's spend over the years beside England and the other pilots, with the breaks in the
series drawn where they fall: a change of HM Treasury CRA release (dashed line) and the years in
which councils' own outturn replaces CRA (shaded). Pure: frames in, a figure out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go

from dashboards.figures.breakdown import OKABE_ITO
from dashboards.figures.compare import compare_lines

if TYPE_CHECKING:
    from totalplace.count.series import SeriesBreak

#: Fill of the years with councils' own outturn.
OUTTURN_FILL = "rgba(0, 158, 115, 0.12)"


def timeseries_figure(
    frame: pd.DataFrame,
    measure: str,
    title: str,
    breaks: Sequence[SeriesBreak] = (),
    outturn_years: Iterable[str] = (),
) -> go.Figure:
    """``compare_lines`` of ``frame`` (name, year, role, amount_gbp, per_head_gbp) over the
    years in order, with each release break a dashed vertical line between its two years and
    each outturn year shaded; both explained in a note under the title."""
    fig = compare_lines(frame, measure, title)
    years = sorted(str(y) for y in frame["year"].unique()) if len(frame) else []
    if not years:
        return fig
    at = {y: i for i, y in enumerate(years)}
    fig.update_xaxes(categoryorder="array", categoryarray=years)
    notes: list[str] = []
    for b in breaks:
        if b.kind != "release" or b.before not in at:
            continue
        x = at[b.before] + 0.5
        fig.add_shape(
            type="line",
            x0=x,
            x1=x,
            y0=0,
            y1=1,
            xref="x",
            yref="paper",
            line={"color": OKABE_ITO["black"], "width": 1.5, "dash": "dash"},
            name=f"release break {b.before}/{b.after}",
        )
        notes.append(f"dashed line: {b.text}")
    shaded = [y for y in outturn_years if y in at]
    for y in shaded:
        fig.add_shape(
            type="rect",
            x0=at[y] - 0.5,
            x1=at[y] + 0.5,
            y0=0,
            y1=1,
            xref="x",
            yref="paper",
            fillcolor=OUTTURN_FILL,
            line={"width": 0},
            layer="below",
            name=f"outturn {y}",
        )
    if shaded:
        notes.append("shaded: years where councils' own outturn replaces CRA")
    if notes:
        fig.add_annotation(
            text="; ".join(notes),
            xref="paper",
            yref="paper",
            x=0,
            y=1.0,
            xanchor="left",
            yanchor="bottom",
            showarrow=False,
            font={"size": 11, "color": "#444"},
        )
        fig.update_layout(margin={"t": 80})
    return fig
