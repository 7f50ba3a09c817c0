"""Scenarios: named lists of changes to the count (move an amount or a share between cells,
invest to save with a published ratio), saved with a version, and compared with the baseline.

Saving sends the version the person loaded; when someone saved first the server raises
StaleVersion, and the page says so and offers to load their version or to add this change on top
of it. Nothing is ever overwritten silently.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_ag_grid as dag
import pandas as pd
from dash import Input, Output, State, callback, ctx, dcc, html

from dashboards import data_workshop
from dashboards.figures.breakdown import empty_figure
from dashboards.figures.money import format_gbp
from dashboards.figures.scenario import baseline_vs_scenario, changed_cells, scenario_waterfall
from dashboards.pages.workshop_common import (
    BUTTON,
    DEFAULT_COL,
    GBP_FORMAT,
    INFO,
    INPUT,
    PANEL,
    PRIMARY,
    REV,
    ROW,
    TICK,
    TOKEN,
    ServiceError,
    W,
    bump,
    cell_from_value,
    cell_options,
    done,
    failed,
    field,
    heading,
    say,
)
from totalplace.workshop import scenarios as sc
from totalplace.workshop.service import ScenarioInfo, StaleVersion

S = W + "sc-"
PICK, NAME, CREATE, STATUS = S + "pick", S + "name", S + "create", S + "status"
LOADED, PENDING = S + "loaded", S + "pending"
KIND, FROM, TO, AMOUNT, AMOUNT_LABEL = S + "kind", S + "from", S + "to", S + "amount", S + "amt-l"
INVEST, EVIDENCE, EVIDENCE_NOTE, YEARS = S + "invest", S + "evidence", S + "ev-note", S + "years"
ADD, UNDO, MESSAGE = S + "add", S + "undo", S + "msg"
STALE, STALE_TEXT, RELOAD, MERGE = S + "stale", S + "stale-text", S + "reload", S + "merge"
LOG, TOTALS, COMPARE, BARS, WATERFALL = S + "log", S + "totals", S + "compare", S + "bars", S + "wf"
HIDDEN, SHOWN = {"display": "none"}, {"display": "block"}
STALE_STYLE = {
    "display": "block",
    "border": "2px solid #E69F00",
    "background": "#fff8e6",
    "borderRadius": "8px",
    "padding": "0.6rem 1rem",
    "marginTop": "0.6rem",
}
COMPARE_COLUMNS = [
    {"field": "cell", "headerName": "Cell", "flex": 3, "minWidth": 260},
    *[
        {
            "field": f,
            "headerName": n,
            "type": "rightAligned",
            "flex": 1,
            "minWidth": 130,
            "filter": False,
            "valueFormatter": GBP_FORMAT,
        }
        for f, n in (("baseline", "Baseline"), ("scenario", "Scenario"), ("difference", "Change"))
    ],
    {
        "field": "difference_pct",
        "headerName": "Change %",
        "type": "rightAligned",
        "filter": False,
        "width": 110,
        "valueFormatter": {
            "function": "params.value == null ? '' : d3.format('+.1f')(params.value) + '%'"
        },
    },
]
KINDS = [
    {"label": " move an amount", "value": "move_amount"},
    {"label": " move a percentage", "value": "move_percent"},
    {"label": " invest to save", "value": "invest"},
]


def section(baseline: pd.DataFrame) -> html.Div:
    cells = cell_options(baseline)
    evidence = data_workshop.evidence()
    return html.Div(
        [
            dcc.Store(id=LOADED),
            dcc.Store(id=PENDING),
            heading("Scenarios", "partners and the facilitator"),
            html.Div(
                [
                    field("Scenario", dcc.Dropdown(id=PICK, options=[], clearable=False), "28rem"),
                    field(
                        "New scenario",
                        dcc.Input(id=NAME, type="text", placeholder="a name", style=INPUT),
                        "16rem",
                    ),
                    html.Button("Create", id=CREATE, n_clicks=0, style=BUTTON),
                ],
                style=ROW,
            ),
            html.P(id=STATUS, className="note"),
            html.Div(
                [
                    field(
                        "Change",
                        dcc.RadioItems(
                            id=KIND,
                            options=KINDS,
                            value="move_amount",
                            inline=True,
                            inputStyle={"marginLeft": "0.6rem"},
                        ),
                        "40rem",
                    ),
                    html.Div(
                        [
                            field(
                                "From cell (or invest in)",
                                dcc.Dropdown(id=FROM, options=cells),
                                "26rem",
                            ),
                            field(
                                "To cell (or saving in)",
                                dcc.Dropdown(id=TO, options=cells),
                                "26rem",
                            ),
                            field(
                                html.Span("Amount (£)", id=AMOUNT_LABEL),
                                dcc.Input(
                                    id=AMOUNT, type="text", placeholder="e.g. £2m", style=INPUT
                                ),
                                "9rem",
                            ),
                        ],
                        style=ROW | {"marginTop": "0.4rem"},
                    ),
                    html.Div(
                        [
                            html.Div(
                                [
                                    field(
                                        "Evidence (invest-to-save ratio)",
                                        dcc.Dropdown(
                                            id=EVIDENCE,
                                            options=[
                                                {
                                                    "label": f"{e.description} (×{e.ratio})",
                                                    "value": k,
                                                }
                                                for k, e in evidence.items()
                                            ],
                                            value=next(iter(evidence), None),
                                            clearable=False,
                                        ),
                                        "30rem",
                                    ),
                                    field(
                                        "Years",
                                        dcc.Input(
                                            id=YEARS,
                                            type="number",
                                            min=1,
                                            max=50,
                                            value=5,
                                            style=INPUT,
                                        ),
                                        "6rem",
                                    ),
                                ],
                                style=ROW,
                            ),
                            html.P(id=EVIDENCE_NOTE, className="note"),
                        ],
                        id=INVEST,
                        style=HIDDEN,
                    ),
                    html.Div(
                        [
                            html.Button("Add change and save", id=ADD, n_clicks=0, style=PRIMARY),
                            html.Button("Remove last change", id=UNDO, n_clicks=0, style=BUTTON),
                        ],
                        style=ROW | {"marginTop": "0.6rem"},
                    ),
                    html.Div(id=MESSAGE),
                    html.Div(
                        [
                            html.P(id=STALE_TEXT, style={"margin": "0 0 0.5rem"}),
                            html.Div(
                                [
                                    html.Button(
                                        "Load their version", id=RELOAD, n_clicks=0, style=BUTTON
                                    ),
                                    html.Button(
                                        "Apply my change to their version",
                                        id=MERGE,
                                        n_clicks=0,
                                        style=PRIMARY,
                                    ),
                                ],
                                style=ROW,
                            ),
                        ],
                        id=STALE,
                        style=HIDDEN,
                        role="alert",
                    ),
                ],
                style=PANEL,
            ),
            html.H3("What the scenario does", style={"marginBottom": "0.2rem"}),
            html.Ol(id=LOG),
            html.H3("Baseline and scenario, side by side", style={"marginBottom": "0.2rem"}),
            html.P(id=TOTALS, className="note"),
            dag.AgGrid(
                id=COMPARE,
                columnDefs=COMPARE_COLUMNS,
                rowData=[],
                defaultColDef=DEFAULT_COL,
                dashGridOptions={"domLayout": "autoHeight"},
                className="ag-theme-alpine",
                style={"width": "100%"},
            ),
            html.Div(
                [
                    html.Div(
                        dcc.Graph(id=BARS, figure=empty_figure("Pick a scenario.")),
                        className="panel",
                    ),
                    html.Div(
                        dcc.Graph(id=WATERFALL, figure=empty_figure("Pick a scenario.")),
                        className="panel",
                    ),
                ],
                className="two-columns",
            ),
        ]
    )


def _info_dict(s: ScenarioInfo) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "version": s.version,
        "changes": list(s.changes),
        "updated_by": s.updated_by,
        "updated_at": f"{s.updated_at:%H:%M:%S}",
    }


@callback(
    Output(PICK, "options"),
    Output(PICK, "value"),
    Input(REV, "data"),
    Input(TICK, "n_intervals"),
    State(TOKEN, "data"),
    State(PICK, "value"),
)
def list_scenarios(_rev: int, _tick: int, token: str, current: int | None) -> tuple[Any, Any]:
    """The workshop's scenarios; the choice is kept (or the first one picked)."""
    try:
        found = data_workshop.get_workshop_service().list_scenarios(token)
    except ServiceError:
        return [], None
    options = [{"label": f"{s.name} (version {s.version})", "value": s.id} for s in found]
    ids = [s.id for s in found]
    if current in ids:
        return options, dash.no_update
    return options, (ids[0] if ids else None)


