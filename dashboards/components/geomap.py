"""Maps whose boundaries go to the browser once: a ``dcc.Store`` per boundary level holds the
URL of its GeoJSON (``dashboards.static`` serves it, versioned and cacheable; filled the first
time the level is shown); map callbacks answer with the figure alone
(``figures.maps.area_choropleth``: ``layout.meta.geometry`` names its level), into a figure
store; a clientside callback puts the level's boundaries (the URL, which plotly fetches) into
the figure's map traces.

So a map response is the figures only (a few KB), and the ~300-450 KB of boundaries cross the
network once per browser (compressed), not with every page view or change of measure.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, clientside_callback, dcc

from dashboards import data
from totalplace.errors import TotalPlaceError

#: Put the named level's boundaries into every choroplethmap trace of the figure.
MERGE_JS = """
function (fig, district, upper) {
    const dc = window.dash_clientside;
    if (!fig) { return dc.no_update; }
    const level = fig.layout && fig.layout.meta && fig.layout.meta.geometry;
    if (!level) { return fig; }
    const geo = level === 'upper_tier' ? upper : district;
    if (!geo) { return dc.no_update; }
    const traces = (fig.data || []).map(
        t => (t.type === 'choroplethmap' ? Object.assign({}, t, {geojson: geo}) : t));
    return Object.assign({}, fig, {data: traces});
}
"""


def stores(geo: dict[str, str], figure: str) -> list[dcc.Store]:
    """The page's stores: one per boundary level in ``geo`` ({level: id}) and the figure's."""
    return [dcc.Store(id=i) for i in geo.values()] + [dcc.Store(id=figure)]


def boundaries_once(level: str, held: Any) -> Any:
    """The URL of the level's GeoJSON (``dashboards.static``: the browser fetches and caches
    it, plotly accepts a URL as ``geojson``) if the page does not hold it yet, else None."""
    if held:
        return None
    try:
        return data.boundaries_url(level)
    except TotalPlaceError:
        return None  # the map callback says what is wrong, in words


def merge_geometry(graph: str, figure: str, geo: dict[str, str]) -> None:
    """Register the clientside callback drawing ``figure`` (store) with its boundaries into
    ``graph``; ``geo`` maps 'district' (and optionally 'upper_tier') to their store ids."""
    inputs = [Input(figure, "data"), Input(geo["district"], "data")]
    if "upper_tier" in geo:
        inputs.append(Input(geo["upper_tier"], "data"))
    clientside_callback(MERGE_JS, Output(graph, "figure"), *inputs)
