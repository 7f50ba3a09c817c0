"""Workshop mode: partners challenge the count and try scenarios, with an audit trail.

``/workshop`` starts a workshop (a facilitator picks the place, year and theme) or joins one;
``/workshop?token=...`` is one person's link: the server resolves who they are and what their
role allows from the token on every action, and the page shows any refusal in words. The
sections live in ``workshop_count``, ``workshop_challenges``, ``workshop_scenarios`` and
``workshop_pack``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import dash
from dash import Input, Output, State, callback, ctx, dcc, html

from dashboards import data, data_themes, data_workshop
from dashboards.figures.money import format_gbp, format_per_head
from dashboards.pages import (
    workshop_challenges,
    workshop_count,
    workshop_pack,
    workshop_scenarios,
)
from dashboards.pages.workshop_common import (
    BUTTON,
    CELL,
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
    failed,
    field,
    say,
)
from totalplace.errors import TotalPlaceError
from totalplace.workshop.access import PermissionDenied

dash.register_page(__name__, path="/workshop", name="Workshop", title="Workshop · totalplace")

NAME, PLACE, YEAR, THEME = W + "start-name", W + "start-place", W + "start-year", W + "start-theme"
CREATE, JOIN, JOIN_LINK = W + "start-create", W + "join", W + "join-link"
START_MSG, GO, REFRESH = W + "start-msg", W + "go", W + "refresh"
#: How often the page asks for what other people did (milliseconds).
POLL_MS = 20_000
NO_THEME = "none"
ROLE_SENTENCES = {
    "facilitator": "You can issue links, decide challenges and freeze snapshots, and also "
    "challenge figures and edit scenarios.",
    "partner": "You can challenge figures and build scenarios; the facilitator decides "
    "challenges and freezes snapshots.",
    "observer": "You can read everything and export packs; you cannot change anything.",
}


def layout(token: str | None = None, **_other: Any) -> html.Div:
    """The start page, or the workshop the token belongs to."""
    if not token:
        return _start()
    service = data_workshop.get_workshop_service()
    try:
        caller = service.whoami(token)
        info = service.get_workshop(token)
        count = data.count(info.place_name, info.year)
    except PermissionDenied as exc:
        return _start(refused=str(exc))
    except TotalPlaceError as exc:
        return html.Div([html.H1("Workshop"), html.P(str(exc), className="error")])
    baseline = data_workshop.baseline(info.place_name, info.year)
    theme = data_themes.theme_option(info.theme or "")
    theme_words = theme.name if theme else (info.theme or "no theme")
    total_text = (
        f"{info.place_name}, {info.year}: {format_gbp(count.total_gbp)} in all, "
        f"{format_per_head(count.per_head_gbp)}."
    )
    role = caller.role.value
    info_data = {
        "place": info.place_name,
        "year": info.year,
        "theme": info.theme,
        "role": role,
        "name": caller.display_name,
        "token_id": caller.token_id,
    }
    return html.Div(
        [
            dcc.Store(id=TOKEN, data=token),
            dcc.Store(id=INFO, data=info_data),
            dcc.Store(id=REV, data=0),
            dcc.Store(id=CELL),
            dcc.Interval(id=TICK, interval=POLL_MS),
            html.H1(f"Workshop: {info.place_name}, {info.year}"),
            html.P(
                [
                    f"Theme: {theme_words}. ",
                    dcc.Link(
                        "Open the theme's deep dive",
                        href=_deepdive_href(info.place_name, info.year, info.theme),
                    )
                    if theme
                    else None,
                ],
                className="lead",
            ),
            html.P(
                [
                    "You are ",
                    html.Strong(caller.display_name, id=W + "whoami"),
                    f" ({role}). {ROLE_SENTENCES.get(role, '')}",
                ],
                id=W + "role",
            ),
            html.P(
                "This page's address is your own link: keep it, and do not share it (whoever "
                "has it acts as you). The server checks your role on every action.",
                className="note",
            ),
            html.P(
                [
                    f"What others do shows here within {POLL_MS // 1000} seconds. ",
                    html.Button("Refresh now", id=REFRESH, n_clicks=0, style=BUTTON),
                ],
                className="note",
            ),
            # facilitators only: the server refuses anyone else anyway (MANAGE_TOKENS)
            workshop_pack.links_section() if role == "facilitator" else None,
            workshop_count.section(baseline, total_text),
            # every section opens filled in (no chain of round trips before the page is ready)
            workshop_challenges.section(workshop_challenges.initial_rows(token)),
            workshop_scenarios.section(baseline, token, info_data),
            workshop_pack.snapshot_section(token),
            workshop_pack.audit_section(token),
        ],
        className="page",
    )


def _deepdive_href(place: str, year: str, theme: str | None) -> str:
    from urllib.parse import urlencode

    query = urlencode({"place": place, "year": year, "theme": theme or ""})
    return dash.get_relative_path(f"/deepdive?{query}")


def _start(refused: str | None = None) -> html.Div:
    try:
        places, years, default_year = data.pilot_names(), data.years(), data.default_year()
    except TotalPlaceError as exc:
        return html.Div([html.H1("Workshop"), html.P(str(exc), className="error")])
    themes = [{"label": "No theme", "value": NO_THEME}] + [
        {"label": t.name, "value": t.id} for t in data_themes.themes()
    ]
    place = places[0] if places else None
    return html.Div(
        [
            dcc.Location(id=GO, refresh="callback-nav"),
            html.H1("Workshop"),
            html.P(
                "Partners in a place challenge the count and try scenarios together; every "
                "change is recorded. A facilitator starts the workshop and sends each partner "
                "their own link.",
                className="lead",
            ),
            html.P(f"That link did not open a workshop: {refused}.", className="error")
            if refused
            else None,
            html.H2("Start a workshop"),
            html.Div(
                [
                    html.Div(
                        [
                            field(
                                "Your name (facilitator)",
                                dcc.Input(id=NAME, type="text", style=INPUT),
                                "16rem",
                            ),
                            field(
                                "Place",
                                dcc.Dropdown(
                                    id=PLACE, options=list(places), value=place, clearable=False
                                ),
                                "22rem",
                            ),
                            field(
                                "Year",
                                dcc.Dropdown(
                                    id=YEAR,
                                    options=list(years),
                                    value=default_year,
                                    clearable=False,
                                ),
                                "9rem",
                            ),
                            field(
                                "Theme",
                                dcc.Dropdown(
                                    id=THEME,
                                    options=themes,
                                    value=data_themes.default_theme(place),
                                    clearable=False,
                                ),
                                "16rem",
                            ),
                            html.Button("Start workshop", id=CREATE, n_clicks=0, style=PRIMARY),
                        ],
                        style=ROW,
                    ),
                ],
                style=PANEL,
            ),
            html.H2("Join a workshop"),
            html.Div(
                [
                    html.P("Open the link you were sent, or paste it here.", className="note"),
                    html.Div(
                        [
                            field(
                                "Your link",
                                dcc.Input(id=JOIN_LINK, type="text", style=INPUT),
                                "40rem",
                            ),
                            html.Button("Join", id=JOIN, n_clicks=0, style=BUTTON),
                        ],
                        style=ROW,
                    ),
                ],
                style=PANEL,
            ),
            html.Div(id=START_MSG),
        ],
        className="page",
    )


@callback(
    Output(REV, "data", allow_duplicate=True),
    Input(REFRESH, "n_clicks"),
    State(REV, "data"),
    prevent_initial_call=True,
)
def refresh(_n: int, rev: int) -> int:
    """Ask again for everything others may have changed."""
    return bump(rev)


@callback(
    Output(THEME, "value"),
    Input(PLACE, "value"),
    prevent_initial_call=True,
)
def theme_for_place(place: str | None) -> str:
    """The pilot's own theme, as a starting point."""
    return data_themes.default_theme(place)


