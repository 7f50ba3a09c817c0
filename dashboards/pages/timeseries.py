"""Over the years: one place's count in every year the store holds (2004-05 to 2013-14), total
and per head, in cash or real terms, beside England and the other pilots.

``/timeseries?place=Kent&terms=real``. The breaks in the series are marked where they fall: a
change of HM Treasury CRA release (CRA 2010 to CRA 2014) and the years in which councils' own
outturn replaces CRA's local-government spend.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboards import data
from dashboards.components.controls import choose, control, controls, dropdown, url_sync
from dashboards.components.downloads import (
    clicked_format,
    download_inputs,
    download_output,
    file_stem,
    send_table,
    table_downloads,
)
from dashboards.components.layout import error_page, figure_panel, grid
from dashboards.components.prices import terms_field, terms_switch, terms_value
from dashboards.figures.breakdown import empty_figure
from dashboards.figures.timeseries import timeseries_figure
from totalplace.errors import TotalPlaceError

dash.register_page(
    __name__,
    path="/timeseries",
    name="Over the years",
    title="Over the years · totalplace",
    order=15,
)

P = "timeseries-"
PLACE, TERMS, URL, TOTAL, PER_HEAD, TABLE, NOTE = (
    f"{P}{k}" for k in ("place", "terms", "url", "total", "per-head", "table", "note")
)
_GBP = {"function": "params.value == null ? '' : '£' + d3.format(',.0f')(params.value)"}


def grid_columns() -> list[dict[str, Any]]:
    """The table's columns, the real ones labelled with their prices year."""
    real = data.terms_label("real") or " (real: no deflators loaded)"
    money = [
        ("amount_gbp", "Total (cash)"),
        ("real_gbp", "Total" + real),
        ("per_head_gbp", "Per head (cash)"),
        ("real_per_head_gbp", "Per head" + real),
    ]
    return [
        {"field": "year", "headerName": "Year", "width": 100, "sort": "asc"},
        *({"field": f, "headerName": h, "flex": 1, "valueFormatter": _GBP} for f, h in money),
        {"field": "population", "headerName": "Population", "flex": 1},
        {"field": "release", "headerName": "CRA release", "flex": 1},
        {"field": "outturn", "headerName": "Councils' outturn", "flex": 1},
    ]


def layout(place: str | None = None, terms: str | None = None, **_other: Any) -> html.Div:
    """The series of the place in the URL query."""
    try:
        places = data.pilot_names()
    except TotalPlaceError as exc:
        return error_page("Over the years", str(exc))
    return html.Div(
        [
            dcc.Location(id=URL, refresh=False),
            html.H1("Over the years"),
            html.P(
                "The place's count in every year the store holds, beside England and the other "
                "Total Place pilots. Read across the marked breaks with care: the figures on "
                "either side are not made the same way.",
                className="lead",
            ),
            controls(
                control(
                    "Place", dropdown(PLACE, places, choose(place, places, places[0])), wide=True
                ),
                terms_switch(TERMS, terms),
            ),
            html.P(id=NOTE, className="note"),
            html.Div(
                [
                    figure_panel(TOTAL, "totalplace-timeseries-total"),
                    figure_panel(PER_HEAD, "totalplace-timeseries-per-head"),
                ],
                className="two-columns",
            ),
            html.H2("The place, year by year"),
            grid(TABLE, grid_columns()),
            table_downloads(TABLE),
        ],
        className="page",
    )


url_sync(URL, [("place", PLACE), terms_field(TERMS)])


def _table(place: str) -> Any:
    """The place's own years, cash and (where deflators are loaded) real side by side."""
    own = data.place_series(place)
    own = own[own["role"] == "place"]
    real = data.in_terms(own, "real" if data.prices_year() else "cash")
    return own.assign(real_gbp=real["amount_gbp"], real_per_head_gbp=real["per_head_gbp"])


@callback(
    Output(TOTAL, "figure"),
    Output(PER_HEAD, "figure"),
    Output(TABLE, "rowData"),
    Output(NOTE, "children"),
    Input(PLACE, "value"),
    Input(TERMS, "value"),
)
def update_series(place: str | None, terms: str | None) -> tuple[Any, ...]:
    """Total and per-head lines with the breaks marked, the table and a note on the breaks."""
    if not place:
        fig = empty_figure("Choose a place.")
        return fig, fig, [], ""
    try:
        frame = data.in_terms(data.place_series(place), terms_value(terms))
        table = _table(place)
    except TotalPlaceError as exc:
        fig = empty_figure(str(exc))
        return fig, fig, [], str(exc)
    own = frame[frame["role"] == "place"]
    breaks = data.series_breaks(own)
    outturn = own.loc[own["outturn"].astype(bool), "year"].tolist()
    label = data.terms_label(terms)
    figs = [
        timeseries_figure(frame, m, f"{what}{label}: {place}", breaks, outturn)
        for m, what in (("total", "Total spend"), ("per_head", "Spend per head"))
    ]
    note = " ".join(f"{b.text[0].upper()}{b.text[1:]}." for b in breaks) or (
        "The whole series comes from one CRA release, with no councils' outturn."
    )
    cols = [c["field"] for c in grid_columns()]
    rows = table.assign(outturn=table["outturn"].map({True: "yes", False: "no"}))[cols]
    rows = rows.to_dict("records")
    return (*figs, rows, note)


@callback(
    download_output(TABLE),
    *download_inputs(TABLE),
    State(PLACE, "value"),
    prevent_initial_call=True,
)
def download_table(_csv: int, _xlsx: int, _notes: int, place: str | None) -> Any:
    """The place's years, cash and real, as CSV / XLSX / notes."""
    fmt = clicked_format(TABLE)
    if not fmt or not place:
        return no_update
    table = _table(place)
    notes = [
        f"totalplace series: {place}, every year; real = {data.prices_year()} prices "
        "(HM Treasury GDP deflators).",
        *(b.text for b in data.series_breaks(table)),
    ]
    return send_table(table, file_stem("timeseries", place), fmt, notes)
