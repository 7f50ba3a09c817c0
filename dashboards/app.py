"""The Dash app shell: navbar and the page container. Pages live in ``dashboards/pages``.

``create_app()`` builds the app (nothing is built at import time); gunicorn serves
``dashboards.app:create_server()``. Everything is served locally (no CDN), so it works offline.
"""

from __future__ import annotations

from pathlib import Path

import dash
from dash import dcc, html
from flask import Flask

from dashboards import data
from totalplace.workshop import WorkshopService

HERE = Path(__file__).resolve().parent
PAGES_FOLDER = HERE / "pages"
ASSETS_FOLDER = HERE / "assets"


def create_app(workspace: data.WorkspaceLike | None = None) -> dash.Dash:
    """The dashboard; ``workspace`` (a built, read-only Workspace) replaces the default one."""
    if workspace is not None:
        data.set_workspace(workspace)
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(PAGES_FOLDER),
        assets_folder=str(ASSETS_FOLDER),
        title="totalplace",
        serve_locally=True,
        suppress_callback_exceptions=True,
    )
    app.layout = _shell
    from dashboards import static

    static.register(app.server)
    from totalplace.api import register_api

    register_api(app.server, data.get_workspace)
    from totalplace.api.workshop_routes import register_workshop_api

    register_workshop_api(app.server, _workshop_service)
    return app


def _workshop_service() -> WorkshopService:
    """The pages' own workshop service (one per process; it judges proposed amounts against
    the count), so the API and the dashboard obey the same rules."""
    from dashboards import data_workshop

    return data_workshop.get_workshop_service()


def _shell() -> html.Div:
    links = [
        dcc.Link(page["name"], href=page["relative_path"], className="nav-link")
        for page in dash.page_registry.values()
    ]
    return html.Div(
        [
            html.Header(
                [
                    dcc.Link("totalplace", href="/", className="brand"),
                    html.Nav(links, className="nav"),
                    html.Span("All public spending in a place", className="tagline"),
                ],
                className="navbar",
            ),
            html.Main(dash.page_container, className="container"),
            html.Footer(
                "Figures: HM Treasury Country and Regional Analysis, DCLG revenue outturn, ONS "
                "population estimates (Open Government Licence v3.0).",
                className="footer",
            ),
        ]
    )


def create_server() -> Flask:
    """The Flask server for a WSGI host: ``gunicorn 'dashboards.app:create_server()'``; each
    worker fills its shared caches before it takes a request (``data.warm``)."""
    app = create_app()
    warm()
    return app.server


def warm() -> list[str]:
    """Make a fresh process answer its first visitors as fast as its later ones: fill the
    shared data caches (``data.warm``) and load plotly's validators for every trace type the
    figures use (plotly imports them on first use: ~150 ms). Returns what could not be loaded."""
    import plotly.graph_objects as go

    from dashboards.figures.breakdown import agency_bar, function_bar

    traces = (go.Bar, go.Scatter, go.Sankey, go.Choroplethmap, go.Heatmap, go.Waterfall)
    go.Figure([t() for t in traces]).update_layout(title="warm-up").to_plotly_json()
    missing = data.warm()
    try:  # the layouts the figures set (axes, margins, fonts): one real figure of each kind
        pilot, year = data.pilot_names()[0], data.default_year()
        if year is not None:
            result = data.count(pilot, year)
            agency_bar(result.by("agency_type")).to_plotly_json()
            function_bar(result.by("function")).to_plotly_json()
            missing += _open_each_page(pilot, year)
            for other in data.pilot_names()[1:]:  # the pilots' opening views, built once
                missing += _open_each_page(other, year, only=("/", "/deepdive", "/flows"))
    except Exception:  # an empty or partial workspace: the pages say what is missing
        missing.append("figures")
    return missing


def _open_each_page(place: str, year: str, only: tuple[str, ...] | None = None) -> list[str]:
    """Answer each page's opening callbacks once for one place and year, as a first visitor
    would: every code path (figure kinds, themes, comparisons over the years) is then loaded."""
    import sys

    from dashboards import data_themes

    pages = {p["path"]: sys.modules[p["module"]] for p in dash.page_registry.values()}
    theme = data_themes.default_theme(place)
    visits: dict[str, tuple[str, tuple[object, ...]]] = {
        "/": ("update_count", (place, year)),
        "/map": ("update_map", (place, year, "per_head", "all", "all", "district", "")),
        "/flows": ("update_flows", (place, year, None)),
        "/compare": ("update_compare", (place, year, "per_head", "all", [])),
        "/agency": ("update_profile", (pages["/agency"].DEFAULT_TYPE, "all", year, "", place)),
        "/sources": ("update_coverage", (None, None)),
        "/deepdive": ("update_theme", (place, year, theme)),
    }
    failed = []
    for path, (name, args) in visits.items():
        if only is not None and path not in only:
            continue
        try:
            getattr(pages[path], name)(*args)
        except Exception:  # the page itself will say what is wrong when it is opened
            failed.append(f"{path} page")
    return failed