@callback(
    Output(START_MSG, "children"),
    Output(GO, "href"),
    Input(CREATE, "n_clicks"),
    Input(JOIN, "n_clicks"),
    State(NAME, "value"),
    State(PLACE, "value"),
    State(YEAR, "value"),
    State(THEME, "value"),
    State(JOIN_LINK, "value"),
    prevent_initial_call=True,
)
def start(
    _create: int,
    _join: int,
    name: str | None,
    place: str | None,
    year: str | None,
    theme: str | None,
    link: str | None,
) -> tuple[Any, Any]:
    """Create a workshop and open the facilitator's link, or open a pasted link."""
    if ctx.triggered_id == JOIN:
        token = _token_in(link or "")
        if not token:
            return say(
                "Paste the whole link (it ends with ?token=...) or the token."
            ), dash.no_update
        return None, dash.get_relative_path(f"/workshop?token={token}")
    if not place or not year:
        return say("Choose a place and a year."), dash.no_update
    service = data_workshop.get_workshop_service()
    try:
        codes = list(data.count(place, year).place_codes)
        made = service.create_workshop(
            place, codes, year, None if theme in (None, NO_THEME) else theme, name or ""
        )
    except ServiceError as exc:
        return failed(exc), dash.no_update
    return None, dash.get_relative_path(f"/workshop?token={made.token}")


def _token_in(text: str) -> str:
    text = text.strip()
    if "token=" in text:
        return parse_qs(urlparse(text).query).get("token", [""])[0]
    return text if text and " " not in text else ""
