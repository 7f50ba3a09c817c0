"""District and upper-tier boundaries for any year 2014-2025, and compact GeoJSON for maps.

Source: ONS's multi-layer TopoJSON (super-generalised, base geometry 2016) whose features
carry optional ``start``/``end`` years, so one file serves every vintage.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

MULTILAYER = "boundaries/uk_admin_2014_2025_multilayer_bsc_topo.json"
CRS = "EPSG:4326"
#: Decimal places kept in GeoJSON coordinates: 4 dp is about 10 m, far below the generalisation.
COORD_DECIMALS = 4
#: Simplification (degrees, about 300 m) that brings England's ~317 districts from ~760 KB of
#: GeoJSON to ~410 KB: invisible on a national or regional choropleth, fast to send.
MAP_TOLERANCE = 0.004


def district_boundaries(mirror: Path, year: int = 2019) -> gpd.GeoDataFrame:
    """English lower-tier districts valid in ``year``: ``area_code, area_name, geometry``."""
    return _layer_for_year(Path(mirror), "ltla", year).copy()


def upper_tier_boundaries(mirror: Path, year: int = 2019) -> gpd.GeoDataFrame:
    """English counties and unitaries valid in ``year``: ``area_code, area_name, geometry``."""
    return _layer_for_year(Path(mirror), "utla", year).copy()


def district_geojson(mirror: Path, year: int = 2019) -> dict[str, Any]:
    """The district layer of ``year`` as map-ready GeoJSON (simplified by ``MAP_TOLERANCE``)."""
    return to_geojson(district_boundaries(mirror, year))


def to_geojson(gdf: gpd.GeoDataFrame, simplify_tolerance: float = MAP_TOLERANCE) -> dict[str, Any]:
    """A compact FeatureCollection for plotly ``choropleth_map(featureidkey="id")``.

    Feature ``id`` is the area code; properties keep ``area_code`` and ``area_name``;
    coordinates are rounded to 4 dp (repeated points dropped). Shapes are first simplified by
    ``simplify_tolerance`` degrees (per shape, topology-preserving): the default keeps England's
    districts under 500 KB, which 4 dp alone does not (~760 KB). Pass 0.0 for exact shapes.
    """
    geoms = gdf.geometry.to_crs(CRS) if gdf.crs is not None else gdf.geometry
    values = np.asarray(geoms.values, dtype=object)
    if simplify_tolerance > 0:
        values = shapely.simplify(values, simplify_tolerance, preserve_topology=True)
    features = []
    for code, name, geom in zip(gdf["area_code"], gdf["area_name"], values, strict=True):
        features.append(
            {
                "type": "Feature",
                "id": code,
                "properties": {"area_code": code, "area_name": name},
                "geometry": _compact(geom),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def geojson_bytes(collection: dict[str, Any]) -> int:
    """Size of a GeoJSON dict serialised without whitespace, as it travels to the browser."""
    return len(json.dumps(collection, separators=(",", ":")).encode())


def valid_in(start: pd.Series, end: pd.Series, year: int) -> pd.Series:
    """Rows valid in ``year``: (start missing or start <= year) and (end missing or end >= year)."""
    return (start.isna() | (start <= year)) & (end.isna() | (end >= year))


def polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Repair an invalid shape with ``make_valid`` and keep only its polygonal parts."""
    if geom.is_valid:
        return geom
    fixed = shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(fixed) if isinstance(p, Polygon)]
    multis = [p for p in shapely.get_parts(fixed) if isinstance(p, MultiPolygon)]
    for m in multis:
        parts.extend(m.geoms)
    if len(parts) == 1:
        return parts[0]
    return MultiPolygon(parts)


@lru_cache(maxsize=8)
def _read_layer(mirror: Path, layer: str) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(mirror / MULTILAYER, layer=layer)
    return gdf.set_crs(CRS, allow_override=True)


