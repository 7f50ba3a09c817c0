"""Flows: a place's count as funder -> agency type -> function, with what outturn replaced.

``/flows?place=Kent&year=2010-11&top=10``. The funder of a CRA line is the department (or other
body) that published it; of an outturn line, the council. CRA local-government current spend
that councils' own outturn replaced runs grey into its own node: it is shown, not counted.
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
from dashboards.components.layout import error_page, figure, grid
from dashboards.components.prices import terms_field, terms_switch, terms_value
from dashboards.figures.breakdown import empty_figure
from dashboards.figures.money import format_gbp
from dashboards.figures.sankey import TOP_FUNDERS, flow_sankey
from totalplace.errors import TotalPlaceError

dash.register_page(__name__, path="/flows", name="Flows", title="Flows · totalplace", order=20)

P = "flows-"
PLACE, YEAR, TOP, URL, GRAPH, TABLE, NOTE = (
    f"{P}{k}" for k in ("place", "year", "top", "url", "graph", "table", "note")
)
TERMS = f"{P}terms"
TOP_OPTIONS = [("5", "5 largest"), ("10", "10 largest"), ("15", "15 largest"), ("25", "25 largest")]
GRID_COLUMNS: list[dict[str, Any]] = [
    {"field": "funder", "headerName": "Funder", "flex": 2, "minWidth": 200},
    {"field": "agency_type", "headerName": "Agency type", "flex": 2, "minWidth": 180},
    {"field": "function", "headerName": "Function (COFOG)", "flex": 2, "minWidth": 170},
    {"field": "counted", "headerName": "Counted", "flex": 1, "minWidth": 150},
    {
        "field": "amount_gbp",
        "headerName": "Amount",
        "flex": 1,
        "minWidth": 130,
        "type": "rightAligned",
        "sort": "desc",
        "valueFormatter": {
            "function": "(params.value < 0 ? '-£' : '£')"
            " + d3.format(',.0f')(Math.abs(params.value))"
        },
    },
]


def layout(
    place: str | None = None,
    year: str | None = None,
    top: str | None = None,
    terms: str | None = None,
    **_other: Any,
) -> html.Div:
    """The flows of the place and year in the URL query."""
    try:
        places, years = data.pilot_names(), data.years()
    except TotalPlaceError as exc:
        return error_page("Flows", str(exc))
    return html.Div(
        [
            dcc.Location(id=URL, refresh=False),
            html.H1("Flows"),
            html.P(
                "How money comes together in the place: from the body that publishes the spend "
                "(a department for HM Treasury's CRA lines, the council for its own outturn), "
                "through the kind of agency that spends it, to what it is spent on.",
                className="lead",
            ),
            controls(
                control(
                    "Place", dropdown(PLACE, places, choose(place, places, places[0])), wide=True
                ),
                control(
                    "Year",
                    dropdown(
                        YEAR, years, choose(year, years, data.default_year()), searchable=False
                    ),
                ),
                control(
                    "Funders shown by name",
                    dropdown(
                        TOP,
                        TOP_OPTIONS,
                        choose(top, [v for v, _ in TOP_OPTIONS], str(TOP_FUNDERS)),
                        searchable=False,
                    ),
                ),
                terms_switch(TERMS, terms),
            ),
            html.P(id=NOTE, className="note"),
            *figure(GRAPH, "totalplace-flows"),
            html.H2("The flows, line by line"),
            grid(TABLE, GRID_COLUMNS, page_size=15),
            table_downloads(TABLE),
        ],
        className="page",
    )


url_sync(URL, [("place", PLACE), ("year", YEAR), ("top", TOP), terms_field(TERMS)])


def _rows(flows: Any) -> list[dict[str, Any]]:
    frame = flows.assign(
        counted=flows["replaced"].map({True: "replaced by councils' outturn", False: "counted"}),
        amount_gbp=flows["amount_pence"] / 100,
    )
    return frame[["funder", "agency_type", "function", "counted", "amount_gbp"]].to_dict("records")


@callback(
    Output(GRAPH, "figure"),
    Output(TABLE, "rowData"),
    Output(NOTE, "children"),
    Input(PLACE, "value"),
    Input(YEAR, "value"),
    Input(TOP, "value"),
    Input(TERMS, "value"),
)
def update_flows(
    place: str | None, year: str | None, top: str | None, terms: str | None = None
) -> tuple[Any, Any, Any]:
    """The Sankey, its table and a sentence on what was replaced, in cash or real terms,
    built once for each choice of the controls (`data.view`)."""
    return data.view(flows_view, place, year, top, terms)


def flows_view(
    place: str | None, year: str | None, top: str | None, terms: str | None = None
) -> tuple[Any, Any, Any]:
    """The answer of `update_flows` for one choice of the controls (the figure as JSON)."""
    if not place or not year:
        return empty_figure("Choose a place and a year.").to_plotly_json(), [], ""
    try:
        flows = data.in_terms(data.flows(place, year), terms_value(terms), year)
    except TotalPlaceError as exc:
        return empty_figure(str(exc)).to_plotly_json(), [], ""
    n = int(top) if top and top.isdigit() else TOP_FUNDERS
    fig = flow_sankey(flows, f"{place}, {year}{data.terms_label(terms)}", top=n)
    replaced = flows.loc[flows["replaced"], "amount_pence"].sum() / 100
    note = (
        f"Grey: {format_gbp(replaced)} of HM Treasury CRA local-government current spend that "
        "councils' own outturn replaced. It is drawn so you can see it, and is not in the count: "
        "nothing is counted twice."
        if replaced
        else f"No councils' outturn is loaded for {year}: councils' spend is CRA's, shared by "
        "drivers, and nothing was replaced."
    )
    return fig.to_plotly_json(), _rows(flows), note


@callback(
    download_output(TABLE),
    *download_inputs(TABLE),
    State(PLACE, "value"),
    State(YEAR, "value"),
    State(TERMS, "value"),
    prevent_initial_call=True,
)
def download_table(
    _csv: int, _xlsx: int, _notes: int, place: str | None, year: str | None, terms: str | None
) -> Any:
    """The flows table as CSV / XLSX / notes."""
    fmt = clicked_format(TABLE)
    if not fmt or not place or not year:
        return no_update
    flows = data.in_terms(data.flows(place, year), terms_value(terms), year)
    frame = flows.assign(amount_gbp=flows["amount_pence"] / 100).drop(columns="amount_pence")
    result = data.count_in(place, year, terms_value(terms))
    notes = [
        f"totalplace flows: {place}, {year}. Funder = the body that publishes the spend "
        "(department for CRA lines, council for outturn lines).",
        "Rows with replaced=True are CRA local-government current spend replaced by councils' "
        "own outturn: not part of the count.",
        f"Release: {result.release}.",
        *result.caveats,
    ]
    return send_table(frame, file_stem("flows", place, year), fmt, notes)
