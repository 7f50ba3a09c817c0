"""Choropleth maps of districts, drawn with MapLibre on a white background (no tiles: offline)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from dashboards.figures.breakdown import FONT, OKABE_ITO, empty_figure
from dashboards.figures.money import format_gbp
from dashboards.figures.plain import figure

#: The colour scale of every map (perceptually uniform, safe for colour-vision deficiencies), as
#: the [fraction, colour] pairs plotly's validation would expand "Cividis" to.
CIVIDIS = [list(pair) for pair in go.Choroplethmap(colorscale="Cividis").colorscale]
#: Plotly's "none" template, as validation expands it.
NO_TEMPLATE = go.Layout(template="none").template.to_plotly_json()
#: Size the map is drawn at; the zoom is fitted to it.
MAP_WIDTH, MAP_HEIGHT = 720, 520


def _positions(geometry: dict[str, Any]) -> Iterator[tuple[float, float]]:
    """Every (lon, lat) of a Polygon / MultiPolygon (or any nesting of coordinates)."""

    def walk(c: Any) -> Iterator[tuple[float, float]]:
        if c and isinstance(c[0], int | float):
            yield float(c[0]), float(c[1])
        else:
            for part in c:
                yield from walk(part)

    yield from walk(geometry.get("coordinates", []))


def fit_view(
    shapes: dict[str, Any], width: int, height: int, padding: float = 0.35
) -> tuple[dict[str, float], float]:
    """Centre and zoom that show every feature in a ``width`` x ``height`` px web-Mercator map."""
    lons: list[float] = []
    lats: list[float] = []
    for f in shapes["features"]:
        for lon, lat in _positions(f.get("geometry") or {}):
            lons.append(lon)
            lats.append(lat)
    if not lons:
        return {"lon": -1.5, "lat": 52.8}, 5.0  # England

    def merc(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    y_mid = (merc(south) + merc(north)) / 2
    centre = {
        "lon": (west + east) / 2,
        "lat": math.degrees(2 * math.atan(math.exp(y_mid)) - math.pi / 2),
    }
    lon_span = max(east - west, 1e-3)
    y_span = max(merc(north) - merc(south), 1e-5)
    zoom_x = math.log2(width / 512 * 360 / lon_span)
    zoom_y = math.log2(height / 512 * 2 * math.pi / y_span)
    return centre, round(min(zoom_x, zoom_y) - padding, 2)


def feature_bounds(geojson: dict[str, Any]) -> dict[str, tuple[float, float, float, float]]:
    """Each feature's (west, south, east, north), by feature id (computed once per level)."""
    out: dict[str, tuple[float, float, float, float]] = {}
    for f in geojson.get("features", []):
        pts = list(_positions(f.get("geometry") or {}))
        if pts:
            lons, lats = zip(*pts, strict=True)
            out[str(f.get("id"))] = (min(lons), min(lats), max(lons), max(lats))
    return out


def view_for(
    bounds: dict[str, tuple[float, float, float, float]],
    codes: list[str],
    width: int = MAP_WIDTH,
    height: int = MAP_HEIGHT,
) -> tuple[dict[str, float], float]:
    """Centre and zoom showing the areas ``codes`` (from ``feature_bounds``)."""
    boxes = [bounds[c] for c in codes if c in bounds]
    corners = [[w, s] for w, s, _, _ in boxes] + [[e, n] for _, _, e, n in boxes]
    shapes = {"features": [{"geometry": {"coordinates": corners}}]} if corners else {"features": []}
    return fit_view(shapes, width, height)


def area_choropleth(
    frame: pd.DataFrame,
    value_column: str,
    label: str,
    title: str,
    *,
    level: str,
    view: tuple[dict[str, float], float],
    height: int = MAP_HEIGHT,
) -> go.Figure:
    """Areas coloured by ``value_column`` (pounds), the place's areas outlined, *without*
    boundaries: ``layout.meta.geometry`` names the ``level`` whose GeoJSON (feature id = GSS
    code) the browser puts into the map traces. Keeps each map response to the figures alone.

    ``frame``: area_code, area_name, ``value_column`` and a boolean ``in_place``.
    """
    data = frame.dropna(subset=[value_column]) if len(frame) else frame
    if data.empty:
        return empty_figure("No areas with figures to map.")
    values = data[value_column].astype("float64")
    flat = round(values.max()) == round(values.min())
    scale = [[0, OKABE_ITO["sky"]], [1, OKABE_ITO["sky"]]] if flat else CIVIDIS
    labels = [format_gbp(v) for v in values]
    traces: list[dict[str, Any]] = [
        {
            "type": "choroplethmap",
            "locations": data["area_code"].tolist(),
            "z": values.round(2).tolist(),
            "featureidkey": "id",
            "colorscale": scale,
            "showscale": not flat,
            "marker": {"opacity": 0.9, "line": {"color": "white", "width": 0.8}},
            "hovertext": data["area_name"].tolist(),
            "customdata": labels,
            "hovertemplate": f"<b>%{{hovertext}}</b><br>{label}: %{{customdata}}<extra></extra>",
            "colorbar": {"title": {"text": label}, "tickprefix": "£", "tickformat": ",.0f"},
            "name": label,
        }
    ]
    place = data[data["in_place"].astype(bool)] if "in_place" in data else data[:0]
    if len(place):
        traces.append(
            {
                "type": "choroplethmap",
                "locations": place["area_code"].tolist(),
                "z": [1] * len(place),
                "featureidkey": "id",
                "colorscale": [[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
                "showscale": False,
                "marker": {"line": {"color": OKABE_ITO["vermillion"], "width": 3}},
                "hoverinfo": "skip",
                "name": "The place",
            }
        )
    annotations = []
    if flat:
        annotations.append(
            {
                "text": f"Every area here: {label.lower()} {format_gbp(values.iloc[0])}",
                "x": 0.01,
                "y": 0.99,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "left",
                "yanchor": "top",
                "showarrow": False,
                "bgcolor": "rgba(255,255,255,0.85)",
                "font": {**FONT, "size": 14},
            }
        )
    centre, zoom = view
    layout = {
        "template": NO_TEMPLATE,  # the default template would add ~7 KB to every map response
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        "font": FONT,
        "height": height,
        "margin": {"l": 0, "r": 0, "t": 40, "b": 0},
        "paper_bgcolor": "white",
        "map": {"style": "white-bg", "center": centre, "zoom": zoom},
        "showlegend": False,
        "meta": {"geometry": level, "areas": len(data), "flat": bool(flat)},
    }
    if annotations:
        layout["annotations"] = annotations
    return figure(traces, layout)