@lru_cache(maxsize=16)
def _layer_for_year(mirror: Path, layer: str, year: int) -> gpd.GeoDataFrame:
    gdf = _read_layer(mirror, layer)
    start = gdf["start"] if "start" in gdf else pd.Series(np.nan, index=gdf.index)
    end = gdf["end"] if "end" in gdf else pd.Series(np.nan, index=gdf.index)
    keep = valid_in(start, end, year) & gdf["areacd"].str.startswith("E")
    out = gdf.loc[keep, ["areacd", "areanm", "geometry"]].rename(
        columns={"areacd": "area_code", "areanm": "area_name"}
    )
    out = out.set_geometry(out.geometry.map(polygonal), crs=CRS)
    return out.sort_values("area_code", ignore_index=True)


def _compact(geom: BaseGeometry) -> dict[str, Any]:
    """GeoJSON geometry with rounded coordinates; rings that rounding collapses are dropped."""
    polys = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon)]
    out = [rings for rings in map(_polygon_rings, polys) if rings]
    if not out:  # a shape smaller than the rounding grid: keep it unrounded rather than lose it
        return dict(json.loads(shapely.to_geojson(geom)))
    if len(out) == 1:
        return {"type": "Polygon", "coordinates": out[0]}
    return {"type": "MultiPolygon", "coordinates": out}


def _polygon_rings(poly: Polygon) -> list[list[list[float]]]:
    exterior = _ring(poly.exterior.coords)
    if exterior is None:
        return []
    holes = [r for r in (_ring(i.coords) for i in poly.interiors) if r is not None]
    return [exterior, *holes]


def _ring(coords: Any) -> list[list[float]] | None:
    xy = np.round(np.asarray(coords, dtype=float)[:, :2], COORD_DECIMALS)
    moved = np.r_[True, np.any(np.diff(xy, axis=0) != 0, axis=1)]
    xy = xy[moved]
    if len(xy) < 4:
        return None
    ring: list[list[float]] = xy.tolist()
    return ring


def historic_district_boundaries(mirror: Path, vintage: int) -> gpd.GeoDataFrame:
    """English districts as they were in December 2009 (old ONS codes translated to the GSS
    codes those councils had, via the mySociety register) or 2013 (GSS ``LAD13CD``), for maps
    of those years: ``area_code, area_name, geometry`` in EPSG:4326."""
    from totalplace.geography.crosswalk import snac_to_gss

    if vintage == 2009:
        gdf = gpd.read_file(mirror / "boundaries/gb_lad2009_bgc_topo.json", layer="data")
        gss = snac_to_gss(mirror)
        gdf = gdf[gdf["AREACD"].astype(str).isin(gss)]
        gdf = gdf.assign(area_code=gdf["AREACD"].map(gss), area_name=gdf["AREANM"])
        gdf = gdf[gdf["area_code"].str.startswith("E")]
    elif vintage == 2013:
        gdf = gpd.read_file(mirror / "boundaries/eng_lad2013_bgc_topo.json", layer="lad")
        gdf = gdf.assign(area_code=gdf["LAD13CD"], area_name=gdf["LAD13NM"])
    else:
        raise ValueError(f"no historic district boundaries for {vintage} (2009 or 2013)")
    gdf = gdf.set_crs("EPSG:4326", allow_override=True)
    gdf["geometry"] = gdf.geometry.make_valid().map(_polygons_only)
    return gpd.GeoDataFrame(
        gdf[["area_code", "area_name", "geometry"]].reset_index(drop=True),
        geometry="geometry",
        crs="EPSG:4326",
    )


def _polygons_only(geom: BaseGeometry) -> BaseGeometry:
    """Every polygon inside ``geom`` (however nested in collections), as one (multi)polygon."""
    from shapely.geometry import MultiPolygon

    polys = [
        p
        for p in shapely.get_parts(shapely.get_parts(geom))
        if p.geom_type in ("Polygon", "MultiPolygon")
    ]
    flat = [q for p in polys for q in (p.geoms if p.geom_type == "MultiPolygon" else [p])]
    return flat[0] if len(flat) == 1 else MultiPolygon(flat)
