"""Map: any measure of the count by district or upper tier, across a region or all England.

``/map?place=Kent&year=2010-11&measure=per_head&function=9&level=upper_tier&area=england``
opens a view; the controls rewrite the URL. Boundaries go to the browser once per level (a
``dcc.Store`` per level, filled when that level is first shown); each map response carries only
the figures, and a clientside callback puts the boundaries back into the figure.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboards import data
from dashboards.components import geomap
from dashboards.components.controls import choose, control, controls, dropdown, url_sync
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
from dashboards.components.layout import AMOUNT_COLUMNS, MEASURE_OPTIONS, error_page, grid
from dashboards.components.prices import terms_field, terms_switch, terms_value
from dashboards.figures.breakdown import empty_figure, placeholder
from dashboards.figures.compare import MEASURES
from dashboards.figures.maps import area_choropleth, view_for
from totalplace.errors import TotalPlaceError

dash.register_page(__name__, path="/map", name="Map", title="Map · totalplace", order=10)

P = "map-"
PLACE, YEAR, MEASURE, FUNCTION, AGENCY, LEVEL, AREA = (
    f"{P}{k}" for k in ("place", "year", "measure", "function", "agency", "level", "area")
)
URL, GRAPH, FIGURE, TABLE, NOTE = (f"{P}{k}" for k in ("url", "graph", "figure", "table", "note"))
TERMS = f"{P}terms"
GEO = {"district": f"{P}geo-district", "upper_tier": f"{P}geo-upper-tier"}
ALL = "all"
#: The map's drawn width (px) the view is fitted to (the page is ~1,190 px wide).
VIEW_WIDTH = 1000
MAP_HEIGHT = 640
LEVEL_OPTIONS = [("district", "Districts"), ("upper_tier", "Upper tier (counties, unitaries)")]
AREA_OPTIONS = [("region", "The place's region"), ("england", "All England")]
WHERE_SENTENCE = (
    "Spend is mapped where it is attributed (HM Treasury's 'who benefits' regions, shared to "
    "districts by each line's driver, or the area an authority serves), not where the paying "
    "body has its office."
)
GRID_COLUMNS: list[dict[str, Any]] = [
    {"field": "area_name", "headerName": "Area", "flex": 2, "minWidth": 180},
    {"field": "area_code", "headerName": "Code", "flex": 1, "minWidth": 110},
    *AMOUNT_COLUMNS,
    {"field": "in_place", "headerName": "In the place", "flex": 1},
]


def layout(
    place: str | None = None,
    year: str | None = None,
    measure: str | None = None,
    function: str | None = None,
    agency: str | None = None,
    level: str | None = None,
    area: str | None = None,
    terms: str | None = None,
    **_other: Any,
) -> html.Div:
    """The map for the view in the URL query (defaults where absent or unknown)."""
    try:
        places, years = data.pilot_names(), data.years()
        fns = [(ALL, "All functions"), *data.function_options()]
        types = [(ALL, "All agency types"), *((t, t) for t in data.agency_types())]
    except TotalPlaceError as exc:
        return error_page("Map", str(exc))
    return html.Div(
        [
            dcc.Location(id=URL, refresh=False),
            html.H1("Map"),
            html.P(
                "Any measure of the count by district or upper tier, across the place's region "
                "or all England. The place is outlined in orange.",
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
                    "Measure",
                    dropdown(
                        MEASURE,
                        MEASURE_OPTIONS,
                        choose(measure, list(MEASURES), "per_head"),
                        searchable=False,
                    ),
                ),
                control(
                    "Function (COFOG)",
                    dropdown(FUNCTION, fns, choose(function, [c for c, _ in fns], ALL)),
                ),
                control(
                    "Agency type",
                    dropdown(AGENCY, types, choose(agency, [c for c, _ in types], ALL)),
                ),
                control(
                    "Level",
                    dropdown(
                        LEVEL,
                        LEVEL_OPTIONS,
                        choose(level, [c for c, _ in LEVEL_OPTIONS], "district"),
                        searchable=False,
                    ),
                ),
                control(
                    "Area",
                    dropdown(
                        AREA,
                        AREA_OPTIONS,
                        choose(area, [c for c, _ in AREA_OPTIONS], "region"),
                        searchable=False,
                    ),
                ),
                terms_switch(TERMS, terms),
            ),
            html.P(WHERE_SENTENCE, className="note"),
            html.P(id=NOTE, className="note"),
            dcc.Store(id=GEO["district"]),
            dcc.Store(id=GEO["upper_tier"]),
            dcc.Loading(
                [
                    dcc.Store(id=FIGURE),
                    dcc.Graph(
                        id=GRAPH,
                        figure=placeholder(),
                        config=graph_config("totalplace-map", scroll_zoom=True),
                        className="map-graph",
                    ),
                ],
                type="dot",
            ),
            figure_downloads(GRAPH, "totalplace-map"),
            html.H2("The figures on the map"),
            grid(TABLE, GRID_COLUMNS, page_size=15),
            table_downloads(TABLE),
        ],
        className="page",
    )


url_sync(
    URL,
    [
        ("place", PLACE),
        ("year", YEAR),
        ("measure", MEASURE),
        ("function", FUNCTION),
        ("agency", AGENCY),
        ("level", LEVEL),
        ("area", AREA),
        terms_field(TERMS),
    ],
)


@callback(
    Output(GEO["district"], "data"),
    Output(GEO["upper_tier"], "data"),
    Input(LEVEL, "value"),
    State(GEO["district"], "data"),
    State(GEO["upper_tier"], "data"),
)
def load_boundaries(level: str | None, district: Any, upper: Any) -> tuple[Any, Any]:
    """Send a level's boundaries the first time that level is shown (then never again)."""
    level = level or "district"
    if level == "district":
        geo = geomap.boundaries_once("district", district)
        return (no_update if geo is None else geo), no_update
    geo = geomap.boundaries_once("upper_tier", upper)
    return no_update, (no_update if geo is None else geo)


