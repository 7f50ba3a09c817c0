"""Scenarios: named lists of changes to the count (move an amount or a share between cells,
invest to save with a published ratio), saved with a version, and compared with the baseline.

Saving sends the version the person loaded; when someone saved first the server raises
StaleVersion, and the page says so and offers to load their version or to add this change on top
of it. Nothing is ever overwritten silently. A partner changes only their own scenarios (the
server refuses the rest, in words); anyone may copy a scenario into one of their own, or comment.
Invest-to-save savings are cashable or not (a tick box when adding, a tick list for the saved
ones); the savings chart shows the two totals.
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
from dashboards.figures.scenario import (
    baseline_vs_scenario,
    changed_cells,
    savings_split,
    scenario_waterfall,
)
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
    long_text,
    say,
)
from totalplace.workshop import scenarios as sc
from totalplace.workshop.access import Caller, may_edit
from totalplace.workshop.models import Role
from totalplace.workshop.service import ScenarioInfo, StaleVersion

S = W + "sc-"
PICK, NAME, CREATE, STATUS = S + "pick", S + "name", S + "create", S + "status"
LOADED, PENDING = S + "loaded", S + "pending"
KIND, FROM, TO, AMOUNT, AMOUNT_LABEL = S + "kind", S + "from", S + "to", S + "amount", S + "amt-l"
INVEST, EVIDENCE, EVIDENCE_NOTE, YEARS = S + "invest", S + "evidence", S + "ev-note", S + "years"
ADD, UNDO, MESSAGE = S + "add", S + "undo", S + "msg"
STALE, STALE_TEXT, RELOAD, MERGE = S + "stale", S + "stale-text", S + "reload", S + "merge"
LOG, TOTALS, COMPARE, BARS, WATERFALL = S + "log", S + "totals", S + "compare", S + "bars", S + "wf"
CASHABLE, CASH_BOX, CASH_EDIT, CASH_SAVE = (
    S + "cashable",
    S + "cash-box",
    S + "cash-edit",
    S + "cash-save",
)
OWNER, COPY, COPIED = S + "owner", S + "copy", S + "copied"
COMMENT, COMMENT_ADD, COMMENT_MSG, COMMENTS = S + "cm-text", S + "cm-add", S + "cm-msg", S + "cms"
SAVINGS = S + "savings"
HIDDEN, SHOWN = {"display": "none"}, {"display": "block"}
#: The copy button, shown under the owner note of a scenario the person may not change.
COPY_SHOWN = PRIMARY | {"margin": "0.4rem 0 0.6rem"}
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


def section(baseline: pd.DataFrame, token: str, info: dict[str, Any]) -> html.Div:
    """The scenario editor, opened on the first scenario with everything it shows filled in."""
    cells = cell_options(baseline)
    evidence = data_workshop.evidence()
    options, picked = _choices(token, None)
    loaded = _load(token, picked)
    (
        status,
        owner,
        log,
        totals,
        compare,
        bars,
        waterfall,
        savings_fig,
        cash_box,
        cash_options,
        cash_value,
        copy_style,
    ) = show(loaded, info)
    return html.Div(
        [
            dcc.Store(id=LOADED, data=loaded),
            dcc.Store(id=PENDING),
            heading("Scenarios", "partners and the facilitator; each changes only their own"),
            html.Div(
                [
                    field(
                        "Scenario",
                        dcc.Dropdown(id=PICK, options=options, value=picked, clearable=False),
                        "28rem",
                    ),
                    field(
                        "New scenario",
                        dcc.Input(id=NAME, type="text", placeholder="a name", style=INPUT),
                        "16rem",
                    ),
                    html.Button("Create", id=CREATE, n_clicks=0, style=BUTTON),
                ],
                style=ROW,
            ),
            html.P(status, id=STATUS, className="note"),
            html.Div(owner, id=OWNER),
            html.Button("Copy to my own scenario", id=COPY, n_clicks=0, style=copy_style),
            html.Div(id=COPIED),
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
                                    dcc.Checklist(
                                        id=CASHABLE,
                                        options=[
                                            {
                                                "label": " savings are cashable (budgets can be "
                                                "cut); untick if they only free capacity",
                                                "value": "cashable",
                                            }
                                        ],
                                        value=["cashable"],
                                        inputStyle={"marginRight": "0.3rem"},
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
                    html.Div(
                        [
                            html.P(
                                "Invest-to-save changes of this scenario whose savings are "
                                "cashable (untick one to mark it non-cashable):",
                                className="note",
                            ),
                            dcc.Checklist(
                                id=CASH_EDIT,
                                options=cash_options,
                                value=cash_value,
                                inputStyle={"marginRight": "0.3rem"},
                            ),
                            html.Button(
                                "Save cashable choices", id=CASH_SAVE, n_clicks=0, style=BUTTON
                            ),
                        ],
                        id=CASH_BOX,
                        style=cash_box,
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
            html.Ol(log, id=LOG),
            html.H3("Baseline and scenario, side by side", style={"marginBottom": "0.2rem"}),
            html.P(totals, id=TOTALS, className="note"),
            dag.AgGrid(
                id=COMPARE,
                columnDefs=COMPARE_COLUMNS,
                rowData=compare,
                defaultColDef=DEFAULT_COL,
                dashGridOptions={"domLayout": "autoHeight"},
                className="ag-theme-alpine",
                style={"width": "100%"},
            ),
            html.Div(
                [
                    html.Div(dcc.Graph(id=BARS, figure=bars), className="panel"),
                    html.Div(dcc.Graph(id=WATERFALL, figure=waterfall), className="panel"),
                ],
                className="two-columns",
            ),
            html.Div(dcc.Graph(id=SAVINGS, figure=savings_fig), className="panel"),
            html.H3("Comments on this scenario", style={"marginBottom": "0.2rem"}),
            html.Ul(_comment_items(token, picked), id=COMMENTS),
            html.Div(
                [
                    field(
                        "Comment",
                        dcc.Textarea(id=COMMENT, style=INPUT | {"height": "3rem"}),
                        "36rem",
                    ),
                    html.Button("Add comment", id=COMMENT_ADD, n_clicks=0, style=BUTTON),
                ],
                style=ROW,
            ),
            html.Div(id=COMMENT_MSG),
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
        "owner": s.created_by,
        "owner_token_id": s.owner_token_id,
    }


def _options(found: list[ScenarioInfo]) -> list[dict[str, Any]]:
    return [
        {"label": f"{s.name} (version {s.version}, {s.created_by}'s)", "value": s.id} for s in found
    ]


def _choices(token: str, current: int | None) -> tuple[list[dict[str, Any]], int | None]:
    """The scenario dropdown: every scenario, and the one to show (kept, else the first)."""
    try:
        found = data_workshop.get_workshop_service().list_scenarios(token)
    except ServiceError:
        return [], None
    ids = [s.id for s in found]
    return _options(found), (current if current in ids else (ids[0] if ids else None))


def _load(token: str, scenario_id: int | None) -> dict[str, Any] | None:
    if scenario_id is None:
        return None
    try:
        return _info_dict(data_workshop.get_workshop_service().get_scenario(token, scenario_id))
    except ServiceError:
        return None


def _comment_items(token: str, scenario_id: int | None) -> list[Any]:
    if scenario_id is None:
        return []
    try:
        found = data_workshop.get_workshop_service().scenario_comments(token, scenario_id)
    except ServiceError:
        return []
    if not found:
        return [html.Li("No comments yet.", className="note")]
    return [
        html.Li([html.Strong(f"{e.actor} ({e.at:%H:%M}): "), long_text(e.payload.get("text"))])
        for e in found
    ]


def _may_edit(loaded: dict[str, Any], info: dict[str, Any]) -> bool:
    """For display only (the server decides on every save): may this person edit it?"""
    caller = Caller(int(info.get("token_id") or 0), 0, Role(info["role"]), str(info["name"]))
    return may_edit(caller, loaded.get("owner_token_id"))


@callback(
    Output(PICK, "options"),
    Output(PICK, "value"),
    Input(REV, "data"),
    Input(TICK, "n_intervals"),
    State(TOKEN, "data"),
    State(PICK, "value"),
    prevent_initial_call=True,
)
def list_scenarios(_rev: int, _tick: int, token: str, current: int | None) -> tuple[Any, Any]:
    """The workshop's scenarios; the choice is kept (or the first one picked)."""
    options, picked = _choices(token, current)
    return options, (dash.no_update if picked == current else picked)


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
    return done(f"Scenario “{made.name}” created."), bump(rev), _options(found), made.id


