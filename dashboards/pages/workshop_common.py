"""What the workshop page's sections share: component ids, styles, cells as dropdown values, and
how an answer from the server (done, refused, not possible) is shown in words.

The page never decides who may do what: every action goes to the WorkshopService with the
caller's token, and a refusal (PermissionDenied) is shown as the server worded it.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from dash import html

from totalplace.errors import TotalPlaceError
from totalplace.workshop.access import PermissionDenied

W = "ws-"
#: dcc.Store: the caller's token, from the URL (sent back with every action).
TOKEN = W + "token"
#: dcc.Store: what the page knows of the workshop (place, year, theme, role, name) - for
#: display only; the server resolves the role from the token on every call.
INFO = W + "info"
#: dcc.Store: a counter bumped after every change, so the read panels refresh.
REV = W + "rev"
#: dcc.Interval: picks up what other people did (challenges, decisions, audit).
TICK = W + "tick"
#: dcc.Store: the selected cell of the count, {"agency_type": ..., "function": ...}.
CELL = W + "cell"

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
SINGLE_ROW = {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True}

_BUTTON = {
    "padding": "0.45rem 0.9rem",
    "borderRadius": "6px",
    "fontWeight": 600,
    "cursor": "pointer",
    "fontSize": "0.95rem",
}
BUTTON = _BUTTON | {"border": "1px solid #0072B2", "background": "white", "color": "#0072B2"}
PRIMARY = _BUTTON | {"border": "1px solid #0072B2", "background": "#0072B2", "color": "white"}
INPUT = {
    "padding": "0.4rem 0.5rem",
    "border": "1px solid #c9ced8",
    "borderRadius": "4px",
    "fontSize": "0.95rem",
    "width": "100%",
}
ROW = {"display": "flex", "flexWrap": "wrap", "gap": "0.8rem", "alignItems": "flex-end"}
PANEL = {
    "background": "white",
    "border": "1px solid #dde1e8",
    "borderRadius": "8px",
    "padding": "0.8rem 1rem",
    "marginTop": "0.6rem",
}
OK_STYLE = {"color": "#00643f", "fontWeight": 600, "margin": "0.4rem 0"}
ROLE_NOTE = {"fontWeight": 400, "fontSize": "0.9rem", "color": "#5b6475"}


def heading(text: str, who: str | None = None) -> html.H2:
    """A section heading, with who may act there ('facilitator only') in small type."""
    return html.H2([text, html.Span(f"  ({who})", style=ROLE_NOTE) if who else None])


def field(label: Any, control: Any, width: str = "16rem") -> html.Div:
    return html.Div(
        [html.Label(label, className="control-label"), control],
        style={"minWidth": width, "flex": f"0 1 {width}"},
    )


def done(text: str) -> html.P:
    """A short confirmation of what the server did."""
    return html.P(text, className="ws-done", style=OK_STYLE, role="status")


def failed(exc: Exception) -> html.P:
    """The server's answer when it refused or could not do something, in its own words."""
    if isinstance(exc, PermissionDenied):
        text = f"Refused by the server: {exc}."
    else:
        text = f"Not done: {exc}"
    return html.P(text, className="error ws-refused", role="alert")


def say(message: str) -> html.P:
    """A problem found before asking the server (nothing typed, nothing selected)."""
    return html.P(message, className="error", role="alert")


ServiceError = TotalPlaceError  # WorkshopError, PermissionDenied and ScenarioError all are


def cell_value(agency_type: str, function: str) -> str:
    """A cell as a dropdown value (JSON, so any text survives)."""
    return json.dumps([agency_type, function], ensure_ascii=False)


def cell_from_value(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    try:
        agency, function = json.loads(value)
    except (ValueError, TypeError):
        return None
    return str(agency), str(function)


def cell_label(agency_type: str, function: str) -> str:
    return f"{agency_type} × {function}"


def cell_options(baseline: pd.DataFrame) -> list[dict[str, str]]:
    """Every cell of the baseline, largest first, labelled with its amount."""
    from dashboards.figures.money import format_gbp

    rows = baseline.sort_values("amount_pence", ascending=False)
    return [
        {
            "label": f"{cell_label(a, f)} ({format_gbp(int(v) / 100)})",
            "value": cell_value(a, f),
        }
        for a, f, v in zip(rows["agency_type"], rows["function"], rows["amount_pence"], strict=True)
    ]


def bump(rev: int | None) -> int:
    return (rev or 0) + 1


#: How much of a challenge, reason or comment a table or list shows before "read in full".
CLIP = 200
FULL_TEXT_STYLE = {
    "whiteSpace": "pre-wrap",
    "overflowWrap": "anywhere",
    "maxHeight": "18rem",
    "overflowY": "auto",
    "border": "1px solid #dde1e8",
    "borderRadius": "4px",
    "padding": "0.4rem 0.6rem",
    "margin": "0.3rem 0",
    "background": "#fafbfc",
}


def clip(text: str | None, limit: int = CLIP) -> str:
    """The first ``limit`` characters of ``text`` (whole words where it can), then '…'."""
    text = text or ""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.6 else cut).rstrip() + " …"


def long_text(text: str | None, limit: int = CLIP, **attrs: Any) -> Any:
    """Text as it is when short; when long, its start and a 'read in full' disclosure holding
    the whole text in a scrolling box (so one long text never makes the page thousands of
    pixels tall)."""
    text = text or ""
    if len(text) <= limit:
        return html.Span(text, **attrs)
    return html.Details(
        [
            html.Summary(
                [clip(text, limit), html.Span(f" read in full ({len(text):,} characters)")],
                className="ws-clip-summary",
            ),
            html.Div(text, className="ws-full-text", style=FULL_TEXT_STYLE),
        ],
        className="ws-clipped",
        **attrs,
    )
