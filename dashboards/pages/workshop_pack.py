"""The facilitator's side of a workshop: links for partners and observers (shown to facilitators
only), snapshots frozen with their content hash, the workshop pack (XLSX, HTML and CSVs) to
download, and the audit trail."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, dcc, html
from flask import request

from dashboards import data, data_workshop
from dashboards.components.token import link_box
from dashboards.figures.money import format_gbp
from dashboards.pages.workshop_common import (
    BUTTON,
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

NAME, ROLE, ISSUE, ISSUED, LINKS = (
    W + "inv-name",
    W + "inv-role",
    W + "inv-issue",
    W + "inv-msg",
    W + "inv-links",
)
LABEL, FREEZE, FROZEN = W + "snap-label", W + "snap-freeze", W + "snap-msg"
SNAPSHOT, EXPORT, EXPORTED = W + "snap-pick", W + "snap-export", W + "export-msg"
XLSX, HTML, CSV, AUDIT = W + "dl-xlsx", W + "dl-html", W + "dl-csv", W + "audit"
AUDIT_FULL = W + "audit-full"
AUDIT_COLUMNS = [
    {"field": "id", "headerName": "#", "width": 70, "sort": "desc"},
    {"field": "at", "headerName": "When (UTC)", "width": 170},
    {"field": "actor", "headerName": "Who", "flex": 1, "minWidth": 170},
    {"field": "role", "headerName": "Role", "width": 115},
    {"field": "action", "headerName": "Action", "flex": 1, "minWidth": 150},
    {"field": "target", "headerName": "On", "flex": 1, "minWidth": 190},
    {"field": "why", "headerName": "Why / detail", "flex": 3, "minWidth": 240},
]


def links_section() -> html.Div:
    return html.Div(
        [
            heading("People and links", "facilitator only"),
            html.Div(
                [
                    html.P(
                        "Each person gets their own link; it is shown once, here. Partners "
                        "challenge and build scenarios; observers read and export.",
                        className="note",
                    ),
                    html.Div(
                        [
                            field("Name", dcc.Input(id=NAME, type="text", style=INPUT), "16rem"),
                            field(
                                "Role",
                                dcc.Dropdown(
                                    id=ROLE,
                                    options=["partner", "observer", "facilitator"],
                                    value="partner",
                                    clearable=False,
                                    searchable=False,
                                ),
                                "11rem",
                            ),
                            html.Button("Create link", id=ISSUE, n_clicks=0, style=PRIMARY),
                        ],
                        style=ROW,
                    ),
                    html.Div(id=ISSUED),
                    html.Div(id=LINKS, children=[]),
                ],
                style=PANEL,
            ),
        ]
    )


def snapshot_section(token: str) -> html.Div:
    return html.Div(
        [
            heading("Snapshot and workshop pack", "the facilitator freezes; anyone exports"),
            html.Div(
                [
                    html.P(
                        "A snapshot freezes the figures, every challenge and every scenario with "
                        "its result; it is named by the SHA-256 of its content, so the same state "
                        "always gives the same hash.",
                        className="note",
                    ),
                    html.Div(
                        [
                            field(
                                "Label",
                                dcc.Input(
                                    id=LABEL,
                                    type="text",
                                    placeholder="e.g. end of day 1",
                                    style=INPUT,
                                ),
                                "20rem",
                            ),
                            html.Button("Freeze snapshot", id=FREEZE, n_clicks=0, style=PRIMARY),
                        ],
                        style=ROW,
                    ),
                    html.Div(id=FROZEN),
                    html.Div(
                        [
                            field(
                                "Snapshot",
                                dcc.Dropdown(id=SNAPSHOT, **_snapshot_choice(token, None)),
                                "30rem",
                            ),
                            html.Button(
                                "Export pack (XLSX, HTML, CSVs)",
                                id=EXPORT,
                                n_clicks=0,
                                style=BUTTON,
                            ),
                        ],
                        style=ROW | {"marginTop": "0.6rem"},
                    ),
                    html.Div(id=EXPORTED),
                    dcc.Download(id=XLSX),
                    dcc.Download(id=HTML),
                    dcc.Download(id=CSV),
                ],
                style=PANEL,
            ),
        ]
    )


def audit_section(token: str) -> html.Div:
    return html.Div(
        [
            heading("Audit trail"),
            html.P(
                "Every change and every refused action, oldest last; events cannot be changed.",
                className="note",
            ),
            dag.AgGrid(
                id=AUDIT,
                columnDefs=AUDIT_COLUMNS,
                rowData=audit_rows(token),
                defaultColDef=DEFAULT_COL,
                getRowId="params.data.key",
                dashGridOptions={
                    "domLayout": "autoHeight",
                    "pagination": True,
                    "paginationPageSize": 20,
                    "rowSelection": SINGLE_ROW,
                },
                className="ag-theme-alpine",
                style={"width": "100%"},
            ),
            html.Div(id=AUDIT_FULL),
        ]
    )


@callback(
    Output(ISSUED, "children"),
    Output(LINKS, "children"),
    Output(REV, "data", allow_duplicate=True),
    Input(ISSUE, "n_clicks"),
    State(NAME, "value"),
    State(ROLE, "value"),
    State(LINKS, "children"),
    State(TOKEN, "data"),
    State(REV, "data"),
    prevent_initial_call=True,
)
def issue(
    _n: int, name: str | None, role: str, links: list[Any] | None, token: str, rev: int
) -> tuple[Any, Any, int]:
    """A new token for a person; its link is shown once, here."""
    try:
        made = data_workshop.get_workshop_service().issue_token(token, role, name or "")
    except ServiceError as exc:
        return failed(exc), dash.no_update, bump(rev)
    path = dash.get_relative_path(f"/workshop?token={made.token}")
    url = request.host_url.rstrip("/") + path
    box = link_box(made.display_name, made.role.value, url, len(links or []))
    return (
        done(f"Link for {made.display_name} ({made.role.value}) created: send it to them."),
        [*(links or []), box],
        bump(rev),
    )


@callback(
    Output(FROZEN, "children"),
    Output(REV, "data", allow_duplicate=True),
    Input(FREEZE, "n_clicks"),
    State(LABEL, "value"),
    State(TOKEN, "data"),
    State(INFO, "data"),
    State(REV, "data"),
    prevent_initial_call=True,
)
def freeze(_n: int, label: str | None, token: str, info: dict[str, Any], rev: int) -> Any:
    """Freeze the workshop's state; the server refuses anyone but a facilitator."""
    service = data_workshop.get_workshop_service()
    try:
        snap = service.freeze_snapshot(
            token, data.count(info["place"], info["year"]), label=(label or None)
        )
    except ServiceError as exc:
        return failed(exc), bump(rev)
    if snap.reused:
        words = f"Nothing changed since snapshot {snap.id} (“{snap.label}”): same content, "
    else:
        words = f"Snapshot {snap.id} (“{snap.label}”) frozen; "
    return html.Div(
        [
            done(words + "its SHA-256 content hash is:"),
            html.Code(snap.content_hash, id=W + "snap-hash", style={"wordBreak": "break-all"}),
        ]
    ), bump(rev)


