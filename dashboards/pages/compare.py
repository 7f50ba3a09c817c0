"""Compare: a pilot against the other twelve, a peer group of the user's choosing and England,
per head (or in total), over every year and ranked in one.

``/compare?place=Kent&year=2010-11&measure=per_head&peers=E10000030,E06000035``. Peers are
districts or counties (codes, comma-separated in the URL); each is drawn on its own, and with
two or more, together as 'Peer group'.
"""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboards import data
from dashboards.components.controls import (
    choose,
    control,
    controls,
    dropdown,
    split_list,
    url_sync,
)
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
from dashboards.figures.compare import MEASURES, compare_lines, compare_ranked
from totalplace.errors import TotalPlaceError

dash.register_page(
    __name__, path="/compare", name="Compare", title="Compare · totalplace", order=30
)

P = "compare-"
PLACE, YEAR, MEASURE, FUNCTION, PEERS, URL = (
    f"{P}{k}" for k in ("place", "year", "measure", "function", "peers", "url")
)
LINES, RANKED, TABLE, NOTE = (f"{P}{k}" for k in ("lines", "ranked", "table", "note"))
TERMS = f"{P}terms"
ALL = "all"
GRID_COLUMNS: list[dict[str, Any]] = [
    {"field": "name", "headerName": "Place or area", "flex": 2, "minWidth": 200},
    {"field": "role", "headerName": "Role", "flex": 1},
    *AMOUNT_COLUMNS,
]


def layout(
    place: str | None = None,
    year: str | None = None,
    measure: str | None = None,
    function: str | None = None,
    peers: Any = None,
    terms: str | None = None,
    **_other: Any,
) -> html.Div:
    """The comparison in the URL query."""
    try:
        places, years = data.pilot_names(), data.years()
        fns = [(ALL, "All functions"), *data.function_options()]
        areas = list(data.area_options())
    except TotalPlaceError as exc:
        return error_page("Compare", str(exc))
    return html.Div(
        [
            dcc.Location(id=URL, refresh=False),
            html.H1("Compare"),
            html.P(
                "The place beside the other Total Place pilots, a peer group you choose "
                "(districts or counties) and England, in every year the store holds.",
                className="lead",
            ),
            controls(
                control(
                    "Place", dropdown(PLACE, places, choose(place, places, places[0])), wide=True
                ),
                control(
                    "Year (for the ranking)",
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
                    "Peer group",
                    dropdown(
                        PEERS,
                        areas,
                        split_list(peers, [c for c, _ in areas]),
                        multi=True,
                        clearable=True,
                        placeholder="Add districts or counties…",
                    ),
                    wide=True,
                ),
                terms_switch(TERMS, terms),
            ),
            html.P(id=NOTE, className="note"),
            html.Div(
                [
                    figure_panel(LINES, "totalplace-compare-years"),
                    figure_panel(RANKED, "totalplace-compare-ranked"),
                ],
                className="two-columns",
            ),
            html.H2("The ranking as a table"),
            grid(TABLE, GRID_COLUMNS),
            table_downloads(TABLE, "Download every year"),
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
        ("peers", PEERS),
        terms_field(TERMS),
    ],
)


def _groups(
    place: str, peers: list[str]
) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], dict[str, str]]:
    """(name, districts) of every pilot, each peer, the peer group and England; and roles."""
    pilots = data.pilot_members()
    groups: list[tuple[str, tuple[str, ...]]] = list(pilots.items())
    roles = {name: ("place" if name == place else "pilot") for name in pilots}
    peer_codes: list[str] = []
    for code in peers:
        members = data.area_members(code)
        if not members:
            continue
        name = data.area_label(code)
        name = f"{name} (district)" if name in roles else name
        groups.append((name, members))
        roles[name] = "peer"
        peer_codes += members
    if len(peers) > 1 and peer_codes:
        groups.append(("Peer group", tuple(dict.fromkeys(peer_codes))))
        roles["Peer group"] = "group"
    groups.append(data.england())
    roles["England"] = "england"
    return tuple(groups), roles


