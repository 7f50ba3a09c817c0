"""Check a file: upload a spending file and see, before loading it, which layout it is, how
many rows would be counted and which would be set aside and why. Nothing is loaded."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html

from dashboards import data
from dashboards.figures.money import format_gbp
from totalplace.ingest.preview import MAX_UPLOAD_BYTES

dash.register_page(
    __name__, path="/upload", name="Check a file", title="Check a file · totalplace", order=80
)

P = "upload-"


def layout(**_query: Any) -> html.Div:
    return html.Div(
        [
            html.H1("Check a file"),
            html.P(
                "Upload a spending file (CSV, XLSX, XLS or 360Giving JSON, up to "
                f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB) to see how totalplace reads it: its "
                "layout, the rows it would count and the rows it would set aside, with reasons. "
                "Nothing is loaded into the workspace; load a checked file with "
                "`totalplace ingest FILE`."
            ),
            dcc.Upload(
                id=f"{P}file",
                children=html.Div(["Drop a file here or ", html.A("choose one")]),
                max_size=MAX_UPLOAD_BYTES,
                multiple=False,
                className="upload-box",
                style={
                    "border": "2px dashed #888",
                    "padding": "1.5rem",
                    "textAlign": "center",
                    "borderRadius": "6px",
                },
            ),
            dcc.Loading(html.Div(id=f"{P}result", className="upload-result")),
        ]
    )


def _table(rows: list[dict[str, Any]], columns: list[str]) -> html.Table:
    head = html.Thead(html.Tr([html.Th(c) for c in columns]))
    body = html.Tbody([html.Tr([html.Td(str(r.get(c, ""))[:300]) for c in columns]) for r in rows])
    return html.Table([head, body], className="simple-table")


@callback(
    Output(f"{P}result", "children"),
    Input(f"{P}file", "contents"),
    State(f"{P}file", "filename"),
    prevent_initial_call=True,
)
def show(contents: str | None, filename: str | None) -> Any:
    if not contents:
        return html.P("No file received.")
    try:
        raw = base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (IndexError, binascii.Error):
        return html.P("The upload could not be read; try again.", className="error")
    report = data.check_upload(filename or "upload", raw)
    if report.error:
        return html.Div([html.H2("Not usable"), html.P(report.error, className="error")])
    parts: list[Any] = [
        html.H2(f"{report.name}: read as '{report.adapter}'"),
        html.P(
            f"{report.rows_read:,} rows read: {report.rows_ledger:,} would be counted "
            f"({format_gbp(report.amount_pence / 100)}), {report.rows_quarantined:,} set "
            "aside."
        ),
    ]
    parts += [html.P(n, className="muted") for n in report.notes]
    if len(report.quarantine):
        parts += [
            html.H3("Set aside, with reasons"),
            _table(report.quarantine.head(50).to_dict("records"), ["row", "reason", "raw"]),
        ]
    if len(report.sample):
        cols = [
            c
            for c in (
                "row",
                "year",
                "date",
                "agency",
                "counterparty",
                "service_line",
                "amount_pence",
            )
            if c in report.sample.columns
        ]
        parts += [
            html.H3("First rows as they would be counted"),
            _table(report.sample.to_dict("records"), cols),
        ]
    return html.Div(parts)