@callback(
    Output(COPIED, "children"),
    Output(REV, "data", allow_duplicate=True),
    Output(PICK, "options", allow_duplicate=True),
    Output(PICK, "value", allow_duplicate=True),
    Input(COPY, "n_clicks"),
    State(LOADED, "data"),
    State(TOKEN, "data"),
    State(REV, "data"),
    prevent_initial_call=True,
)
def copy(n: int | None, loaded: dict[str, Any] | None, token: str, rev: int) -> tuple[Any, ...]:
    """Copy the shown scenario into a new one of the caller's own, and open it."""
    if not n:
        raise dash.exceptions.PreventUpdate
    if not loaded:
        return say("Pick a scenario to copy."), rev, dash.no_update, dash.no_update
    service = data_workshop.get_workshop_service()
    try:
        made = service.copy_scenario(token, int(loaded["id"]))
        found = service.list_scenarios(token)
    except ServiceError as exc:
        return failed(exc), bump(rev), dash.no_update, dash.no_update
    words = f"Copied to “{made.name}”: it is yours to change."
    return done(words), bump(rev), _options(found), made.id


@callback(
    Output(COMMENT_MSG, "children"),
    Output(COMMENTS, "children"),
    Output(COMMENT, "value"),
    Input(COMMENT_ADD, "n_clicks"),
    State(COMMENT, "value"),
    State(LOADED, "data"),
    State(TOKEN, "data"),
    prevent_initial_call=True,
)
def add_comment(
    _n: int, text: str | None, loaded: dict[str, Any] | None, token: str
) -> tuple[Any, ...]:
    if not loaded:
        return say("Pick a scenario to comment on."), dash.no_update, text
    try:
        data_workshop.get_workshop_service().comment_scenario(token, int(loaded["id"]), text or "")
    except ServiceError as exc:
        return failed(exc), dash.no_update, text
    return done("Comment added."), _comment_items(token, int(loaded["id"])), ""