def _frame(
    place: str, peers: list[str], function: str | None, terms: str | None = None
) -> pd.DataFrame:
    groups, roles = _groups(place, peers)
    fn = None if function in (None, ALL) else function
    frame = data.in_terms(data.group_series(groups, function_code=fn), terms_value(terms))
    return frame.assign(role=frame["name"].map(roles))


def _population_sentence(frame: pd.DataFrame) -> str:
    years = tuple(str(y) for y in frame["year"].dropna().unique())
    return data.population_sentence(years) + " England is the sum of its districts."


@callback(
    Output(LINES, "figure"),
    Output(RANKED, "figure"),
    Output(TABLE, "rowData"),
    Output(NOTE, "children"),
    Input(PLACE, "value"),
    Input(YEAR, "value"),
    Input(MEASURE, "value"),
    Input(FUNCTION, "value"),
    Input(PEERS, "value"),
    Input(TERMS, "value"),
)
def update_compare(
    place: str | None,
    year: str | None,
    measure: str | None,
    function: str | None,
    peers: list[str] | None,
    terms: str | None = None,
) -> tuple[Any, ...]:
    """Lines over the years, the ranking in the chosen year, its table and the population
    note, built once for each choice of the controls (`data.view`)."""
    return data.view(compare_view, place, year, measure, function, tuple(peers or ()), terms)


def compare_view(
    place: str | None,
    year: str | None,
    measure: str | None,
    function: str | None,
    peers: tuple[str, ...],
    terms: str | None = None,
) -> tuple[Any, ...]:
    """The answer of `update_compare` for one choice of the controls (figures as JSON)."""
    if not place or not year:
        fig = empty_figure("Choose a place and a year.").to_plotly_json()
        return fig, fig, [], ""
    measure = measure if measure in MEASURES else "per_head"
    try:
        frame = _frame(place, list(peers), function, terms)
    except TotalPlaceError as exc:
        fig = empty_figure(str(exc)).to_plotly_json()
        return fig, fig, [], ""
    label = MEASURES[measure][1]
    fn_label = dict(data.function_options()).get(function or "")
    what = label + (f" on {fn_label}" if fn_label else "") + data.terms_label(terms)
    one_year = frame[frame["year"] == year]
    lines = compare_lines(frame, measure, f"{what}, every year")
    ranked = compare_ranked(one_year, measure, f"{what}, {year}")
    rows = one_year[["name", "role", "population", "amount_gbp", "per_head_gbp"]].to_dict("records")
    return lines.to_plotly_json(), ranked.to_plotly_json(), rows, _population_sentence(frame)


@callback(
    download_output(TABLE),
    *download_inputs(TABLE),
    State(PLACE, "value"),
    State(MEASURE, "value"),
    State(FUNCTION, "value"),
    State(PEERS, "value"),
    State(TERMS, "value"),
    prevent_initial_call=True,
)
def download_table(
    _csv: int,
    _xlsx: int,
    _notes: int,
    place: str | None,
    measure: str | None,
    function: str | None,
    peers: list[str] | None,
    terms: str | None = None,
) -> Any:
    """Every year's comparison as CSV / XLSX / notes."""
    fmt = clicked_format(TABLE)
    if not fmt or not place:
        return no_update
    frame = _frame(place, peers or [], function, terms)
    cols = ["year", "name", "role", "population", "population_year", "amount_gbp", "per_head_gbp"]
    notes = [
        f"totalplace comparison: {place} beside the other pilots, the peer group and England"
        f"{data.terms_label(terms) or ' (cash)'}.",
        _population_sentence(frame),
        "Spend: the count's lines (CRA apportioned by drivers; councils' own outturn where "
        "loaded) summed over each area's districts.",
        "Sources: HM Treasury Country and Regional Analysis; DCLG revenue outturn; ONS "
        "population estimates (Open Government Licence v3.0).",
    ]
    return send_table(frame[cols], file_stem("compare", place, measure, function), fmt, notes)
