"""Downloads: every table as CSV or XLSX (with its sources and caveats), every figure as PNG or
SVG made in the browser.

Tables: ``table_downloads(table_id)`` gives the buttons and a ``dcc.Download``; the page's own
callback (``Output(download_output(table_id))``, ``*download_inputs(table_id)``) builds the
frame and returns ``send_table(frame, stem, clicked_format(table_id), notes)``. Text is made
safe for spreadsheets (``totalplace.export.tables``: no cell starts like a formula). The XLSX
has a 'notes' sheet; the CSV's notes are a sidecar ``.notes.txt`` (the third button).

Figures: ``figure_downloads(graph_id, stem)`` gives PNG and SVG buttons; one clientside
callback (registered here) calls ``Plotly.downloadImage`` on the graph: no server, no network.
The graph's own modebar camera does the same for PNG (``graph_config``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd
from dash import ALL, MATCH, Input, Output, State, clientside_callback, ctx, dcc, html

from totalplace.export.tables import neutralise, safe_frame

FORMATS = ("csv", "xlsx", "notes")
_LABELS = {"csv": "CSV", "xlsx": "XLSX", "notes": "Notes (TXT)"}


def table_downloads(table_id: str, label: str = "Download table") -> html.Div:
    """'Download table: CSV · XLSX · Notes' buttons for ``table_id`` and their dcc.Download."""
    buttons = [
        html.Button(
            _LABELS[fmt],
            id=f"{table_id}-{fmt}",
            n_clicks=0,
            className="download-button",
            title=f"Download the table as {_LABELS[fmt]}",
        )
        for fmt in FORMATS
    ]
    return html.Div(
        [
            html.Span(label, className="downloads-label"),
            *buttons,
            dcc.Download(id=f"{table_id}-download"),
        ],
        className="downloads",
    )


def download_inputs(table_id: str) -> list[Input]:
    """The buttons' clicks, as callback inputs."""
    return [Input(f"{table_id}-{fmt}", "n_clicks") for fmt in FORMATS]


def download_output(table_id: str) -> Output:
    """The table's dcc.Download, as a callback output."""
    return Output(f"{table_id}-download", "data")


def clicked_format(table_id: str) -> str | None:
    """Which of the table's buttons fired the running callback ('csv', 'xlsx', 'notes')."""
    trigger = ctx.triggered_id
    if isinstance(trigger, str) and trigger.startswith(f"{table_id}-"):
        fmt = trigger.removeprefix(f"{table_id}-")
        return fmt if fmt in FORMATS else None
    return None


def file_stem(*parts: Any) -> str:
    """'totalplace-map-kent-2010-11': lower case, safe in any file system."""
    text = "-".join(str(p) for p in ("totalplace", *parts) if p not in (None, ""))
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def table_bytes(frame: pd.DataFrame, fmt: str, notes: Sequence[str]) -> bytes:
    """The table as CSV (UTF-8 with BOM, so Excel reads £ right), XLSX (data + notes sheets) or
    the notes as text; text cells neutralised so none runs as a formula."""
    if fmt == "notes":
        return ("\n".join(notes) + "\n").encode("utf-8")
    safe = safe_frame(frame)
    if fmt == "csv":
        return safe.to_csv(index=False).encode("utf-8-sig")
    if fmt == "xlsx":
        buf = io.BytesIO()
        with pd.ExcelWriter(buf, engine="openpyxl") as xl:
            safe.to_excel(xl, sheet_name="data", index=False)
            pd.DataFrame({"notes": [neutralise(n) for n in notes]}).to_excel(
                xl, sheet_name="notes", index=False
            )
        return buf.getvalue()
    raise ValueError(f"unknown download format {fmt!r}")


def send_table(frame: pd.DataFrame, stem: str, fmt: str, notes: Sequence[str]) -> dict[str, Any]:
    """What a ``dcc.Download`` needs to save the table as ``stem``.csv / .xlsx / .notes.txt."""
    name = f"{stem}.notes.txt" if fmt == "notes" else f"{stem}.{fmt}"
    return dcc.send_bytes(table_bytes(frame, fmt, notes), name)


# -- figures -----------------------------------------------------------------------------------


def graph_config(stem: str, scroll_zoom: bool = False) -> dcc.Graph.Config:
    """dcc.Graph config: no plotly logo, responsive, the modebar camera saves a 2x PNG."""
    return {
        "displaylogo": False,
        "responsive": True,
        "scrollZoom": scroll_zoom,
        "toImageButtonOptions": {"format": "png", "filename": stem, "scale": 2},
    }


def figure_downloads(graph_id: str, stem: str) -> html.Div:
    """'Download figure: PNG · SVG' for the dcc.Graph ``graph_id`` (made in the browser)."""
    buttons = [
        html.Button(
            fmt.upper(),
            id={"type": "figure-download", "graph": graph_id, "format": fmt},
            n_clicks=0,
            className="download-button",
            title=f"Download the figure as {fmt.upper()}",
        )
        for fmt in ("png", "svg")
    ]
    return html.Div(
        [
            html.Span("Download figure", className="downloads-label"),
            *buttons,
            dcc.Store(id={"type": "figure-download-stem", "graph": graph_id}, data=stem),
        ],
        className="downloads",
    )


clientside_callback(
    """
    function (clicks, stem) {
        const dc = window.dash_clientside;
        const cc = dc.callback_context;
        let trig = cc.triggered_id;
        if (!trig && cc.triggered && cc.triggered.length) {
            try { trig = JSON.parse(cc.triggered[0].prop_id.split('.n_clicks')[0]); }
            catch (e) { trig = null; }
        }
        if (!trig || !trig.format || !(clicks || []).some(Boolean)) { return dc.no_update; }
        const holder = document.getElementById(trig.graph);
        const gd = holder && (holder.classList.contains('js-plotly-plot')
            ? holder : holder.querySelector('.js-plotly-plot'));
        if (!gd || !window.Plotly) { return dc.no_update; }
        const bits = [stem || 'totalplace'];
        new URLSearchParams(window.location.search).forEach(v => bits.push(v));
        const filename = bits.join('-').toLowerCase().replace(/[^a-z0-9]+/g, '-')
            .replace(/^-+|-+$/g, '').slice(0, 120);
        const size = gd._fullLayout || {};
        window.Plotly.downloadImage(gd, {
            format: trig.format, filename: filename,
            width: size.width || 1200, height: size.height || 600,
            scale: trig.format === 'png' ? 2 : 1,
        });
        return dc.no_update;
    }
    """,
    Output({"type": "figure-download-stem", "graph": MATCH}, "data"),
    Input({"type": "figure-download", "graph": MATCH, "format": ALL}, "n_clicks"),
    State({"type": "figure-download-stem", "graph": MATCH}, "data"),
    prevent_initial_call=True,
)