@callback(
    Output(MESSAGE, "children", allow_duplicate=True),
    Output(REV, "data", allow_duplicate=True),
    Output(PICK, "options", allow_duplicate=True),
    Output(PICK, "value", allow_duplicate=True),
    Input(CREATE, "n_clicks"),
    State(NAME, "value"),
    State(TOKEN, "data"),
    State(REV, "data"),
    prevent_initial_call=True,
)
def create(_n: int, name: str | None, token: str, rev: int) -> tuple[Any, ...]:
    service = data_workshop.get_workshop_service()
    try:
        made = service.create_scenario(token, name or "")
        found = service.list_scenarios(token)
    except ServiceError as exc:
        return failed(exc), bump(rev), dash.no_update, dash.no_update
    options = [{"label": f"{s.name} (version {s.version})", "value": s.id} for s in found]
    return done(f"Scenario “{made.name}” created."), bump(rev), options, made.id


@callback(
    Output(LOADED, "data"),
    Input(PICK, "value"),
    Input(REV, "data"),
    State(TOKEN, "data"),
)
def load(scenario_id: int | None, _rev: int, token: str) -> dict[str, Any] | None:
    """The saved scenario (its changes and the version edits are checked against)."""
    if scenario_id is None:
        return None
    try:
        return _info_dict(data_workshop.get_workshop_service().get_scenario(token, scenario_id))
    except ServiceError:
        return None


