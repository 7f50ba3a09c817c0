"""Boundaries of 2009 and 2013 for maps of those years: every district, valid, small enough."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from totalplace.build import HISTORIC_TOLERANCE
from totalplace.geography.boundaries import geojson_bytes, historic_district_boundaries, to_geojson

pytestmark = pytest.mark.mirror


@pytest.mark.parametrize("vintage", [2009, 2013])
def test_historic_districts_are_complete_valid_and_light(mirror: Path, vintage: int) -> None:
    gdf = historic_district_boundaries(mirror, vintage)
    assert len(gdf) == 326 and gdf["area_code"].is_unique
    assert gdf.geometry.is_valid.all()
    assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}
    assert geojson_bytes(to_geojson(gdf, HISTORIC_TOLERANCE)) < 500_000


def test_2009_districts_include_the_councils_merged_since(mirror: Path) -> None:
    codes = set(historic_district_boundaries(mirror, 2009)["area_code"])
    assert {"E07000048", "E06000028", "E06000029"} <= codes  # Christchurch, Bournemouth, Poole
    assert "E06000058" not in codes  # BCP did not exist yet


def test_the_workspace_stores_each_vintage(workspace) -> None:  # type: ignore[no-untyped-def]
    levels = workspace.store.query("SELECT level, value FROM geojson")
    assert {"district", "upper_tier", "district_2009", "district_2013"} <= set(levels["level"])
    g2009 = json.loads(levels.loc[levels["level"] == "district_2009", "value"].iloc[0])
    assert len(g2009["features"]) == 326
