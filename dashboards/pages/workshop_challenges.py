"""Challenges: a partner pins a question to a cell (with a proposed amount or driver); the
facilitator accepts or rejects it with a reason. An accepted amount or driver goes into the
'Accepted challenges' scenario, never into the baseline."""

from __future__ import annotations

from typing import Any

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, ctx, dcc, html

from dashboards import data_workshop
from dashboards.figures.money import format_gbp
from dashboards.pages.workshop_common import (
    BUTTON,
    CELL,
    DEFAULT_COL,
    INFO,
    INPUT,
    PANEL,
    PRIMARY,
    REV,
    ROW,
    SINGLE_ROW,
    TICK,
    TOKEN,
    ServiceError,
    W,
    bump,
    clip,
    done,
    failed,
    field,
    heading,
    long_text,
    say,
)
from totalplace.workshop.service import ACCEPTED_SCENARIO, ChallengeInfo, FigureCell

TEXT, KIND, AMOUNT, DRIVER = W + "ch-text", W + "ch-kind", W + "ch-amount", W + "ch-driver"
SUBMIT, MESSAGE, GRID, FULL = W + "ch-submit", W + "ch-msg", W + "ch-grid", W + "ch-full"
REASON, ACCEPT, REJECT, DECIDED = (
    W + "ch-reason",
    W + "ch-accept",
    W + "ch-reject",
    W + "ch-decided",
)
COLUMNS = [
    {"field": "id", "headerName": "#", "width": 70, "sort": "desc"},
    {"field": "cell", "headerName": "Cell", "flex": 2.5, "minWidth": 220},
    {"field": "text", "headerName": "Challenge", "flex": 3, "minWidth": 240},
    {"field": "proposed", "headerName": "Proposed", "flex": 1.2, "minWidth": 130},
    {"field": "author", "headerName": "By", "flex": 1, "minWidth": 110},
    {"field": "status", "headerName": "Status", "flex": 1, "minWidth": 100},
    {"field": "decision", "headerName": "Decision", "flex": 2.5, "minWidth": 200},
]


def section(initial_rows: list[dict[str, Any]]) -> html.Div:
    """The challenge form, the grid (filled from the start: no round trip on opening) and the
    facilitator's decision panel."""
    return html.Div(
        [
            heading("Challenges", "partners and the facilitator raise; the facilitator decides"),
            html.Div(
                [
                    html.P(
                        "Pick a cell in the count above, say what is wrong with it and, if you "
                        "can, what it should be.",
                        className="note",
                    ),
                    dcc.Textarea(
                        id=TEXT,
                        placeholder="e.g. This includes the pooled budget we already count.",
                        style=INPUT | {"height": "4.2rem"},
                    ),
                    html.Div(
                        [
                            field(
                                "Propose",
                                dcc.RadioItems(
                                    id=KIND,
                                    options=[
                                        {"label": " nothing", "value": "none"},
                                        {"label": " an amount", "value": "amount"},
                                        {"label": " a driver", "value": "driver"},
                                    ],
                                    value="amount",
                                    inline=True,
                                    inputStyle={"marginLeft": "0.6rem"},
                                ),
                                "18rem",
                            ),
                            field(
                                "Amount (£)",
                                dcc.Input(
                                    id=AMOUNT, type="text", placeholder="e.g. £1.2m", style=INPUT
                                ),
                                "11rem",
                            ),
                            field(
                                "Driver",
                                dcc.Dropdown(
                                    id=DRIVER,
                                    options=[
                                        {"label": label, "value": name}
                                        for name, label in data_workshop.drivers()
                                    ],
                                    placeholder="a driver",
                                ),
                                "14rem",
                            ),
                            html.Button("Raise challenge", id=SUBMIT, n_clicks=0, style=PRIMARY),
                        ],
                        style=ROW | {"marginTop": "0.5rem"},
                    ),
                    html.Div(id=MESSAGE),
                ],
                style=PANEL,
            ),
            html.Div(
                dag.AgGrid(
                    id=GRID,
                    columnDefs=COLUMNS,
                    rowData=initial_rows,
                    defaultColDef=DEFAULT_COL,
                    getRowId="params.data.key",
                    dashGridOptions={"domLayout": "autoHeight", "rowSelection": SINGLE_ROW},
                    className="ag-theme-alpine",
                    style={"width": "100%"},
                ),
                style={"marginTop": "0.6rem"},
            ),
            html.Div(
                id=FULL,
                children=html.P(
                    "Long texts are cut short in the table: select a challenge to read it in "
                    "full here.",
                    className="note",
                ),
            ),
            html.Div(
                [
                    html.P(
                        "Select a challenge above, give the reason, then accept or reject it. "
                        f"An accepted amount or driver goes into the scenario “{ACCEPTED_SCENARIO}”"
                        ": the baseline is never changed.",
                        className="note",
                    ),
                    html.Div(
                        [
                            field(
                                "Reason",
                                dcc.Input(id=REASON, type="text", style=INPUT),
                                "28rem",
                            ),
                            html.Button("Accept", id=ACCEPT, n_clicks=0, style=PRIMARY),
                            html.Button("Reject", id=REJECT, n_clicks=0, style=BUTTON),
                        ],
                        style=ROW,
                    ),
                    html.Div(id=DECIDED),
                ],
                style=PANEL,
            ),
        ]
    )


def _proposed(c: ChallengeInfo) -> str:
    if c.proposed_amount_pence is not None:
        return format_gbp(c.proposed_amount_pence / 100)
    return f"driver: {c.proposed_driver}" if c.proposed_driver else ""


def _decision(c: ChallengeInfo) -> str:
    return f"{c.decided_by}: {c.reason}" if c.decided_by else ""