@callback(
    Output(INVEST, "style"),
    Output(AMOUNT_LABEL, "children"),
    Output(EVIDENCE_NOTE, "children"),
    Input(KIND, "value"),
    Input(EVIDENCE, "value"),
)
def kind_form(kind: str, evidence_id: str | None) -> tuple[Any, str, Any]:
    label = {"move_percent": "Percentage (%)", "invest": "Investment (£)"}.get(kind, "Amount (£)")
    if kind != "invest":
        return HIDDEN, label, ""
    e = data_workshop.evidence().get(evidence_id or "")
    if e is None:
        return SHOWN, label, ""
    basis = "every year" if e.recurring else "once, in year 1"
    return (
        SHOWN,
        label + (" a year" if e.recurring else " once"),
        (f"£1 invested ({basis}) saves £{e.ratio} a year. {e.citation}: “{e.quote}”. {e.note}"),
    )


def _change(
    kind: str,
    from_value: str | None,
    to_value: str | None,
    amount: str | None,
    evidence_id: str | None,
    years: int | None,
) -> dict[str, Any]:
    """The change the form describes, as the engine stores it (raises on bad input)."""
    a, b = cell_from_value(from_value), cell_from_value(to_value)
    if a is None or b is None:
        raise sc.ScenarioError("choose both cells (from and to)")
    first, second = sc.CellRef(*a), sc.CellRef(*b)
    if kind == "move_percent":
        change: sc.Change = sc.Move(first, second, percent=data_workshop.parse_percent(amount))
    elif kind == "invest":
        e = data_workshop.evidence().get(evidence_id or "")
        if e is None:
            raise sc.ScenarioError("choose the evidence for the invest-to-save ratio")
        change = sc.invest_from_evidence(
            e, first, second, data_workshop.parse_pounds(amount), int(years or 1)
        )
    else:
        change = sc.Move(first, second, amount_pence=data_workshop.parse_pounds(amount))
    return sc.change_to_dict(change)


