"""Place overview: the high-level count of one place and year, by agency and function, and a map.

The view is shareable: ``/?place=Kent&year=2010-11`` opens it; changing a control rewrites the
URL (without reloading the page). Callbacks are thin: they ask ``dashboards.data`` and hand the
answer to the pure figure functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboards import data
from dashboards.components import geomap
from dashboards.components.downloads import (
    clicked_format,
    download_inputs,
    download_output,
    figure_downloads,
    file_stem,
    graph_config,
    send_table,
    table_downloads,
)
from dashboards.components.geomap import merge_geometry
from dashboards.components.kpi import kpi_card, kpi_row
from dashboards.components.prices import terms_switch, terms_value
from dashboards.figures.breakdown import agency_bar, empty_figure, function_bar, placeholder
from dashboards.figures.maps import area_choropleth, view_for
from dashboards.figures.money import format_count, format_gbp, format_per_head, format_share
from totalplace.errors import TotalPlaceError

if TYPE_CHECKING:
    from totalplace.count.result import CountResult

dash.register_page(
    __name__, path="/", name="Place overview", title="Place overview · totalplace", order=0
)

PLACE, YEAR, URL = "overview-place", "overview-year", "overview-url"
TERMS = "overview-terms"
MAP_GEO, MAP_FIGURE = {"district": "overview-map-geo"}, "overview-map-figure"
MAP_SENTENCE = (
    "Per-head spend is flat within a region while population is the only driver: CRA gives spend "
    "by region, and it is shared among districts by population."
)
NO_COUNCILS_OUTTURN = (
    "Councils' own outturn is not loaded for {year}, so there is no “of which reported by "
    "councils” figure (the count's notes name the years that have it)."
)
GRID_COLUMNS: list[dict[str, Any]] = [
    {"field": "agency_type", "headerName": "Agency type", "flex": 2, "minWidth": 180},
    {"field": "function", "headerName": "Function (COFOG)", "flex": 2, "minWidth": 170},
    {"field": "basis", "headerName": "Basis", "flex": 1, "minWidth": 105},
    {"field": "driver", "headerName": "Driver", "flex": 2, "minWidth": 180},
    {"field": "confidence", "headerName": "Confidence", "flex": 1.5, "minWidth": 150},
    {"field": "source_id", "headerName": "Source", "flex": 1, "minWidth": 100},
    {
        "field": "amount_gbp",
        "headerName": "Amount",
        "flex": 1,
        "minWidth": 150,
        "type": "rightAligned",
        "sort": "desc",
        "valueFormatter": {
            "function": "(params.value < 0 ? '-£' : '£')"
            " + d3.format(',.0f')(Math.abs(params.value))"
        },
    },
]


SOURCE_COLUMNS: list[dict[str, Any]] = [
    {"field": "file", "headerName": "File", "flex": 2, "minWidth": 200},
    {"field": "row", "headerName": "Row", "flex": 0.6, "minWidth": 80, "type": "rightAligned"},
    {"field": "agency", "headerName": "Agency", "flex": 1.5, "minWidth": 150},
    {"field": "description", "headerName": "Line", "flex": 2, "minWidth": 200},
    *(
        {
            "field": f,
            "headerName": h,
            "flex": 1,
            "minWidth": 140,
            "type": "rightAligned",
            "valueFormatter": GRID_COLUMNS[-1]["valueFormatter"],
        }
        for f, h in (("line_gbp", "Line amount"), ("taken_gbp", "Taken"))
    ),
    {
        "field": "share",
        "headerName": "Share taken",
        "flex": 1,
        "minWidth": 110,
        "type": "rightAligned",
        "valueFormatter": {
            "function": "params.value == null ? '' : d3.format('.4%')(params.value)"
        },
    },
]
SOURCES_PROMPT = "Click a row of the count to see the source lines behind it."


def layout(
    place: str | None = None, year: str | None = None, terms: str | None = None, **_other: Any
) -> html.Div:
    """The page for ``place`` and ``year`` from the URL query (defaults when absent or unknown)."""
    try:
        places = data.pilot_names()
        years = data.years()
        default_year = data.default_year()
    except TotalPlaceError as exc:
        return html.Div([html.H1("Place overview"), html.P(str(exc), className="error")])
    place = place if place in places else (places[0] if places else None)
    year = year if year in years else default_year

    return html.Div(
        [
            dcc.Location(id=URL, refresh=False),
            html.H1("Place overview"),
            html.P(
                "A high-level count of public spending in a Total Place pilot: HM Treasury's "
                "regional spend shared among districts by drivers, with each figure's basis, "
                "driver and source.",
                className="lead",
            ),
            html.Div(
                [
                    _control(
                        "Place",
                        dcc.Dropdown(id=PLACE, options=list(places), value=place, clearable=False),
                    ),
                    _control(
                        "Year",
                        dcc.Dropdown(
                            id=YEAR,
                            options=list(years),
                            value=year,
                            clearable=False,
                            searchable=False,
                        ),
                    ),
                    terms_switch(TERMS, terms),
                ],
                className="controls",
            ),
            dcc.Loading(
                html.Div(
                    [html.Div(id="overview-kpis"), html.P(id="overview-councils", className="note")]
                ),
                type="dot",
            ),
            html.Div(
                [
                    html.Div(
                        [
                            dcc.Loading(_graph("overview-agency")),
                            _figure_downloads("overview-agency"),
                        ],
                        className="panel",
                    ),
                    html.Div(
                        [
                            dcc.Loading(_graph("overview-function")),
                            _figure_downloads("overview-function"),
                        ],
                        className="panel",
                    ),
                ],
                className="two-columns",
            ),
            html.H2("Spend per head across the region"),
            html.P(MAP_SENTENCE, className="note", id="overview-map-note"),
            html.P(
                "The place's districts are outlined in orange; hover a district for its figure.",
                className="note",
            ),
            *geomap.stores(MAP_GEO, MAP_FIGURE),
            dcc.Loading(_graph("overview-map", scroll_zoom=True)),
            _figure_downloads("overview-map"),
            html.H2("The count, line by line"),
            dcc.Loading(
                dag.AgGrid(
                    id="overview-grid",
                    columnDefs=GRID_COLUMNS,
                    rowData=[],
                    # long text wraps (rows grow) rather than being cut off with an ellipsis
                    defaultColDef={
                        "sortable": True,
                        "filter": True,
                        "resizable": True,
                        "wrapText": True,
                        "autoHeight": True,
                    },
                    dashGridOptions={
                        "domLayout": "autoHeight",
                        "pagination": True,
                        "paginationPageSize": 20,
                        "rowSelection": {
                            "mode": "singleRow",
                            "checkboxes": False,
                            "enableClickSelection": True,
                        },
                    },
                    getRowId="params.data.row_id",
                    className="ag-theme-alpine",
                    style={"width": "100%"},
                )
            ),
            table_downloads("overview-table", "Download the count"),
            html.H3("Source lines of the chosen row"),
            html.P(SOURCES_PROMPT, id="overview-sources-note", className="note"),
            dcc.Loading(
                dag.AgGrid(
                    id="overview-sources",
                    columnDefs=SOURCE_COLUMNS,
                    rowData=[],
                    defaultColDef={
                        "sortable": True,
                        "resizable": True,
                        "wrapText": True,
                        "autoHeight": True,
                    },
                    dashGridOptions={
                        "domLayout": "autoHeight",
                        "pagination": True,
                        "paginationPageSize": 20,
                    },
                    className="ag-theme-alpine",
                    style={"width": "100%"},
                )
            ),
            html.H2("Read with these caveats"),
            html.Ul(id="overview-caveats", className="caveats"),
        ],
        className="page",
    )


def _control(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label, className="control-label"), control], className="control")


def _graph(graph_id: str, scroll_zoom: bool = False) -> dcc.Graph:
    return dcc.Graph(
        id=graph_id,
        figure=placeholder(),
        config=graph_config(file_stem(graph_id), scroll_zoom=scroll_zoom),
    )


def _figure_downloads(graph_id: str) -> Any:
    return figure_downloads(graph_id, file_stem(graph_id))


@callback(
    Output(URL, "search"),
    Input(PLACE, "value"),
    Input(YEAR, "value"),
    Input(TERMS, "value"),
    prevent_initial_call=True,
)
def sync_url(place: str | None, year: str | None, terms: str | None) -> str:
    """Keep the address bar in step with the controls, so the view can be shared."""
    state = (("place", place), ("year", year), ("terms", terms if terms == "real" else None))
    return "?" + urlencode({k: v for k, v in state if v})


@callback(
    Output("overview-kpis", "children"),
    Output("overview-councils", "children"),
    Output("overview-agency", "figure"),
    Output("overview-function", "figure"),
    Output("overview-grid", "rowData"),
    Output("overview-caveats", "children"),
    Input(PLACE, "value"),
    Input(YEAR, "value"),
    Input(TERMS, "value"),
)
def update_count(place: str | None, year: str | None, terms: str | None) -> tuple[Any, ...]:
    """The count's cards, bars, table and caveats for the chosen place and year, in cash or
    real terms."""
    return data.view(count_view, place, year, terms)


def count_view(place: str | None, year: str | None, terms: str | None) -> tuple[Any, ...]:
    """`update_count`'s answer, built once per place, year and terms (`data.view`), with its
    figures as their JSON so that a repeat is not converted again."""
    if not place or not year:
        return _failed("Choose a place and a year.")
    try:
        result = data.count_in(place, year, terms_value(terms))
    except TotalPlaceError as exc:
        return _failed(str(exc))
    label = data.terms_label(terms)
    agency = agency_bar(result.by("agency_type"), "Spend by agency type" + label)
    function = function_bar(result.by("function"), "Spend by function (COFOG division)" + label)
    return (
        _kpis(result, label),
        _councils_sentence(result),
        agency.to_plotly_json(),
        function.to_plotly_json(),
        _grid_rows(result),
        [html.Li(c) for c in result.caveats] or [html.Li("None recorded for this count.")],
    )


@callback(
    Output(MAP_GEO["district"], "data"),
    Input(PLACE, "value"),
    State(MAP_GEO["district"], "data"),
)
def load_boundaries(_place: str | None, held: Any) -> Any:
    """England's district boundaries, sent to the browser once per visit of the page."""
    geo = geomap.boundaries_once("district", held)
    return no_update if geo is None else geo