def rows(challenges: list[ChallengeInfo]) -> list[dict[str, Any]]:
    """Grid rows, newest first (the order never depends on when an update arrived); long texts
    are clipped (the whole text is read under the grid)."""
    return [
        {
            "key": str(c.id),
            "id": c.id,
            "cell": f"{c.cell.agency_type} × {c.cell.column}",
            "text": clip(c.text),
            "proposed": _proposed(c),
            "author": c.author,
            "status": c.status.value,
            "decision": clip(_decision(c)),
        }
        for c in sorted(challenges, key=lambda c: c.id, reverse=True)
    ]


def initial_rows(token: str) -> list[dict[str, Any]]:
    """The grid's rows when the page opens (empty if the server refuses)."""
    try:
        return rows(data_workshop.get_workshop_service().list_challenges(token))
    except ServiceError:
        return []


@callback(
    Output(GRID, "rowData"),
    Input(REV, "data"),
    Input(TICK, "n_intervals"),
    State(TOKEN, "data"),
    State(GRID, "rowData"),
    prevent_initial_call=True,
)
def refresh(_rev: int, _tick: int, token: str, shown: list[dict[str, Any]] | None) -> Any:
    """The challenges as saved now. Nothing is sent when nothing changed, and a refusal or a
    failed read keeps the rows shown (never an empty grid until a reload)."""
    try:
        fresh = rows(data_workshop.get_workshop_service().list_challenges(token))
    except ServiceError:
        return dash.no_update
    return dash.no_update if fresh == shown else fresh


@callback(
    Output(FULL, "children"),
    Input(GRID, "selectedRows"),
    State(TOKEN, "data"),
    prevent_initial_call=True,
)
def read_in_full(selected: list[dict[str, Any]] | None, token: str) -> Any:
    """The selected challenge's whole text and decision (the grid shows only their start)."""
    if not selected:
        return html.P("Select a challenge to read it in full here.", className="note")
    challenge_id = int(selected[0]["id"])
    try:
        found = data_workshop.get_workshop_service().list_challenges(token)
    except ServiceError as exc:
        return failed(exc)
    c = next((c for c in found if c.id == challenge_id), None)
    if c is None:
        return html.P(f"Challenge #{challenge_id} is no longer there.", className="note")
    return html.Div(
        [
            html.H3(f"Challenge #{c.id} by {c.author}", style={"margin": "0.6rem 0 0.2rem"}),
            long_text(c.text, id=W + "ch-full-text"),
            html.P(["Decision: ", long_text(_decision(c))]) if c.decided_by else None,
        ],
        style=PANEL,
    )


@callback(
    Output(MESSAGE, "children"),
    Output(REV, "data", allow_duplicate=True),
    Output(TEXT, "value"),
    Input(SUBMIT, "n_clicks"),
    State(TOKEN, "data"),
    State(INFO, "data"),
    State(CELL, "data"),
    State(TEXT, "value"),
    State(KIND, "value"),
    State(AMOUNT, "value"),
    State(DRIVER, "value"),
    State(REV, "data"),
    prevent_initial_call=True,
)
def raise_challenge(
    _n: int,
    token: str,
    info: dict[str, Any],
    cell: dict[str, str] | None,
    text: str | None,
    kind: str,
    amount: str | None,
    driver: str | None,
    rev: int,
) -> tuple[Any, Any, Any]:
    """Send the challenge to the server (which checks the role and the cell)."""
    if not cell:
        return say("Pick a cell first: select a row of the count."), rev, text
    if kind == "amount" and not (amount or "").strip():
        return say("Type the amount you propose (or choose to propose nothing)."), rev, text
    service = data_workshop.get_workshop_service()
    try:
        pence = data_workshop.parse_pounds(amount) if kind == "amount" else None
        if kind == "driver" and not driver:
            return say("Choose the driver you propose (or propose nothing)."), rev, text
        figure = FigureCell(info["place"], info["year"], cell["agency_type"], cell["function"])
        made = service.create_challenge(
            token,
            figure,
            text or "",
            amount_pence=pence,
            driver=driver if kind == "driver" else None,
        )
    except ServiceError as exc:
        return failed(exc), bump(rev), text  # a refusal is an audit event too
    raised = f"Challenge #{made.id} raised on {figure.agency_type} × {figure.column}."
    return done(raised), bump(rev), ""


@callback(
    Output(DECIDED, "children"),
    Output(REV, "data", allow_duplicate=True),
    Input(ACCEPT, "n_clicks"),
    Input(REJECT, "n_clicks"),
    State(TOKEN, "data"),
    State(GRID, "selectedRows"),
    State(REASON, "value"),
    State(REV, "data"),
    prevent_initial_call=True,
)
def decide(
    _a: int,
    _r: int,
    token: str,
    selected: list[dict[str, Any]] | None,
    reason: str | None,
    rev: int,
) -> tuple[Any, Any]:
    """Accept or reject the selected challenge; the server refuses anyone but a facilitator."""
    if not selected:
        return say("Select a challenge in the table first."), rev
    challenge_id = int(selected[0]["id"])
    service = data_workshop.get_workshop_service()
    try:
        if ctx.triggered_id == ACCEPT:
            c = service.accept_challenge(token, challenge_id, reason or "")
            extra = f" Its correction is in the scenario “{ACCEPTED_SCENARIO}”." * bool(
                c.scenario_id
            )
            return done(f"Challenge #{c.id} accepted.{extra}"), bump(rev)
        c = service.reject_challenge(token, challenge_id, reason or "")
    except ServiceError as exc:
        return failed(exc), bump(rev)  # a refusal is an audit event too
    return done(f"Challenge #{c.id} rejected."), bump(rev)