def _edited(changes: list[dict[str, Any]], pending: dict[str, Any]) -> list[dict[str, Any]]:
    """``changes`` with the pending edit made: a change added, or one change removed (the
    same change the person saw last, even when others have added changes since)."""
    if pending["op"] == "add":
        return [*changes, pending["change"]]
    target = pending.get("change")
    for i in range(len(changes) - 1, -1, -1):
        if changes[i] == target:
            return changes[:i] + changes[i + 1 :]
    raise sc.ScenarioError("the change you removed is no longer in the scenario")


@callback(
    Output(MESSAGE, "children", allow_duplicate=True),
    Output(REV, "data", allow_duplicate=True),
    Output(STALE, "style"),
    Output(STALE_TEXT, "children"),
    Output(PENDING, "data"),
    Input(ADD, "n_clicks"),
    Input(UNDO, "n_clicks"),
    Input(RELOAD, "n_clicks"),
    Input(MERGE, "n_clicks"),
    State(KIND, "value"),
    State(FROM, "value"),
    State(TO, "value"),
    State(AMOUNT, "value"),
    State(EVIDENCE, "value"),
    State(YEARS, "value"),
    State(LOADED, "data"),
    State(PENDING, "data"),
    State(TOKEN, "data"),
    State(INFO, "data"),
    State(REV, "data"),
    prevent_initial_call=True,
)
def edit(
    _add: int,
    _undo: int,
    _reload: int,
    _merge: int,
    kind: str,
    from_value: str | None,
    to_value: str | None,
    amount: str | None,
    evidence_id: str | None,
    years: int | None,
    loaded: dict[str, Any] | None,
    pending: dict[str, Any] | None,
    token: str,
    info: dict[str, Any],
    rev: int,
) -> tuple[Any, ...]:
    """Save a change (add, remove last, or merge after a conflict) against the loaded version."""
    trigger = ctx.triggered_id
    quiet = (rev, HIDDEN, "", None)
    if loaded is None:
        return (say("Create or pick a scenario first."), *quiet)
    service = data_workshop.get_workshop_service()
    if trigger == RELOAD:
        return (
            done("Loaded the version saved last; make your change again."),
            bump(rev),
            HIDDEN,
            "",
            None,
        )
    try:
        if trigger == MERGE:
            if not pending:
                return (say("Nothing to merge."), *quiet)
            current = service.get_scenario(token, int(loaded["id"]))
            version, changes = current.version, list(current.changes)
        else:
            version, changes = int(loaded["version"]), list(loaded["changes"])
            if trigger == UNDO:
                if not changes:
                    return (say("The scenario has no change to remove."), *quiet)
                pending = {"op": "undo", "change": changes[-1]}
            else:
                change = _change(kind, from_value, to_value, amount, evidence_id, years)
                pending = {"op": "add", "change": change}
        new = _edited(changes, pending)
        sc.apply(data_workshop.baseline(info["place"], info["year"]), new)  # refuse bad ones
        saved = service.update_scenario(token, int(loaded["id"]), version, new)
    except StaleVersion as exc:
        now = exc.current
        who = f"{now.updated_by} saved version {now.version} at {now.updated_at:%H:%M:%S} UTC"
        text = (
            f"Someone saved first: {who}, while you had version {exc.expected_version}. "
            "Your change was not saved. Load their version, or apply your change to it."
        )
        return None, rev, STALE_STYLE, text, pending
    except ServiceError as exc:
        return (failed(exc), bump(rev), HIDDEN, "", None)
    what = "Removed the last change" if pending["op"] == "undo" else "Added the change"
    return (
        done(f"{what}: “{saved.name}” is now version {saved.version}."),
        bump(rev),
        HIDDEN,
        "",
        None,
    )