@callback(
    Output(LOADED, "data"),
    Output(COMMENTS, "children", allow_duplicate=True),
    Input(PICK, "value"),
    Input(REV, "data"),
    State(TOKEN, "data"),
    prevent_initial_call=True,
)
def load(scenario_id: int | None, _rev: int, token: str) -> tuple[Any, Any]:
    """The saved scenario (its changes and the version edits are checked against)."""
    return _load(token, scenario_id), _comment_items(token, scenario_id)


@callback(
    Output(INVEST, "style"),
    Output(AMOUNT_LABEL, "children"),
    Output(EVIDENCE_NOTE, "children"),
    Input(KIND, "value"),
    Input(EVIDENCE, "value"),
    prevent_initial_call=True,  # the layout opens on "move an amount"
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
    cashable: bool = True,
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
            e, first, second, data_workshop.parse_pounds(amount), int(years or 1), cashable=cashable
        )
    else:
        change = sc.Move(first, second, amount_pence=data_workshop.parse_pounds(amount))
    return sc.change_to_dict(change)


def _edited(changes: list[dict[str, Any]], pending: dict[str, Any]) -> list[dict[str, Any]]:
    """``changes`` with the pending edit made: a change added, one change removed (the
    same change the person saw last, even when others have added changes since), or the
    cashable flags of invest-to-save changes set (by step)."""
    if pending["op"] == "add":
        return [*changes, pending["change"]]
    if pending["op"] == "cashable":
        out = [dict(c) for c in changes]
        for step, cashable in pending["steps"].items():
            i = int(step) - 1
            if i >= len(out) or out[i].get("kind") != "invest_to_save":
                raise sc.ScenarioError(f"change {step} is no longer an invest-to-save change")
            out[i]["cashable"] = bool(cashable)
        return out
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
    Input(CASH_SAVE, "n_clicks"),
    State(KIND, "value"),
    State(FROM, "value"),
    State(TO, "value"),
    State(AMOUNT, "value"),
    State(EVIDENCE, "value"),
    State(YEARS, "value"),
    State(CASHABLE, "value"),
    State(CASH_EDIT, "value"),
    State(CASH_EDIT, "options"),
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
    _cash: int,
    kind: str,
    from_value: str | None,
    to_value: str | None,
    amount: str | None,
    evidence_id: str | None,
    years: int | None,
    cashable: list[str] | None,
    cash_steps: list[int] | None,
    cash_options: list[dict[str, Any]] | None,
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
            elif trigger == CASH_SAVE:
                ticked = set(cash_steps or [])
                steps = {str(o["value"]): o["value"] in ticked for o in cash_options or []}
                pending = {"op": "cashable", "steps": steps}
            else:
                change = _change(
                    kind,
                    from_value,
                    to_value,
                    amount,
                    evidence_id,
                    years,
                    cashable="cashable" in (cashable or []),
                )
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
    what = {
        "undo": "Removed the last change",
        "cashable": "Saved which savings are cashable",
    }.get(pending["op"], "Added the change")
    return (
        done(f"{what}: “{saved.name}” is now version {saved.version}."),
        bump(rev),
        HIDDEN,
        "",
        None,
    )


