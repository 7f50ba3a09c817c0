"""Agency profile: one agency type's (or one named agency's) spend across the 13 pilots: per
head in one year, by function, and over every year.

``/agency?type=NHS+and+health&agency=Department+of+Health&year=2010-11&place=Kent``. The
agencies offered are the bodies the ledger names under that type (departments in CRA,
councils in their outturn).
"""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
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
from dashboards.components.layout import (
    AMOUNT_COLUMNS,
    MEASURE_OPTIONS,
    error_page,
    figure_panel,
    grid,
)
from dashboards.components.prices import terms_field, terms_switch, terms_value
from dashboards.figures.breakdown import empty_figure
from dashboards.figures.compare import MEASURES, compare_lines, compare_ranked, function_stack
from totalplace.errors import TotalPlaceError

dash.register_page(
    __name__, path="/agency", name="Agency", title="Agency profile · totalplace", order=40
)

P = "agency-"
TYPE, AGENCY, YEAR, MEASURE, PLACE, URL = (
    f"{P}{k}" for k in ("type", "agency", "year", "measure", "place", "url")
)
RANKED, FUNCTIONS, LINES, TABLE, NOTE = (
    f"{P}{k}" for k in ("ranked", "functions", "lines", "table", "note")
)
TERMS = f"{P}terms"
ALL = "all"
DEFAULT_TYPE = "NHS and health"
GRID_COLUMNS: list[dict[str, Any]] = [
    {"field": "name", "headerName": "Pilot", "flex": 2, "minWidth": 220},
    {"field": "year", "headerName": "Year", "flex": 1},
    *AMOUNT_COLUMNS,
]


def layout(
    type: str | None = None,
    agency: str | None = None,
    year: str | None = None,
    measure: str | None = None,
    place: str | None = None,
    terms: str | None = None,
    **_other: Any,
) -> html.Div:
    """The profile in the URL query."""
    try:
        types, years, places = data.agency_types(), data.years(), data.pilot_names()
    except TotalPlaceError as exc:
        return error_page("Agency profile", str(exc))
    chosen = choose(
        type, types, DEFAULT_TYPE if DEFAULT_TYPE in types else (types[0] if types else None)
    )
    bodies = [(ALL, "All of this type"), *((a, a) for a in data.agencies(chosen or ""))]
    return html.Div(
        [
            dcc.Location(id=URL, refresh=False),
            html.H1("Agency profile"),
            html.P(
                "One kind of agency (or one body the ledger names) across the 13 Total Place "
                "pilots: how much it spends in each, on what, and how that changed.",
                className="lead",
            ),
            controls(
                control("Agency type", dropdown(TYPE, types, chosen), wide=True),
                control(
                    "Agency",
                    dropdown(AGENCY, bodies, choose(agency, [v for v, _ in bodies], ALL)),
                    wide=True,
                ),
                control(
                    "Year",
                    dropdown(
                        YEAR, years, choose(year, years, data.default_year()), searchable=False
                    ),
                ),
                control(
                    "Measure",
                    dropdown(
                        MEASURE,
                        MEASURE_OPTIONS,
                        choose(measure, list(MEASURES), "per_head"),
                        searchable=False,
                    ),
                ),
                control(
                    "Highlight",
                    dropdown(
                        PLACE,
                        places,
                        choose(place, places, None),
                        clearable=True,
                        placeholder="A pilot…",
                    ),
                ),
                terms_switch(TERMS, terms),
            ),
            html.P(id=NOTE, className="note"),
            html.Div(
                [
                    figure_panel(RANKED, "totalplace-agency-ranked"),
                    figure_panel(LINES, "totalplace-agency-years"),
                ],
                className="two-columns",
            ),
            figure_panel(FUNCTIONS, "totalplace-agency-functions", "panel panel-spaced"),
            html.H2("Every pilot, every year"),
            grid(TABLE, GRID_COLUMNS, page_size=14),
            table_downloads(TABLE),
        ],
        className="page",
    )


url_sync(
    URL,
    [
        ("type", TYPE),
        ("agency", AGENCY),
        ("year", YEAR),
        ("measure", MEASURE),
        ("place", PLACE),
        terms_field(TERMS),
    ],
)


@callback(
    Output(AGENCY, "options"),
    Output(AGENCY, "value"),
    Input(TYPE, "value"),
    State(AGENCY, "value"),
    prevent_initial_call=True,
)
def agency_options(agency_type: str | None, current: str | None) -> tuple[Any, Any]:
    """The bodies of the chosen type (keeping the current one if it is of that type)."""
    bodies = data.agencies(agency_type or "")
    opts = [
        {"value": ALL, "label": "All of this type"},
        *({"value": a, "label": a} for a in bodies),
    ]
    return opts, current if current in bodies else ALL