def _args(
    place: str | None,
    year: str | None,
    function: str | None,
    agency: str | None,
    level: str | None,
    area: str | None,
) -> tuple[Any, ...]:
    region = data.place_region(place) if area != "england" and place else None
    return (
        year,
        level or "district",
        region,
        place,
        None if function in (None, ALL) else function,
        None if agency in (None, ALL) else agency,
    )


def _describe(
    measure: str,
    function: str | None,
    agency: str | None,
    year: str,
    level: str,
    area: str | None,
    place: str | None,
) -> tuple[str, str]:
    label = MEASURES.get(measure, MEASURES["per_head"])[1]
    fn_label = dict(data.function_options()).get(function or "", None)
    what = label + (f" on {fn_label}" if fn_label else "")
    what += f" by {agency}" if agency and agency != ALL else ""
    where = (
        "England"
        if area == "england"
        else (data.region_name(data.place_region(place)) if place else "the region")
    )
    unit = "upper-tier areas" if level == "upper_tier" else "districts"
    outline = f" · {place} outlined" if place else ""
    return label, f"{what}, {year} · {unit}, {where}{outline}"


@callback(
    Output(FIGURE, "data"),
    Output(TABLE, "rowData"),
    Output(NOTE, "children"),
    Input(PLACE, "value"),
    Input(YEAR, "value"),
    Input(MEASURE, "value"),
    Input(FUNCTION, "value"),
    Input(AGENCY, "value"),
    Input(LEVEL, "value"),
    Input(AREA, "value"),
    Input(TERMS, "value"),
)
def update_map(*controls: str | None) -> tuple[Any, Any, Any]:
    """The map's figures (no boundaries: the browser has them), its table and its note, for
    the controls' values (`map_view`'s arguments), built once for each (`data.view`)."""
    return data.view(map_view, *controls)


def map_view(
    place: str | None,
    year: str | None,
    measure: str | None,
    function: str | None,
    agency: str | None,
    level: str | None,
    area: str | None,
    terms: str | None = None,
) -> tuple[Any, Any, Any]:
    """The answer of `update_map` for one choice of the controls."""
    if not place or not year:
        return empty_figure("Choose a place and a year.").to_plotly_json(), [], ""
    measure = measure if measure in MEASURES else "per_head"
    level = level or "district"
    try:
        frame = data.map_frame(*_args(place, year, function, agency, level, area))
        frame = data.in_terms(frame, terms_value(terms), year)
        bounds = data.boundary_bounds(level)
        population = data.population_sentence((year,))
    except TotalPlaceError as exc:
        return empty_figure(str(exc)).to_plotly_json(), [], ""
    label, title = _describe(measure, function, agency, year, level, area, place)
    title += data.terms_label(terms)
    column = MEASURES[measure][0]
    view = view_for(bounds, frame["area_code"].tolist(), width=VIEW_WIDTH, height=MAP_HEIGHT - 40)
    fig = area_choropleth(frame, column, label, title, level=level, view=view, height=MAP_HEIGHT)
    note = population + " Upper tier sums its districts." * (level == "upper_tier")
    return fig.to_plotly_json(), _grid_rows(frame), note


def _grid_rows(frame: Any) -> list[dict[str, Any]]:
    """The table's rows: only the columns it shows, pounds rounded (keeps the response small)."""
    rows = frame.assign(
        in_place=frame["in_place"].map({True: "yes", False: ""}),
        amount_gbp=frame["amount_gbp"].round(0),
        per_head_gbp=frame["per_head_gbp"].round(2),
    )
    cols = [c["field"] for c in GRID_COLUMNS]
    return [{str(k): v for k, v in r.items()} for r in rows[cols].to_dict("records")]


merge_geometry(GRAPH, FIGURE, GEO)


@callback(
    download_output(TABLE),
    *download_inputs(TABLE),
    State(PLACE, "value"),
    State(YEAR, "value"),
    State(MEASURE, "value"),
    State(FUNCTION, "value"),
    State(AGENCY, "value"),
    State(LEVEL, "value"),
    State(AREA, "value"),
    State(TERMS, "value"),
    prevent_initial_call=True,
)
def download_table(
    _csv: int,
    _xlsx: int,
    _notes: int,
    place: str | None,
    year: str | None,
    measure: str | None,
    function: str | None,
    agency: str | None,
    level: str | None,
    area: str | None,
    terms: str | None = None,
) -> Any:
    """The map's table as CSV / XLSX / notes."""
    fmt = clicked_format(TABLE)
    if not fmt or not place or not year:
        return no_update
    level = level or "district"
    frame = data.map_frame(*_args(place, year, function, agency, level, area))
    frame = data.in_terms(frame, terms_value(terms), year)
    _, title = _describe(measure or "per_head", function, agency, year, level, area, place)
    title += data.terms_label(terms)
    notes = [
        f"totalplace map table: {title}.",
        WHERE_SENTENCE,
        data.population_sentence((year,)),
        "Sources: HM Treasury Country and Regional Analysis; DCLG revenue outturn; ONS "
        "population estimates (Open Government Licence v3.0).",
    ]
    stem = file_stem("map", place, year, measure, function, agency, level, area)
    return send_table(frame, stem, fmt, notes)
