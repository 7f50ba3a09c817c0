"""Deep dive: one theme's spend in a place and year, taken apart by agency, service line, mode,
control and rule, down to the source file and row of every figure.

Shareable: ``/deepdive?place=...&year=2010-11&theme=older_people`` opens the view and the address
bar follows the controls. Callbacks are thin: figures come from ``dashboards.data_themes`` and are
drawn by the pure functions in ``dashboards.figures``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import dash
import dash_ag_grid as dag
import pandas as pd
from dash import Input, Output, State, callback, ctx, dcc, html

from dashboards import data, data_themes
from dashboards.components.kpi import kpi_card, kpi_row
from dashboards.components.prices import terms_switch, terms_value
from dashboards.figures.breakdown import agency_bar, empty_figure, placeholder
from dashboards.figures.deepdive import SPLIT_TITLES, service_line_bar, split_bar
from dashboards.figures.money import format_count, format_gbp, format_share
from totalplace.errors import TotalPlaceError

if TYPE_CHECKING:
    from totalplace.deepdive.engine import ThemeBreakdown

dash.register_page(__name__, path="/deepdive", name="Deep dive", title="Deep dive · totalplace")

P = "deepdive-"
PLACE, YEAR, THEME, URL = P + "place", P + "year", P + "theme", P + "url"
TERMS = P + "terms"
GBP_FORMAT = {
    "function": "params.value == null ? '' : (params.value < 0 ? '-£' : '£')"
    " + d3.format(',.0f')(Math.abs(params.value))"
}
DEFAULT_COL: dict[str, Any] = {
    "sortable": True,
    "filter": True,
    "resizable": True,
    "wrapText": True,
    "autoHeight": True,
    # wrapped text at reading line height (the grid's own is the row height)
    "cellStyle": {
        "lineHeight": "1.35",
        "paddingTop": "8px",
        "paddingBottom": "8px",
        "wordBreak": "normal",
    },
}
NO_CHANGE = dash.no_update


def _money_col(field: str, name: str, **extra: Any) -> dict[str, Any]:
    col = {"field": field, "headerName": name, "type": "rightAligned", "minWidth": 130}
    return col | {"flex": 1, "filter": False, "valueFormatter": GBP_FORMAT} | extra


POOLING_COLUMNS = [
    {"field": "service_type", "headerName": "Service type", "flex": 1.5, "minWidth": 160},
    {"field": "agency_type", "headerName": "Agency type", "flex": 2, "minWidth": 180},
    _money_col("amount_gbp", "Theme spend", sort="desc"),
    {"field": "agencies", "headerName": "Agencies", "flex": 3, "minWidth": 220},
]
RULE_COLUMNS = [
    {"field": "label", "headerName": "Rule", "flex": 2.5, "minWidth": 200},
    {"field": "share", "headerName": "Share of each line", "flex": 2.5, "minWidth": 200},
    {
        "field": "lines",
        "headerName": "Lines",
        "type": "rightAligned",
        "flex": 0.6,
        "minWidth": 85,
        "filter": False,
    },
    _money_col("amount_gbp", "Theme spend", sort="desc", minWidth=150),
    {"field": "mode", "headerName": "Mode", "flex": 1, "minWidth": 110},
    {"field": "control", "headerName": "Control", "flex": 1, "minWidth": 100},
    {
        "field": "evidence",
        "headerName": "Evidence (hover for all of it)",
        "flex": 4,
        "minWidth": 260,
        "wrapText": False,
        "autoHeight": False,
        "tooltipField": "evidence",
    },
]
DRILL_COLUMNS = [
    {"field": "file", "headerName": "File", "flex": 2, "minWidth": 170},
    {"field": "row", "headerName": "Row", "type": "rightAligned", "flex": 0.5, "minWidth": 80},
    {"field": "agency", "headerName": "Agency", "flex": 2, "minWidth": 170},
    {"field": "description", "headerName": "Line", "flex": 2.5, "minWidth": 200},
    {"field": "rule", "headerName": "Rule", "flex": 1.5, "minWidth": 140},
    _money_col("source_gbp", "Line (place)", minWidth=150),
    _money_col("amount_gbp", "To the theme", sort="desc", minWidth=150),
]
BUTTON = {
    "padding": "0.45rem 0.9rem",
    "border": "1px solid #0072B2",
    "borderRadius": "6px",
    "background": "white",
    "color": "#0072B2",
    "fontWeight": 600,
    "cursor": "pointer",
}


def layout(
    place: str | None = None,
    year: str | None = None,
    theme: str | None = None,
    terms: str | None = None,
    **_other: Any,
) -> html.Div:
    """The deep dive for ``place``, ``year`` and ``theme`` from the URL (defaults when absent)."""
    try:
        places, years = data.pilot_names(), data.years()
        default_year, themes = data.default_year(), data_themes.themes()
    except TotalPlaceError as exc:
        return html.Div([html.H1("Deep dive"), html.P(str(exc), className="error")])
    place = place if place in places else (places[0] if places else None)
    year = year if year in years else default_year
    theme_ids = [t.id for t in themes]
    theme = theme if theme in theme_ids else data_themes.default_theme(place)
    return html.Div(
        [
            dcc.Location(id=URL, refresh=False),
            html.H1("Deep dive"),
            html.P(
                "The second stage of a Total Place count: one theme's spend in detail. Each "
                "figure is a sum of rules applied to the count's lines; select a rule or click "
                "an agency type's bar to see the source lines (file and row) behind it.",
                className="lead",
            ),
            html.Div(
                [
                    _control("Place", _dropdown(PLACE, list(places), place)),
                    _control("Year", _dropdown(YEAR, list(years), year)),
                    _control(
                        "Theme",
                        _dropdown(THEME, [{"label": t.name, "value": t.id} for t in themes], theme),
                    ),
                    terms_switch(TERMS, terms),
                ],
                className="controls",
            ),
            html.P(id=P + "theme-note", className="note"),
            dcc.Loading(html.Div([html.Div(id=P + "kpis"), html.Div(id=P + "checks")]), type="dot"),
            html.Div(
                [
                    html.Div(dcc.Loading(_graph(P + "agency")), className="panel"),
                    html.Div(dcc.Loading(_graph(P + "function")), className="panel"),
                ],
                className="two-columns",
            ),
            html.Div(
                [
                    html.Div(dcc.Loading(_graph(P + "mode")), className="panel"),
                    html.Div(dcc.Loading(_graph(P + "control")), className="panel"),
                ],
                className="two-columns",
            ),
            html.H2("Pooling: services several agency types pay for"),
            html.P(id=P + "pooling-note", className="note"),
            dcc.Loading(_grid(P + "pooling", POOLING_COLUMNS, page_size=20)),
            html.H2("Rules and the source lines behind them"),
            html.P(
                "Each rule takes a share of the count lines it matches. Select a rule (or click "
                "a bar of the agency chart) to list its largest source lines.",
                className="note",
            ),
            dcc.Loading(
                _grid(
                    P + "rules",
                    RULE_COLUMNS,
                    getRowId="params.data.rule",
                    dashGridOptions={
                        "domLayout": "autoHeight",
                        "rowSelection": {
                            "mode": "singleRow",
                            "checkboxes": False,
                            "enableClickSelection": True,
                        },
                    },
                )
            ),
            html.H3(id=P + "drill-title", style={"marginBottom": "0.2rem"}),
            html.P(id=P + "drill-how", className="note"),
            dcc.Loading(_grid(P + "drill", DRILL_COLUMNS, page_size=20)),
            html.H2("Download"),
            html.Div(
                [
                    _control(
                        "Table",
                        _dropdown(
                            P + "table",
                            [{"label": v, "value": k} for k, v in data_themes.TABLES.items()],
                            "by_agency",
                        ),
                    ),
                    html.Button("Download CSV", id=P + "csv", n_clicks=0, style=BUTTON),
                    html.Button(
                        "Download every table (XLSX)", id=P + "xlsx", n_clicks=0, style=BUTTON
                    ),
                    dcc.Download(id=P + "download"),
                ],
                className="controls",
                style={"alignItems": "flex-end"},
            ),
            html.H2("Read with these caveats"),
            html.Ul(id=P + "caveats", className="caveats"),
        ],
        className="page",
    )


def _control(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label, className="control-label"), control], className="control")


def _dropdown(dropdown_id: str, options: list[Any], value: str | None) -> dcc.Dropdown:
    return dcc.Dropdown(id=dropdown_id, options=options, value=value, clearable=False)


def _graph(graph_id: str) -> dcc.Graph:
    return dcc.Graph(
        id=graph_id,
        figure=placeholder(),
        config={"displaylogo": False, "responsive": True},
    )


def _grid(grid_id: str, columns: list[dict[str, Any]], page_size: int = 0, **kw: Any) -> Any:
    options: dict[str, Any] = {"domLayout": "autoHeight"}
    if page_size:
        options |= {"pagination": True, "paginationPageSize": page_size}
    kw.setdefault("dashGridOptions", options)
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        rowData=[],
        defaultColDef=DEFAULT_COL,
        className="ag-theme-alpine",
        style={"width": "100%"},
        **kw,
    )


# -- callbacks ------------------------------------------------------------------------------------
@callback(
    Output(URL, "search"),
    Input(PLACE, "value"),
    Input(YEAR, "value"),
    Input(THEME, "value"),
    Input(TERMS, "value"),
    prevent_initial_call=True,
)
def sync_url(place: str | None, year: str | None, theme: str | None, terms: str | None) -> str:
    """Keep the address bar in step with the controls, so the view can be shared."""
    real = terms if terms == "real" else None
    pairs = (("place", place), ("year", year), ("theme", theme), ("terms", real))
    return "?" + urlencode({k: v for k, v in pairs if v})


@callback(
    Output(P + "theme-note", "children"),
    Output(P + "kpis", "children"),
    Output(P + "checks", "children"),
    Output(P + "agency", "figure"),
    Output(P + "function", "figure"),
    Output(P + "mode", "figure"),
    Output(P + "control", "figure"),
    Output(P + "pooling-note", "children"),
    Output(P + "pooling", "rowData"),
    Output(P + "rules", "rowData"),
    Output(P + "caveats", "children"),
    Input(PLACE, "value"),
    Input(YEAR, "value"),
    Input(THEME, "value"),
    Input(TERMS, "value"),
)
def update_theme(
    place: str | None, year: str | None, theme: str | None, terms: str | None = None
) -> tuple[Any, ...]:
    """Every view of the theme's breakdown for the chosen place, year and theme, in cash or
    real terms."""
    option = data_themes.theme_option(theme or "")
    note = f"{option.name}: {option.description}" if option else ""
    if not place or not year or option is None:
        return _failed("Choose a place, a year and a theme.", note)
    try:
        label = data.terms_label(terms_value(terms))
        views = data_themes.view(
            place, year, option.id, _theme_views, label, terms=terms_value(terms)
        )
        return (note, *views)
    except TotalPlaceError as exc:
        return _failed(str(exc), note)


def _theme_views(result: ThemeBreakdown, prices: str = "") -> tuple[Any, ...]:
    """Every output of ``update_theme`` but the note, built once per place, year, theme and
    terms (``data_themes.view`` keeps them; figures as plain dicts, cheap to send again);
    ``prices`` (' (2018-19 prices)' or '') ends every money title."""
    option = data_themes.theme_option(result.theme.id)
    label = option.population_label if option else result.theme.population
    pooling = result.pooling()
    candidates = pooling[pooling["candidate"]]
    figures = (
        agency_bar(result.by_agency(), title="By agency type" + prices),
        service_line_bar(result.by_function(), "By service line" + prices),
        split_bar(result.split("mode"), "mode", SPLIT_TITLES["mode"] + prices),
        split_bar(result.split("control"), "control", SPLIT_TITLES["control"] + prices),
    )
    return (
        _kpis(result, label, prices),
        _checks(result),
        *(f.to_plotly_json() for f in figures),
        _pooling_sentence(pooling, candidates),
        _records(candidates.drop(columns="candidate")),
        _records(result.by_rule()),
        [html.Li(c) for c in result.caveats] or [html.Li("None recorded for this deep dive.")],
    )


@callback(
    Output(P + "drill-title", "children"),
    Output(P + "drill-how", "children"),
    Output(P + "drill", "rowData"),
    Input(P + "rules", "selectedRows"),
    Input(P + "agency", "clickData"),
    Input(PLACE, "value"),
    Input(YEAR, "value"),
    Input(THEME, "value"),
    Input(TERMS, "value"),
)
def drill_down(
    selected: list[dict[str, Any]] | None,
    click: dict[str, Any] | None,
    place: str | None,
    year: str | None,
    theme: str | None,
    terms: str | None = None,
) -> tuple[str, str, list[dict[str, Any]]]:
    """The source lines behind the selected rule or the clicked agency type (by default, the
    largest rule's)."""
    if not place or not year or not theme:
        return "", "", []
    trigger = ctx.triggered_id
    if trigger == P + "agency" and click and click.get("points"):
        selection: tuple[str, ...] = ("agency", str(click["points"][0].get("y")))
    elif trigger == P + "rules" and selected and isinstance(selected[0].get("rule"), str):
        selection = ("rule", selected[0]["rule"])
    else:
        selection = ("largest",)
    try:
        return data_themes.view(
            place, year, theme, _drill_view, *selection, terms=terms_value(terms)
        )
    except TotalPlaceError:
        return "", "", []


def _drill_view(result: ThemeBreakdown, kind: str, value: str = "") -> tuple[str, str, list[Any]]:
    """``drill_down``'s outputs for one selection, built once (``data_themes.view`` keeps
    them): ``kind`` 'agency' (``value``: an agency type), 'rule' (a rule id; one the theme
    does not have falls back to the largest rule) or 'largest'."""
    rules = result.by_rule()
    if kind == "agency":
        lines = data_themes.drill_lines(result, agency_type=value)
        title = f"Largest source lines of {value}"
        how = "Every rule's share of these lines, summed over the place's districts."
    else:
        if kind == "rule" and value in set(rules["rule"]):
            rule_id = value
            title = "Largest source lines of the rule “{}”"
        elif rules.empty or not rules["amount_pence"].any():
            return "No rule assigned any spend, so there are no source lines to show.", "", []
        else:
            rule_id = str(rules.loc[rules["amount_pence"].abs().idxmax(), "rule"])
            title = "Largest source lines of the largest rule, “{}”"
        rule = result.theme.rule(rule_id)
        title = title.format(rule.label)
        how = (
            f"The rule matches {rule.match.describe()}; it takes {rule.share.describe()} "
            f"({result.shares[rule_id].text}). Evidence: {rule.evidence.split(': ', 1)[-1]}"
        )
        lines = data_themes.drill_lines(result, rule=rule_id)
    if lines.empty:
        return f"{title}: none.", how, []
    return title, how, _records(lines)


@callback(
    Output(P + "download", "data"),
    Input(P + "csv", "n_clicks"),
    Input(P + "xlsx", "n_clicks"),
    State(PLACE, "value"),
    State(YEAR, "value"),
    State(THEME, "value"),
    State(P + "table", "value"),
    State(TERMS, "value"),
    prevent_initial_call=True,
)
def download(
    _csv: int,
    _xlsx: int,
    place: str,
    year: str,
    theme: str,
    table: str | None,
    terms: str | None = None,
) -> dict[str, Any] | Any:
    """The chosen table as CSV, or every table as one XLSX workbook (text made formula-safe)."""
    try:
        result = data_themes.breakdown(place, year, theme, terms_value(terms))
    except TotalPlaceError:
        return NO_CHANGE
    stem = data_themes.file_stem(result)
    if ctx.triggered_id == P + "xlsx":
        return dcc.send_bytes(data_themes.tables_xlsx(result), f"{stem}.xlsx")
    name = table if table in data_themes.TABLES else "by_agency"
    return dcc.send_bytes(data_themes.table_csv(result, name), f"{stem}_{name}.csv")


# -- pieces ---------------------------------------------------------------------------------------
def _failed(message: str, note: str) -> tuple[Any, ...]:
    fig = empty_figure(message)
    return (note, html.P(message, className="error"), "", fig, fig, fig, fig, "", [], [], [])


def _kpis(result: ThemeBreakdown, population_label: str, prices: str = "") -> html.Div:
    total = result.total_pence / 100
    count_total = result.count_total_pence / 100
    per_head = result.per_head_gbp
    one = population_label.removeprefix("people ").removesuffix("s")
    cards = [
        kpi_card(
            f"{result.theme.name}: theme spend{prices}",
            format_gbp(total),
            f"{format_share(total, count_total)} of the count ({format_gbp(count_total)}), "
            f"{result.place_name}, {result.year}",
            card_id=P + "kpi-total",
        ),
        kpi_card(
            "Per head of the theme population" + prices,
            "n/a" if per_head is None else f"£{per_head:,.0f}",
            f"a person {one}" if population_label.startswith("people ") else population_label,
            card_id=P + "kpi-per-head",
        ),
        kpi_card(
            "Theme population",
            format_count(result.population),
            f"{population_label}, mid-{result.population_year}",
            card_id=P + "kpi-population",
        ),
    ]
    if result.relevant_pence:
        share = result.unallocated_share or 0.0
        cards.append(
            kpi_card(
                "Relevant spend not allocated",
                f"{share:.0%}",
                f"{format_gbp(result.unallocated_pence / 100)} of "
                f"{format_gbp(result.relevant_pence / 100)} that no rule assigns to the theme",
                card_id=P + "kpi-unallocated",
            )
        )
    return kpi_row(cards)


def _checks(result: ThemeBreakdown) -> html.Div:
    """Overlap errors and the unallocated share, in words."""
    items: list[Any] = [
        html.Li(f"Error: {e}", className="error", style={"fontWeight": 400}) for e in result.errors
    ]
    if not result.errors:
        items.append(html.Li("No rules overlap: no source line is assigned more than 100%."))
    if result.relevant_pence:
        items.append(
            html.Li(
                f"{format_share(result.unallocated_pence, result.relevant_pence)} of the spend "
                f"relevant to the theme ({format_gbp(result.unallocated_pence / 100)}) is not "
                "assigned to it by any rule: it is spend on other people, or spend the rules "
                "do not yet cover."
            )
        )
    if result.outside_relevant_pence:
        items.append(
            html.Li(
                f"{format_gbp(result.outside_relevant_pence / 100)} of theme spend comes from "
                "lines outside the theme's 'relevant' definition."
            )
        )
    return html.Div(html.Ul(items, className="caveats"), id=P + "checks-list")


def _pooling_sentence(pooling: pd.DataFrame, candidates: pd.DataFrame) -> str:
    types = pooling["service_type"].nunique()
    pooled = candidates["service_type"].nunique()
    if not types:
        return "No theme spend here, so there is nothing to pool."
    if not pooled:
        return (
            f"None of the theme's {types} service types is paid for by two or more agency types: "
            "no pooling candidates."
        )
    names = ", ".join(sorted(candidates["service_type"].astype(str).unique()))
    verb, what = ("is", "a candidate") if pooled == 1 else ("are", "candidates")
    return (
        f"{pooled} of the theme's {types} service types {verb} paid for by two or more agency "
        f"types, {what} for a pooled budget: {names}."
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Grid rows: ``*_pence`` as pounds in ``*_gbp`` (after the other columns), missing values
    as blanks. Column by column in plain Python: the frames are small and pandas' per-call
    cost would dominate."""
    pence = [c for c in frame.columns if str(c).endswith("_pence")]
    columns = {str(c): frame[c].tolist() for c in frame.columns if c not in pence}
    for c in pence:
        columns[str(c)[: -len("_pence")] + "_gbp"] = (frame[c].astype("float64") / 100).tolist()
    names = list(columns)
    return [
        {k: (None if _missing(v) else v) for k, v in zip(names, row, strict=True)}
        for row in zip(*columns.values(), strict=True)
    ]


def _missing(value: Any) -> bool:
    """A missing cell (None, NaN, NA, NaT), as ``DataFrame.notna`` reads it."""
    return value is None or (not isinstance(value, str | list | dict) and bool(pd.isna(value)))