@callback(
    Output(STATUS, "children"),
    Output(OWNER, "children"),
    Output(LOG, "children"),
    Output(TOTALS, "children"),
    Output(COMPARE, "rowData"),
    Output(BARS, "figure"),
    Output(WATERFALL, "figure"),
    Output(SAVINGS, "figure"),
    Output(CASH_BOX, "style"),
    Output(CASH_EDIT, "options"),
    Output(CASH_EDIT, "value"),
    Output(COPY, "style"),
    Input(LOADED, "data"),
    State(INFO, "data"),
    prevent_initial_call=True,  # the layout opens with it filled in
)
def show(loaded: dict[str, Any] | None, info: dict[str, Any] | None) -> tuple[Any, ...]:
    """The loaded scenario applied to the baseline: its steps in words, the table, the charts,
    who owns it, and which invest-to-save savings are cashable."""
    if not loaded or not info:
        fig = empty_figure("No scenario yet: create one above.")
        return "No scenario picked.", None, [], "", [], fig, fig, fig, HIDDEN, [], [], HIDDEN
    status = (
        f"“{loaded['name']}”, version {loaded['version']}, last saved by "
        f"{loaded['updated_by']} at {loaded['updated_at']} UTC."
    )
    owner = _owner_note(loaded, info)
    copy_style = HIDDEN if _may_edit(loaded, info) else COPY_SHOWN
    invest = [
        (i, c) for i, c in enumerate(loaded["changes"], 1) if c.get("kind") == "invest_to_save"
    ]
    cash_options = [
        {"label": f" change {i}: {sc.describe_change(c)}", "value": i} for i, c in invest
    ]
    cash_value = [i for i, c in invest if c.get("cashable", True)]
    cash_box = SHOWN if invest else HIDDEN
    base = data_workshop.baseline(info["place"], info["year"])
    try:
        frame, log = sc.apply(base, loaded["changes"])
    except sc.ScenarioError as exc:
        fig = empty_figure("This scenario cannot be applied.")
        items = [html.Li(str(exc), className="error")]
        return (
            status,
            owner,
            items,
            "",
            [],
            fig,
            fig,
            fig,
            cash_box,
            cash_options,
            cash_value,
            copy_style,
        )
    comparison = sc.compare(base, frame)
    savings = sc.savings(log)
    name = str(loaded["name"])
    items = [_log_item(e) for e in log] or [html.Li("No changes yet: it equals the baseline.")]
    return (
        status,
        owner,
        items,
        _totals(comparison, savings),
        _compare_rows(comparison),
        baseline_vs_scenario(comparison, name),
        scenario_waterfall(comparison, name),
        savings_split(savings, name),
        cash_box,
        cash_options,
        cash_value,
        copy_style,
    )


def _owner_note(loaded: dict[str, Any], info: dict[str, Any]) -> Any:
    """Whose scenario this is, and what the person can do with it."""
    if _may_edit(loaded, info):
        whose = (
            "yours"
            if loaded.get("owner_token_id") == info.get("token_id")
            else (f"{loaded['owner']}'s; as facilitator you may change it")
        )
        return html.P(f"This scenario is {whose}.", className="note", id=S + "owner-text")
    # the copy button below the note is part of the page, not of the note: redrawing the note
    # (each time the scenario reloads) must not swallow a click
    return html.Div(
        html.P(
            f"This scenario is {loaded['owner']}'s: only they or a facilitator can change it. "
            "Copy it to make your own version, or comment on it below.",
            id=S + "owner-text",
            style={"margin": "0"},
        ),
        style=PANEL,
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


def _totals(comparison: pd.DataFrame, savings: pd.DataFrame | None = None) -> str:
    base = int(comparison["baseline_pence"].sum()) / 100
    scen = int(comparison["scenario_pence"].sum()) / 100
    moved = changed_cells(comparison)
    text = (
        f"Baseline {format_gbp(base)}; scenario {format_gbp(scen)}; "
        f"{len(moved)} of {len(comparison)} cells changed (only those are listed)."
    )
    if savings is not None and not savings.empty:
        cash = int(savings["cashable_pence"].sum()) / 100
        capacity = int(savings["non_cashable_pence"].sum()) / 100
        text += (
            f" Invest-to-save savings over their years: {format_gbp(cash)} cashable, "
            f"{format_gbp(capacity)} non-cashable (capacity freed, budgets unchanged)."
        )
    return text


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
