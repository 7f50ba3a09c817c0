"""The workshop's figures: the count by agency type × function, the cell a person picks to
challenge, and that cell's history of challenges and decisions."""

from __future__ import annotations

from typing import Any

import dash
import dash_ag_grid as dag
import pandas as pd
from dash import Input, Output, State, callback, html

from dashboards import data_workshop
from dashboards.figures.money import format_gbp
from dashboards.pages.workshop_common import (
    CELL,
    GBP_FORMAT,
    INFO,
    PANEL,
    REV,
    SINGLE_ROW,
    TICK,
    TOKEN,
    ServiceError,
    W,
    cell_label,
    clip,
    failed,
    heading,
    long_text,
)
from totalplace.workshop.service import ChallengeInfo, FigureCell

GRID = W + "count-grid"
CHOSEN = W + "cell-chosen"
HISTORY = W + "history"
COLUMNS = [
    {"field": "agency_type", "headerName": "Agency type", "flex": 2, "minWidth": 200},
    {"field": "function", "headerName": "Function (COFOG)", "flex": 2, "minWidth": 200},
    {
        "field": "amount_gbp",
        "headerName": "Amount",
        "type": "rightAligned",
        "flex": 1,
        "minWidth": 140,
        "sort": "desc",
        "filter": False,
        "valueFormatter": GBP_FORMAT,
    },
    {"field": "challenges", "headerName": "Challenges", "flex": 1.3, "minWidth": 150},
]


def section(baseline: pd.DataFrame, total_text: str) -> html.Div:
    """The count grid (select a row to pick its cell) and the picked cell's history."""
    return html.Div(
        [
            heading("The count, by agency type and function"),
            html.P(
                f"{total_text} Select a row to pick that cell: you can then challenge it, and "
                "its history of challenges is shown below the table.",
                className="note",
            ),
            dag.AgGrid(
                id=GRID,
                columnDefs=COLUMNS,
                rowData=rows(baseline, []),
                defaultColDef={"sortable": True, "filter": True, "resizable": True},
                getRowId="params.data.key",
                dashGridOptions={
                    "domLayout": "autoHeight",
                    "rowSelection": SINGLE_ROW,
                    "pagination": True,
                    "paginationPageSize": 20,
                    "rowHeight": 36,
                },
                className="ag-theme-alpine",
                style={"width": "100%"},
            ),
            html.Div(
                [
                    html.Div(id=CHOSEN, children="No cell picked yet: select a row of the count."),
                    html.Div(id=HISTORY),
                ],
                style=PANEL,
            ),
        ]
    )


def rows(baseline: pd.DataFrame, challenges: list[ChallengeInfo]) -> list[dict[str, Any]]:
    """Grid rows: one per cell, with its challenges counted by status."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for c in challenges:
        key = (c.cell.agency_type, c.cell.column)
        by = counts.setdefault(key, {})
        by[c.status.value] = by.get(c.status.value, 0) + 1
    out = []
    for a, f, v in zip(
        baseline["agency_type"], baseline["function"], baseline["amount_pence"], strict=True
    ):
        by = counts.get((a, f), {})
        text = ", ".join(f"{n} {s}" for s, n in sorted(by.items()))
        out.append(
            {
                "key": f"{a}|{f}",
                "agency_type": a,
                "function": f,
                "amount_gbp": int(v) / 100,
                "challenges": text,
            }
        )
    return out


@callback(
    Output(GRID, "rowData"),
    Input(REV, "data"),
    Input(TICK, "n_intervals"),
    State(TOKEN, "data"),
    prevent_initial_call=True,
)
def refresh_counts(_rev: int, _tick: int, token: str) -> Any:
    """The count with up-to-date challenge counts (the figures themselves never change here)."""
    service = data_workshop.get_workshop_service()
    try:
        info = service.get_workshop(token)
        challenges = service.list_challenges(token)
    except ServiceError:
        return dash.no_update  # keep what is shown rather than an empty grid
    return rows(data_workshop.baseline(info.place_name, info.year), challenges)


@callback(
    Output(CELL, "data"),
    Output(CHOSEN, "children"),
    Input(GRID, "selectedRows"),
    prevent_initial_call=True,
)
def pick_cell(selected: list[dict[str, Any]] | None) -> tuple[Any, Any]:
    """The selected row becomes the cell challenges are pinned to."""
    if not selected:
        return None, "No cell picked yet: select a row of the count."
    row = selected[0]
    cell = {"agency_type": row["agency_type"], "function": row["function"]}
    return cell, html.P(
        [
            "Picked: ",
            html.Strong(cell_label(cell["agency_type"], cell["function"]), id=W + "cell-label"),
            f" ({format_gbp(row.get('amount_gbp'))})",
        ],
        style={"margin": "0"},
    )


@callback(
    Output(HISTORY, "children"),
    Input(CELL, "data"),
    Input(REV, "data"),
    Input(TICK, "n_intervals"),
    State(TOKEN, "data"),
    State(INFO, "data"),
    prevent_initial_call=True,
)
def show_history(
    cell: dict[str, str] | None, _rev: int, _tick: int, token: str, info: dict[str, Any] | None
) -> Any:
    """Every challenge of the picked cell with its events (raised, accepted or rejected, why)."""
    if not cell or not info:
        return None
    service = data_workshop.get_workshop_service()
    try:
        history = service.history(
            token,
            FigureCell(info["place"], info["year"], cell["agency_type"], cell["function"]),
        )
    except ServiceError as exc:
        return failed(exc)
    if not history.challenges:
        return html.P("No challenges of this cell yet.", className="note")
    items = []
    for h in history.challenges:
        c = h.challenge
        events = "; ".join(
            f"{e.at:%H:%M} {e.actor} ({e.role}) {e.action.split('.')[-1]}"
            + (f": {clip(e.why)}" if e.why else "")
            for e in h.events
        )
        items.append(
            html.Li(
                [html.Strong(f"#{c.id} {c.status.value}"), " — ", long_text(c.text), f" — {events}"]
            )
        )
    return html.Div(
        [html.H3("History of this cell", style={"margin": "0.6rem 0 0.2rem"}), html.Ul(items)],
        id=W + "history-list",
    )
