"""A workshop link to hand to one person: who it is for, their role, the link and a copy button.

The link carries the person's token, which the server shows only once: whoever holds the link
acts as that person, so it is shown with that warning.
"""

from __future__ import annotations

from dash import dcc, html

ROLE_COLOURS = {"facilitator": "#D55E00", "partner": "#0072B2", "observer": "#5b6475"}


def link_box(display_name: str, role: str, url: str, index: int) -> html.Div:
    """One person's link, with a button that copies it."""
    text_id = f"ws-link-{index}"
    return html.Div(
        [
            html.Span(
                role,
                style={
                    "background": ROLE_COLOURS.get(role, "#5b6475"),
                    "color": "white",
                    "borderRadius": "4px",
                    "padding": "0.05rem 0.45rem",
                    "fontSize": "0.8rem",
                    "fontWeight": 600,
                },
            ),
            html.Strong(display_name, style={"margin": "0 0.4rem"}),
            html.A(
                url,
                href=url,
                id=text_id,
                className="ws-link",
                target="_blank",
                style={"wordBreak": "break-all", "fontFamily": "monospace", "fontSize": "0.85rem"},
            ),
            dcc.Clipboard(
                target_id=text_id,
                title="Copy the link",
                style={"display": "inline-block", "marginLeft": "0.4rem", "cursor": "pointer"},
            ),
        ],
        className="ws-link-box",
        style={"margin": "0.35rem 0"},
    )
