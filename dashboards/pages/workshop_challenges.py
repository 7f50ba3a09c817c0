"""Challenges: a partner pins a question to a cell (with a proposed amount or driver); the
facilitator accepts or rejects it with a reason. An accepted amount or driver goes into the
'Accepted challenges' scenario, never into the baseline."""

from __future__ import annotations

from typing import Any

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
    done,
    failed,
    field,
    heading,
    say,
)
from totalplace.workshop.service import ACCEPTED_SCENARIO, ChallengeInfo, FigureCell

TEXT, KIND, AMOUNT, DRIVER = W + "ch-text", W + "ch-kind", W + "ch-amount", W + "ch-driver"
SUBMIT, MESSAGE, GRID = W + "ch-submit", W + "ch-msg", W + "ch-grid"
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


def section() -> html.Div:
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
                    rowData=[],
                    defaultColDef=DEFAULT_COL,
                    getRowId="params.data.key",
                    dashGridOptions={"domLayout": "autoHeight", "rowSelection": SINGLE_ROW},
                    className="ag-theme-alpine",
                    style={"width": "100%"},
                ),
                style={"marginTop": "0.6rem"},
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


def rows(challenges: list[ChallengeInfo]) -> list[dict[str, Any]]:
    return [
        {
            "key": str(c.id),
            "id": c.id,
            "cell": f"{c.cell.agency_type} × {c.cell.column}",
            "text": c.text,
            "proposed": _proposed(c),
            "author": c.author,
            "status": c.status.value,
            "decision": f"{c.decided_by}: {c.reason}" if c.decided_by else "",
        }
        for c in challenges
    ]


@callback(
    Output(GRID, "rowData"),
    Input(REV, "data"),
    Input(TICK, "n_intervals"),
    State(TOKEN, "data"),
)
def refresh(_rev: int, _tick: int, token: str) -> list[dict[str, Any]]:
    try:
        return rows(data_workshop.get_workshop_service().list_challenges(token))
    except ServiceError:
        return []


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