@callback(
    Output(MAP_FIGURE, "data"),
    Input(PLACE, "value"),
    Input(YEAR, "value"),
    Input(TERMS, "value"),
)
def update_map(place: str | None, year: str | None, terms: str | None) -> Any:
    """Per-head spend of the districts in the place's region, the place outlined (the figures
    only: the browser puts the boundaries in)."""
    return data.view(map_view, place, year, terms)


def map_view(place: str | None, year: str | None, terms: str | None) -> dict[str, Any]:
    """`update_map`'s answer, built once per place, year and terms (`data.view`)."""
    if not place or not year:
        return empty_figure("Choose a place and a year.").to_plotly_json()
    try:
        region = data.place_region(place)
        frame = data.in_terms(
            data.map_frame(year, "district", region, place), terms_value(terms), year
        )
        view = view_for(data.boundary_bounds("district"), frame["area_code"].tolist())
    except TotalPlaceError as exc:
        return empty_figure(str(exc)).to_plotly_json()
    where = data.region_name(region) if region else "England"
    fig = area_choropleth(
        frame,
        "per_head_gbp",
        "Spend per head",
        f"Spend per head, {where}, {year}{data.terms_label(terms)}",
        level="district",
        view=view,
    )
    return fig.to_plotly_json()


merge_geometry("overview-map", MAP_FIGURE, MAP_GEO)