def _snapshot_choice(token: str, current: int | None) -> dict[str, Any]:
    """The snapshot dropdown's options and value (the newest, unless one is chosen)."""
    try:
        found = data_workshop.get_workshop_service().list_snapshots(token)
    except ServiceError:
        return {"options": [], "value": None}
    options = [
        {
            "label": f"{s.id}: {s.label} ({s.frozen_at:%d %b %H:%M}, {s.content_hash[:12]}…)",
            "value": s.id,
        }
        for s in found
    ]
    ids = [s.id for s in found]
    return {"options": options, "value": current if current in ids else (ids[-1] if ids else None)}


@callback(
    Output(SNAPSHOT, "options"),
    Output(SNAPSHOT, "value"),
    Input(REV, "data"),
    State(TOKEN, "data"),
    State(SNAPSHOT, "value"),
    prevent_initial_call=True,
)
def list_snapshots(_rev: int, token: str, current: int | None) -> tuple[Any, Any]:
    choice = _snapshot_choice(token, current)
    return choice["options"], choice["value"]


@callback(
    Output(EXPORTED, "children"),
    Output(XLSX, "data"),
    Output(HTML, "data"),
    Output(CSV, "data"),
    Output(REV, "data", allow_duplicate=True),
    Input(EXPORT, "n_clicks"),
    State(SNAPSHOT, "value"),
    State(TOKEN, "data"),
    State(REV, "data"),
    prevent_initial_call=True,
)
def export(_n: int, snapshot_id: int | None, token: str, rev: int) -> tuple[Any, ...]:
    """The pack of the chosen snapshot, as three downloads (XLSX, HTML and a zip of CSVs)."""
    if snapshot_id is None:
        return say("Freeze a snapshot first, then export its pack."), None, None, None, rev
    service = data_workshop.get_workshop_service()
    with tempfile.TemporaryDirectory(prefix="totalplace-pack-") as tmp:
        try:
            pack = service.export_pack(token, int(snapshot_id), Path(tmp))
        except ServiceError as exc:
            return failed(exc), None, None, None, bump(rev)
        files = [dcc.send_bytes(p.read_bytes(), p.name) for p in (pack.xlsx, pack.html, pack.csv)]
    names = f"{pack.xlsx.name}, {pack.html.name} and {pack.csv.name}"
    return done(f"Pack exported: {names}."), *files, bump(rev)


