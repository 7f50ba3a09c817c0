"""Geography readers: 2019 districts, regions, code crosswalks and boundaries (real mirror)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import MultiPolygon, Polygon, box, shape

from totalplace.geography import (
    council_register,
    district_boundaries,
    district_geojson,
    districts_2019,
    ecode_to_gss,
    name_to_gss,
    regions,
    snac_to_gss,
    to_geojson,
    upper_tier_boundaries,
    upper_tiers_2019,
)
from totalplace.geography.boundaries import geojson_bytes, polygonal, valid_in
from totalplace.geography.crosswalk import normalise_name

GEOJSON_BUDGET = 500_000  # bytes: what a dashboard can send with a map without feeling slow

# --- areas -------------------------------------------------------------------------------------


def test_317_districts_of_2019_each_with_a_region(mirror: Path) -> None:
    d = districts_2019(mirror)
    assert len(d) == 317
    assert d["area_code"].is_unique
    assert d["area_code"].str[:3].isin(["E06", "E07", "E08", "E09"]).all()
    assert d["region_code"].notna().all(), "every district must have a region"
    assert set(d["region_code"]) == set(regions(mirror)["region_code"])
    assert d["region_name"].notna().all()


def test_tier_and_county_follow_the_code_type(mirror: Path) -> None:
    d = districts_2019(mirror)
    shire = d["area_code"].str.startswith("E07")
    assert (d.loc[shire, "tier"] == "district").all()
    assert (d.loc[~shire, "tier"] == "unitary").all()
    assert d.loc[shire, "county_code"].str.startswith("E10").all()
    assert d.loc[~shire, "county_code"].isna().all()
    assert (d.loc[~shire, "utla_code"] == d.loc[~shire, "area_code"]).all()


def test_county_codes_agree_with_the_ons_county_lookup(mirror: Path) -> None:
    ons = pd.read_csv(mirror / "lookups/ons_lad2019_to_county2019_england.csv", dtype=str)
    ons = ons[ons["CTY19CD"].str.startswith("E10")]  # the file also has met counties and London
    d = districts_2019(mirror).set_index("area_code")
    ours = d["county_code"].dropna().to_dict()
    assert ours == dict(zip(ons["LAD19CD"], ons["CTY19CD"], strict=True))


def test_districts_created_in_2019_take_their_predecessors_region(mirror: Path) -> None:
    region = districts_2019(mirror).set_index("area_code")["region_code"]
    assert region["E06000058"] == "E12000009"  # Bournemouth, Christchurch and Poole
    assert region["E06000059"] == "E12000009"  # Dorset
    assert region["E07000244"] == "E12000006"  # East Suffolk
    assert region["E07000245"] == "E12000006"  # West Suffolk
    assert region["E07000246"] == "E12000009"  # Somerset West and Taunton


def test_nine_regions(mirror: Path) -> None:
    r = regions(mirror)
    assert list(r.columns) == ["region_code", "region_name"]
    assert len(r) == 9
    assert r["region_code"].tolist() == [f"E1200000{i}" for i in range(1, 10)]


def test_upper_tiers_count_their_districts(mirror: Path) -> None:
    u = upper_tiers_2019(mirror).set_index("utla_code")
    assert len(u) == 151
    assert u["districts"].sum() == 317
    assert u.loc["E10000016", "districts"] == 12  # Kent
    assert u.loc["E10000016", "region_code"] == "E12000008"
    d = districts_2019(mirror)
    assert (d.groupby("utla_code")["region_code"].nunique() == 1).all()


def test_readers_return_copies(mirror: Path) -> None:
    d = districts_2019(mirror)
    d.loc[0, "area_name"] = "changed"
    assert districts_2019(mirror).loc[0, "area_name"] != "changed"


# --- crosswalks --------------------------------------------------------------------------------


def test_ecode_crosswalk(mirror: Path) -> None:
    e = ecode_to_gss(mirror)
    assert e["E2221"] == "E10000016"  # Kent County Council
    assert e["E4601"] == "E08000025"  # Birmingham
    assert e["E0920"] == "E10000006"  # Cumbria (abolished 2023, still in the register)


def test_snac_crosswalk(mirror: Path) -> None:
    s = snac_to_gss(mirror)
    assert s["00CN"] == "E08000025"
    assert s["29"] == "E10000016"
    assert s["29UB"] == "E07000105"  # Ashford


def test_council_register_columns_and_codes(mirror: Path) -> None:
    r = council_register(mirror)
    for col in ["gss_code", "ecode", "snac", "name", "nice_name", "la_type", "start_date"]:
        assert col in r.columns
    assert {"end_date", "replaced_by"} <= set(r.columns)
    assert len(r) == 470
    codes = r["ecode"].dropna()
    assert codes.is_unique and codes.str.fullmatch(r"E\d{4}").all()
    dorset = r[r["gss_code"] == "E10000009"].iloc[0]
    assert dorset["end_date"] == "2019-03-31" and dorset["replaced_by"] == "DST"
    assert r.loc[r["gss_code"] == "E10000016", "end_date"].isna().all()


def test_name_variants_map_to_gss(mirror: Path) -> None:
    n = name_to_gss(mirror)
    assert n["kent county council"] == "E10000016"
    assert n["kent"] == "E10000016"
    assert n["birmingham city council"] == "E08000025"
    assert n["kingston upon hull, city of"] == "E06000010"
    # shared by the old county and the 2023 unitary: the one alive in April 2019 wins
    assert n["somerset"] == "E10000027"
    assert n["north yorkshire"] == "E10000023"
    assert all(k == k.lower() for k in n)


def test_normalise_name() -> None:
    assert normalise_name("  Brighton &  Hove ") == "brighton and hove"


# --- boundaries --------------------------------------------------------------------------------


def test_district_boundaries_2019_are_valid_and_match_the_district_table(mirror: Path) -> None:
    b = district_boundaries(mirror, 2019)
    assert list(b.columns) == ["area_code", "area_name", "geometry"]
    assert b.crs is not None and b.crs.to_epsg() == 4326
    assert b.is_valid.all() and not b.is_empty.any()
    assert set(b.geom_type) <= {"Polygon", "MultiPolygon"}
    assert b["area_code"].is_unique
    assert set(b["area_code"]) == set(districts_2019(mirror)["area_code"])
    minx, miny, maxx, maxy = b.total_bounds
    assert minx > -7 and maxx < 2 and miny > 49 and maxy < 56  # England in lon/lat


def test_upper_tier_boundaries_2019_match_the_upper_tiers(mirror: Path) -> None:
    b = upper_tier_boundaries(mirror, 2019)
    assert b.is_valid.all()
    assert set(b["area_code"]) == set(upper_tiers_2019(mirror)["utla_code"])


def test_boundaries_follow_the_year(mirror: Path) -> None:
    codes_2018 = set(district_boundaries(mirror, 2018)["area_code"])
    codes_2023 = set(district_boundaries(mirror, 2023)["area_code"])
    assert "E06000028" in codes_2018 and "E06000058" not in codes_2018  # Bournemouth
    assert {"E06000063", "E06000064"} <= codes_2023  # Cumberland, Westmorland and Furness
    assert "E07000026" not in codes_2023  # Allerdale
    assert "E10000006" not in set(upper_tier_boundaries(mirror, 2023)["area_code"])  # Cumbria


def test_district_geojson_fits_the_budget_and_keys_by_code(mirror: Path) -> None:
    gj = to_geojson(district_boundaries(mirror, 2019))
    assert geojson_bytes(gj) < GEOJSON_BUDGET
    assert district_geojson(mirror, 2019) == gj
    ids = [f["id"] for f in gj["features"]]
    assert sorted(ids) == sorted(districts_2019(mirror)["area_code"])
    assert gj == json.loads(json.dumps(gj))


# --- pure helpers ------------------------------------------------------------------------------


def test_valid_in_treats_missing_years_as_open() -> None:
    start = pd.Series([None, 2019, 2020, None], dtype=float)
    end = pd.Series([None, None, None, 2018], dtype=float)
    assert valid_in(start, end, 2019).tolist() == [True, True, False, False]


def test_polygonal_repairs_a_bowtie_and_keeps_only_polygons() -> None:
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    assert not bowtie.is_valid
    fixed = polygonal(bowtie)
    assert fixed.is_valid and isinstance(fixed, MultiPolygon)
    assert fixed.area == pytest.approx(0.5)


def test_to_geojson_rounds_keys_by_code_and_drops_collapsed_rings() -> None:
    big = box(-1.123456, 51.123456, -1.0, 51.2)
    speck = box(0.5, 50.5, 0.50001, 50.50001)  # smaller than the 4 dp grid
    gdf = gpd.GeoDataFrame(
        {"area_code": ["E06000001"], "area_name": ["Somewhere"]},
        geometry=[MultiPolygon([big, speck])],
        crs="EPSG:4326",
    )
    gj = to_geojson(gdf, simplify_tolerance=0.0)
    feature = gj["features"][0]
    assert gj["type"] == "FeatureCollection"
    assert feature["id"] == "E06000001"
    assert feature["properties"] == {"area_code": "E06000001", "area_name": "Somewhere"}
    assert feature["geometry"]["type"] == "Polygon"
    xs = [x for x, _ in feature["geometry"]["coordinates"][0]]
    assert -1.1235 in xs
    assert shape(feature["geometry"]).area == pytest.approx(big.area, rel=1e-3)


def test_to_geojson_simplifies_when_asked() -> None:
    circle = box(0, 0, 1, 1).buffer(0.5)
    gdf = gpd.GeoDataFrame(
        {"area_code": ["E06000001"], "area_name": ["Round"]}, geometry=[circle], crs="EPSG:4326"
    )
    exact = to_geojson(gdf, simplify_tolerance=0.0)
    simple = to_geojson(gdf, simplify_tolerance=0.05)
    assert geojson_bytes(simple) < geojson_bytes(exact)