def _failed(message: str) -> tuple[Any, ...]:
    fig = empty_figure(message).to_plotly_json()
    return (html.P(message, className="error"), "", fig, fig, [], [])


def _kpis(result: CountResult, label: str = "") -> html.Div:
    sources = ", ".join(sorted(result.rows["source_id"].dropna().astype(str).unique()))
    cards = [
        kpi_card(
            "Total public spend" + label,
            format_gbp(result.total_gbp),
            f"{result.place_name}, {result.year}",
            card_id="kpi-total",
        ),
        kpi_card(
            "Per head" + label,
            format_per_head(result.per_head_gbp).removesuffix(" a head"),
            "a head of population",
            card_id="kpi-per-head",
        ),
        kpi_card(
            "Population",
            format_count(result.population),
            f"mid-{result.population_year} estimate",
            card_id="kpi-population",
        ),
        kpi_card("Release used", result.release, sources or None, card_id="kpi-release", text=True),
    ]
    councils = _councils_total(result)
    if councils is not None:
        cards.append(
            kpi_card(
                "Of which reported by councils" + label,
                format_gbp(councils),
                f"{format_share(councils, result.total_gbp)} of the count: councils' own outturn",
                card_id="kpi-councils",
            )
        )
    return kpi_row(cards)


def _councils_total(result: CountResult) -> float | None:
    rbc = result.reported_by_councils
    return None if rbc is None else int(rbc["amount_pence"].sum()) / 100