def audit_rows(token: str) -> list[dict[str, Any]]:
    """The audit grid's rows, newest first: the detail clipped, the whole of it in ``full``."""
    try:
        events = data_workshop.get_workshop_service().audit(token)
    except ServiceError:
        return []
    out = []
    for e in reversed(events):
        detail = _detail(e.action, e.payload)
        full = " — ".join(t for t in (detail, e.why or "") if t)
        out.append(
            {
                "key": str(e.id),
                "id": e.id,
                "at": f"{e.at:%Y-%m-%d %H:%M:%S}",
                "actor": e.actor,
                "role": e.role,
                "action": e.action,
                "target": e.target,
                "why": clip(full),
                "full": full,
            }
        )
    return out


@callback(
    Output(AUDIT, "rowData"),
    Input(REV, "data"),
    Input(TICK, "n_intervals"),
    State(TOKEN, "data"),
    State(AUDIT, "rowData"),
    prevent_initial_call=True,
)
def audit(_rev: int, _tick: int, token: str, shown: list[dict[str, Any]] | None) -> Any:
    fresh = audit_rows(token)
    return dash.no_update if not fresh or fresh == shown else fresh


@callback(
    Output(AUDIT_FULL, "children"),
    Input(AUDIT, "selectedRows"),
    prevent_initial_call=True,
)
def audit_in_full(selected: list[dict[str, Any]] | None) -> Any:
    """The selected event's whole detail (the grid shows only its start)."""
    if not selected or not selected[0].get("full"):
        return None
    row = selected[0]
    return html.Div(
        [html.Strong(f"#{row['id']} {row['action']} by {row['actor']}: "), long_text(row["full"])],
        style=PANEL,
    )


def _detail(action: str, payload: dict[str, Any]) -> str:
    """A line saying what an event did, where it has no 'why'."""
    if action == "denied":
        return f"refused: {payload.get('action', '')}" + (
            f" ({payload['refused']}, scenario {payload.get('scenario_id')})"
            if payload.get("refused")
            else ""
        )
    if payload.get("summary"):
        return "; ".join(str(x) for x in payload["summary"])
    if action == "scenario.comment":
        return f"comment: {payload.get('text', '')}"
    cell = payload.get("cell")
    if isinstance(cell, dict):
        where = f"{cell.get('agency_type')} × {cell.get('function') or cell.get('theme')}"
        if payload.get("amount_pence") is not None:
            return f"{where}: proposes {format_gbp(int(payload['amount_pence']) / 100)}"
        driver = payload.get("driver")
        return f"{where}: proposes driver {driver}" if driver else where
    if "content_hash" in payload:
        return f"SHA-256 {payload['content_hash']}"
    if "display_name" in payload:
        return f"{payload.get('display_name')} ({payload.get('role', '')})"
    if "version" in payload:
        return f"version {payload['version']}"
    return ""