def _groups() -> tuple[tuple[str, tuple[str, ...]], ...]:
    return (*data.pilot_members().items(), data.england())


def _frames(
    agency_type: str, agency: str | None, terms: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    body = None if agency in (None, ALL) else agency
    totals = data.group_series(_groups(), agency_type=agency_type, agency=body)
    by_fn = data.group_series(_groups(), agency_type=agency_type, agency=body, by="function")
    return data.in_terms(totals, terms_value(terms)), data.in_terms(by_fn, terms_value(terms))


def _roles(frame: pd.DataFrame, place: str | None) -> pd.DataFrame:
    role = frame["name"].map(
        lambda n: "england" if n == "England" else ("place" if n == place else "pilot")
    )
    return frame.assign(role=role)


@callback(
    Output(RANKED, "figure"),
    Output(LINES, "figure"),
    Output(FUNCTIONS, "figure"),
    Output(TABLE, "rowData"),
    Output(NOTE, "children"),
    Input(TYPE, "value"),
    Input(AGENCY, "value"),
    Input(YEAR, "value"),
    Input(MEASURE, "value"),
    Input(PLACE, "value"),
    Input(TERMS, "value"),
)
def update_profile(
    agency_type: str | None,
    agency: str | None,
    year: str | None,
    measure: str | None,
    place: str | None,
    terms: str | None = None,
) -> tuple[Any, ...]:
    """The ranking, the years, the functions, the table and a note on what is included."""
    if not agency_type or not year:
        fig = empty_figure("Choose an agency type and a year.")
        return fig, fig, fig, [], ""
    measure = measure if measure in MEASURES else "per_head"
    try:
        totals, by_fn = _frames(agency_type, agency, terms)
    except TotalPlaceError as exc:
        fig = empty_figure(str(exc))
        return fig, fig, fig, [], ""
    who = agency if agency and agency != ALL else agency_type
    label = MEASURES[measure][1] + data.terms_label(terms)
    totals = _roles(totals, place)
    one_year = totals[totals["year"] == year]
    if not one_year["amount_gbp"].abs().sum():
        fig = empty_figure(f"No spend by {who} in the pilots in {year}.")
        ranked = fig
    else:
        ranked = compare_ranked(one_year, measure, f"{label}: {who}, {year}")
    lines = compare_lines(
        totals[totals["name"] != "England"], measure, f"{label}: {who}, every year"
    )
    pilots_fn = by_fn[(by_fn["year"] == year) & (by_fn["name"] != "England")]
    functions = function_stack(pilots_fn, measure, f"{label} by function: {who}, {year}", place)
    note = (
        f"{who}: spend in the count (CRA apportioned by drivers, or the body's own outturn where "
        f"loaded). {data.population_sentence()}"
    )
    rows = totals[totals["name"] != "England"]
    rows = rows[["name", "year", "population", "amount_gbp", "per_head_gbp"]].to_dict("records")
    return ranked, lines, functions, rows, note


@callback(
    download_output(TABLE),
    *download_inputs(TABLE),
    State(TYPE, "value"),
    State(AGENCY, "value"),
    State(TERMS, "value"),
    prevent_initial_call=True,
)
def download_table(
    _csv: int,
    _xlsx: int,
    _notes: int,
    agency_type: str | None,
    agency: str | None,
    terms: str | None = None,
) -> Any:
    """Every pilot and year, by function, as CSV / XLSX / notes."""
    fmt = clicked_format(TABLE)
    if not fmt or not agency_type:
        return no_update
    _, by_fn = _frames(agency_type, agency, terms)
    who = agency if agency and agency != ALL else agency_type
    cols = [
        "year",
        "name",
        "function",
        "population",
        "population_year",
        "amount_gbp",
        "per_head_gbp",
    ]
    notes = [
        f"totalplace agency profile: {who} in the 13 Total Place pilots and England, by "
        f"function{data.terms_label(terms) or ' (cash)'}.",
        "Spend: the count's lines (CRA apportioned by drivers; own outturn where loaded).",
        "Sources: HM Treasury Country and Regional Analysis; DCLG revenue outturn; ONS "
        "population estimates (Open Government Licence v3.0).",
    ]
    return send_table(by_fn[cols], file_stem("agency", who), fmt, notes)