def _councils_sentence(result: CountResult) -> str:
    if result.reported_by_councils is None:
        return NO_COUNCILS_OUTTURN.format(year=result.year)
    return (
        "“Of which reported by councils” is the councils' own revenue outturn for the place, "
        "shown beside the count (it is part of it, not added to it)."
    )


def _grid_rows(result: CountResult) -> list[dict[str, Any]]:
    """One grid row per count row (with its ``row_id``, by which a click asks for its source
    lines); text columns the engine does not give are left blank."""
    text = ["agency_type", "function", "basis", "driver", "confidence", "source_id"]
    rows = result.rows.reindex(columns=[*text, "amount_pence"])
    out = rows[text].astype("object").where(rows[text].notna(), "")
    out["amount_gbp"] = rows["amount_pence"].astype("int64") / 100
    out["row_id"] = data.row_ids(result.rows)
    return [{str(k): v for k, v in r.items()} for r in out.to_dict("records")]


@callback(
    Output("overview-sources", "rowData"),
    Output("overview-sources-note", "children"),
    Input("overview-grid", "selectedRows"),
    State(PLACE, "value"),
    State(YEAR, "value"),
)
def show_sources(selected: list[dict[str, Any]] | None, place: str | None, year: str | None) -> Any:
    """The source lines of the count row clicked: file, row, line amount, share taken."""
    if not selected or not place or not year:
        return [], SOURCES_PROMPT
    chosen = selected[0]
    try:
        lines = data.source_lines(place, year, str(chosen.get("row_id")))
    except TotalPlaceError as exc:
        return [], str(exc)
    return data.source_line_records(lines), source_sentence(chosen, lines)


def source_sentence(row: dict[str, Any], lines: Any) -> str:
    taken = int(lines["taken_pence"].sum()) / 100 if len(lines) else 0.0
    return (
        f"{row.get('agency_type')} · {row.get('function')} · {row.get('basis')}: "
        f"{format_count(len(lines))} source lines, taking {format_gbp(taken)} in all "
        "(the row's amount: each line's part as the count shared it, in pence)."
    )


@callback(
    download_output("overview-table"),
    *download_inputs("overview-table"),
    State(PLACE, "value"),
    State(YEAR, "value"),
    State(TERMS, "value"),
    prevent_initial_call=True,
)
def download_count(
    _csv: int, _xlsx: int, _notes: int, place: str | None, year: str | None, terms: str | None
) -> Any:
    """The count, row by row (basis, driver, confidence, source), as CSV / XLSX / notes."""
    fmt = clicked_format("overview-table")
    if not fmt or not place or not year:
        return no_update
    result = data.count_in(place, year, terms_value(terms))
    frame = result.rows.assign(
        amount_gbp=result.rows["amount_pence"] / 100, row_id=data.row_ids(result.rows)
    )
    notes = [
        f"totalplace count: {result.place_name}, {result.year}; "
        f"total {format_gbp(result.total_gbp)}, population {format_count(result.population)} "
        f"(ONS mid-{result.population_year}).",
        f"Release: {result.release}.",
        *result.caveats,
    ]
    return send_table(frame, file_stem("count", place, year), fmt, notes)
