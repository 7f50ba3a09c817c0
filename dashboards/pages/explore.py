"""Explore data: every line of a place's count with its provenance, paged on the server.

``/explore?place=Kent&year=2010-11&agency=Councils&basis=actual&q=school&sort=amount_gbp:desc``.
One line is one ledger row's share in one district: its source, file and row, its basis
(apportioned or actual) and the driver that shared it. The grid asks the server for 100 rows
at a time (AG Grid's infinite row model), sorted and filtered there, so it stays fast.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update

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
from dashboards.components.layout import error_page
from dashboards.components.prices import terms_field, terms_switch, terms_value
from dashboards.figures.money import format_count, format_gbp
from totalplace.errors import TotalPlaceError

dash.register_page(
    __name__, path="/explore", name="Explore data", title="Explore data · totalplace", order=50
)

P = "explore-"
PLACE, YEAR, AGENCY, FUNCTION, BASIS, TEXT, URL = (
    f"{P}{k}" for k in ("place", "year", "agency", "function", "basis", "text", "url")
)
GRID, SORT, NOTE, TABLE, PURGED = (f"{P}{k}" for k in ("grid", "sort", "note", "table", "purged"))
TERMS = f"{P}terms"
ALL = "all"
BASIS_OPTIONS = [
    (ALL, "Any basis"),
    ("apportioned", "Apportioned (CRA by driver)"),
    ("actual", "Actual (own outturn)"),
]
DEFAULT_SORT = "amount_gbp:desc"
BLOCK = 100
_MONEY = {
    "function": "params.value == null ? '' : (params.value < 0 ? '-£' : '£')"
    " + d3.format(',.2f')(Math.abs(params.value))"
}
COLUMNS: list[dict[str, Any]] = [
    {"field": "area_name", "headerName": "District", "width": 150},
    {"field": "agency", "headerName": "Agency (as published)", "width": 220},
    {"field": "agency_type", "headerName": "Agency type", "width": 170},
    {"field": "function", "headerName": "Function (COFOG)", "width": 170},
    {"field": "subfunction", "headerName": "Sub-function", "width": 170},
    {"field": "service_line", "headerName": "Service line", "width": 150},
    {"field": "description", "headerName": "Description", "width": 220},
    {"field": "basis", "headerName": "Basis", "width": 110},
    {"field": "driver", "headerName": "Driver", "width": 220},
    {"field": "confidence", "headerName": "Confidence", "width": 170},
    {"field": "source_id", "headerName": "Source", "width": 110},
    {"field": "file", "headerName": "File", "width": 200},
    {"field": "row", "headerName": "Row", "width": 80, "type": "rightAligned"},
    {
        "field": "amount_gbp",
        "headerName": "Amount",
        "width": 140,
        "type": "rightAligned",
        "valueFormatter": _MONEY,
        "pinned": "right",
    },
]
SORTABLE = tuple(c["field"] for c in COLUMNS)


def _parse_sort(sort: Any) -> tuple[tuple[str, bool], ...]:
    """'amount_gbp:desc,agency:asc' -> (('amount_gbp', False), ('agency', True))."""
    out = []
    for part in str(sort or "").split(","):
        col, _, direction = part.partition(":")
        if col in SORTABLE:
            out.append((col, direction != "desc"))
    return tuple(out) or (("amount_gbp", False),)


def _sort_text(sort_model: list[dict[str, Any]] | None) -> str:
    return ",".join(
        f"{m['colId']}:{m.get('sort', 'asc')}"
        for m in (sort_model or [])
        if m.get("colId") in SORTABLE
    )


def _columns(sort: tuple[tuple[str, bool], ...]) -> list[dict[str, Any]]:
    first = dict(sort[:1])
    return [
        {**c, **({"sort": "asc" if first[c["field"]] else "desc"} if c["field"] in first else {})}
        for c in COLUMNS
    ]


def layout(
    place: str | None = None,
    year: str | None = None,
    agency: str | None = None,
    function: str | None = None,
    basis: str | None = None,
    q: str | None = None,
    sort: str | None = None,
    terms: str | None = None,
    **_other: Any,
) -> html.Div:
    """The grid for the view in the URL query."""
    try:
        places, years = data.pilot_names(), data.years()
        types = [(ALL, "Any agency type"), *((t, t) for t in data.agency_types())]
        fns = [(ALL, "Any function"), *((label, label) for _, label in data.function_options())]
    except TotalPlaceError as exc:
        return error_page("Explore data", str(exc))
    order = _parse_sort(sort)
    return html.Div(
        [
            dcc.Location(id=URL, refresh=False),
            dcc.Store(id=PURGED),
            dcc.Store(
                id=SORT,
                data=_sort_text([{"colId": c, "sort": "asc" if a else "desc"} for c, a in order]),
            ),
            html.H1("Explore data"),
            html.P(
                "Every line of the count with where it came from: one ledger row's share in one "
                "district, its source file and row, whether it is apportioned or actual, and the "
                "driver that shared it. Sort by any column; filter with the controls.",
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
                    "Agency type",
                    dropdown(AGENCY, types, choose(agency, [v for v, _ in types], ALL)),
                ),
                control(
                    "Function", dropdown(FUNCTION, fns, choose(function, [v for v, _ in fns], ALL))
                ),
                control(
                    "Basis",
                    dropdown(
                        BASIS,
                        BASIS_OPTIONS,
                        choose(basis, [v for v, _ in BASIS_OPTIONS], ALL),
                        searchable=False,
                    ),
                ),
                control(
                    "Search",
                    dcc.Input(
                        id=TEXT,
                        type="search",
                        value=q or "",
                        debounce=True,
                        placeholder="agency, description, district…",
                        className="text-input",
                    ),
                ),
                terms_switch(TERMS, terms),
            ),
            html.P(id=NOTE, className="note", role="status"),
            dag.AgGrid(
                id=GRID,
                columnDefs=_columns(order),
                rowModelType="infinite",
                defaultColDef={
                    "tooltipValueGetter": {"function": "params.value"},
                    "sortable": True,
                    "resizable": True,
                    "filter": False,
                    "wrapText": False,
                },
                dashGridOptions={
                    "pagination": True,
                    "paginationPageSize": 20,
                    "paginationPageSizeSelector": False,
                    "cacheBlockSize": BLOCK,
                    "maxBlocksInCache": 20,
                    "infiniteInitialRowCount": BLOCK,
                    "rowBuffer": 0,
                    "multiSortKey": "ctrl",
                    "sortingOrder": ["desc", "asc"],
                    "tooltipShowDelay": 300,
                },
                className="ag-theme-alpine",
                style={"width": "100%", "height": "945px"},
            ),
            table_downloads(TABLE, "Download the filtered lines"),
        ],
        className="page",
    )


url_sync(
    URL,
    [
        ("place", PLACE),
        ("year", YEAR),
        ("agency", AGENCY),
        ("function", FUNCTION),
        ("basis", BASIS),
        ("q", TEXT),
        ("sort", SORT, "data"),
        terms_field(TERMS),
    ],
)


def _filter(
    agency: str | None, function: str | None, basis: str | None, text: str | None
) -> data.LineFilter:
    def val(v: str | None) -> str | None:
        return None if v in (None, "", ALL) else v

    return data.LineFilter(
        agency_type=val(agency),
        function=val(function),
        basis=val(basis),
        text=val((text or "").strip()),
    )


def _records(frame: Any) -> list[dict[str, Any]]:
    out = (
        frame.drop(columns=["amount_pence"])
        .astype("object")
        .where(frame.drop(columns=["amount_pence"]).notna(), None)
    )
    return out.to_dict("records")


@callback(
    Output(GRID, "getRowsResponse"),
    Output(SORT, "data"),
    Output(NOTE, "children"),
    Input(GRID, "getRowsRequest"),
    State(PLACE, "value"),
    State(YEAR, "value"),
    State(AGENCY, "value"),
    State(FUNCTION, "value"),
    State(BASIS, "value"),
    State(TEXT, "value"),
    State(SORT, "data"),
    State(TERMS, "value"),
)
def rows(
    request: dict[str, Any] | None,
    place: str | None,
    year: str | None,
    agency: str | None,
    function: str | None,
    basis: str | None,
    text: str | None,
    sort_now: str | None,
    terms: str | None = None,
) -> tuple[Any, Any, Any]:
    """One block of rows, sorted and filtered on the server, and how many match (in cash or
    real terms: a positive factor keeps the order)."""
    if not request or not place or not year:
        return no_update, no_update, no_update
    model = request.get("sortModel") or []
    sort_text = _sort_text(model) or DEFAULT_SORT
    try:
        flt, order = _filter(agency, function, basis, text), _parse_sort(sort_text)
        page, total = data.lines_page(
            place,
            year,
            flt,
            order,
            int(request.get("startRow", 0)),
            int(request.get("endRow", BLOCK)),
        )
        result = data.count_in(place, year, terms_value(terms))
        page = data.in_terms(page, terms_value(terms), year)
        matched_lines = data.filtered_lines(place, year, flt, order)
        matched = data.in_terms(matched_lines, terms_value(terms), year)["amount_pence"].sum()
    except TotalPlaceError as exc:
        return {"rowData": [], "rowCount": 0}, no_update, str(exc)
    every = len(result.lines) if result.lines is not None else 0
    note = (
        f"{format_count(total)} of the {format_count(every)} lines in the count of {place}, "
        f"{year} match, adding up to {format_gbp(matched / 100)} of "
        f"{format_gbp(result.total_gbp)}{data.terms_label(terms)}."
    )
    return (
        {"rowData": _records(page), "rowCount": total},
        sort_text if sort_text != sort_now else no_update,
        note,
    )


clientside_callback(
    """
    function () {
        if (window.dash_ag_grid && window.dash_ag_grid.getApiAsync) {
            window.dash_ag_grid.getApiAsync('GRID_ID').then(api => api.purgeInfiniteCache());
        }
        return window.dash_clientside.no_update;
    }
    """.replace("GRID_ID", GRID),
    Output(PURGED, "data"),
    Input(PLACE, "value"),
    Input(YEAR, "value"),
    Input(AGENCY, "value"),
    Input(FUNCTION, "value"),
    Input(BASIS, "value"),
    Input(TEXT, "value"),
    Input(TERMS, "value"),
    prevent_initial_call=True,
)


@callback(
    download_output(TABLE),
    *download_inputs(TABLE),
    State(PLACE, "value"),
    State(YEAR, "value"),
    State(AGENCY, "value"),
    State(FUNCTION, "value"),
    State(BASIS, "value"),
    State(TEXT, "value"),
    State(SORT, "data"),
    State(TERMS, "value"),
    prevent_initial_call=True,
)
def download_table(
    _csv: int,
    _xlsx: int,
    _notes: int,
    place: str | None,
    year: str | None,
    agency: str | None,
    function: str | None,
    basis: str | None,
    text: str | None,
    sort: str | None,
    terms: str | None = None,
) -> Any:
    """All the filtered lines (not only the page shown) as CSV / XLSX / notes."""
    fmt = clicked_format(TABLE)
    if not fmt or not place or not year:
        return no_update
    flt = _filter(agency, function, basis, text)
    frame = data.filtered_lines(place, year, flt, _parse_sort(sort))
    frame = data.in_terms(frame, terms_value(terms), year)
    result = data.count_in(place, year, terms_value(terms))
    notes = [
        f"totalplace count lines: {place}, {year}; filter: "
        + (", ".join(f"{k}={v}" for k, v in vars(flt).items() if v) or "none")
        + ".",
        "One row = one ledger row's share in one district. amount_pence is exact; amount_gbp = "
        "amount_pence / 100. source_id, file and row locate the published figure.",
        f"Release: {result.release}.",
        *result.caveats,
    ]
    return send_table(frame, file_stem("lines", place, year), fmt, notes)