@callback(
    Output(STATUS, "children"),
    Output(LOG, "children"),
    Output(TOTALS, "children"),
    Output(COMPARE, "rowData"),
    Output(BARS, "figure"),
    Output(WATERFALL, "figure"),
    Input(LOADED, "data"),
    State(INFO, "data"),
)
def show(loaded: dict[str, Any] | None, info: dict[str, Any] | None) -> tuple[Any, ...]:
    """The loaded scenario applied to the baseline: its steps in words, the table, the charts."""
    if not loaded or not info:
        fig = empty_figure("No scenario yet: create one above.")
        return "No scenario picked.", [], "", [], fig, fig
    status = (
        f"“{loaded['name']}”, version {loaded['version']}, last saved by "
        f"{loaded['updated_by']} at {loaded['updated_at']} UTC."
    )
    base = data_workshop.baseline(info["place"], info["year"])
    try:
        frame, log = sc.apply(base, loaded["changes"])
    except sc.ScenarioError as exc:
        fig = empty_figure("This scenario cannot be applied.")
        return status, [html.Li(str(exc), className="error")], "", [], fig, fig
    comparison = sc.compare(base, frame)
    name = str(loaded["name"])
    items = [_log_item(e) for e in log] or [html.Li("No changes yet: it equals the baseline.")]
    return (
        status,
        items,
        _totals(comparison),
        _compare_rows(comparison),
        baseline_vs_scenario(comparison, name),
        scenario_waterfall(comparison, name),
    )


def _log_item(entry: sc.LogEntry) -> html.Li:
    """One change in words; an invest-to-save change adds its year-by-year table."""
    if entry.table is None:
        return html.Li(entry.message)
    head = ["Year", "Cost", "Saving", "Net", "Cumulative net"]
    cols = ["cost_pence", "saving_pence", "net_pence", "cumulative_net_pence"]
    cell = {"padding": "0.15rem 0.8rem", "textAlign": "right", "borderBottom": "1px solid #dde1e8"}
    body = [
        html.Tr(
            [html.Td(int(r["year"]), style=cell)]
            + [html.Td(format_gbp(int(r[c]) / 100), style=cell) for c in cols]
        )
        for r in entry.table.to_dict("records")
    ]
    table = html.Table(
        [html.Thead(html.Tr([html.Th(h, style=cell) for h in head])), html.Tbody(body)],
        className="ws-invest-table",
        style={"borderCollapse": "collapse", "margin": "0.3rem 0 0.6rem", "fontSize": "0.9rem"},
    )
    return html.Li([entry.message, table])


def _totals(comparison: pd.DataFrame) -> str:
    base = int(comparison["baseline_pence"].sum()) / 100
    scen = int(comparison["scenario_pence"].sum()) / 100
    moved = changed_cells(comparison)
    return (
        f"Baseline {format_gbp(base)}; scenario {format_gbp(scen)}; "
        f"{len(moved)} of {len(comparison)} cells changed (only those are listed)."
    )


def _compare_rows(comparison: pd.DataFrame) -> list[dict[str, Any]]:
    moved = changed_cells(comparison)
    return [
        {
            "cell": f"{r['agency_type']} × {r['function']}",
            "baseline": int(r["baseline_pence"]) / 100,
            "scenario": int(r["scenario_pence"]) / 100,
            "difference": int(r["difference_pence"]) / 100,
            "difference_pct": None if pd.isna(r["difference_pct"]) else float(r["difference_pct"]),
        }
        for r in moved.to_dict("records")
    ]
