"""English local-government areas of April 2019: districts, upper tiers and regions.

April 2019 is the vintage every place is expressed in: it is the first year after the Dorset,
Bournemouth and Poole merger and the last before Buckinghamshire, Northamptonshire and
Cumbria were reorganised. All readers take the mirror folder and return fresh frames.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

UTLA_2019 = "lookups/ons_ltla2019_to_utla2019_ew.csv"
REGION_2018 = "lookups/ons_lad2018_to_region2018_england.csv"
CODE_CHANGES = "lookups/la_code_changes_2018_2025.csv"

#: GSS entity codes of English lower-tier areas: unitary, shire district, met district, borough.
DISTRICT_PREFIXES = ("E06", "E07", "E08", "E09")

DISTRICT_COLUMNS = [
    "area_code",
    "area_name",
    "utla_code",
    "utla_name",
    "county_code",
    "region_code",
    "region_name",
    "tier",
]


def districts_2019(mirror: Path) -> pd.DataFrame:
    """One row per English lower-tier district of April 2019 (317), with upper tier and region.

    ``county_code`` is the E10 shire county of an E07 district and None elsewhere; ``tier`` is
    'district' for E07 shire districts and 'unitary' for E06/E08/E09 single-tier areas.
    """
    return _districts_2019(Path(mirror)).copy()


def regions(mirror: Path) -> pd.DataFrame:
    """The nine English regions (E12): ``region_code, region_name``."""
    return _regions(Path(mirror)).copy()


def upper_tiers_2019(mirror: Path) -> pd.DataFrame:
    """English upper-tier areas of April 2019 (counties and unitaries) with their district count."""
    d = _districts_2019(Path(mirror))
    out = (
        d.groupby(["utla_code", "utla_name"], as_index=False)
        .agg(region_code=("region_code", "first"), districts=("area_code", "size"))
        .sort_values("utla_code", ignore_index=True)
    )
    return out


@lru_cache(maxsize=4)
def _regions(mirror: Path) -> pd.DataFrame:
    r = _region_2018(mirror)
    out = r[["region_code", "region_name"]].drop_duplicates().sort_values("region_code")
    return out.reset_index(drop=True)


@lru_cache(maxsize=4)
def _region_2018(mirror: Path) -> pd.DataFrame:
    """ONS LAD 2018 → region lookup, renamed (the April 2018 structure, 326 districts)."""
    r = pd.read_csv(mirror / REGION_2018, dtype=str)
    return r.rename(
        columns={
            "LAD18CD": "area_code",
            "LAD18NM": "area_name",
            "RGN18CD": "region_code",
            "RGN18NM": "region_name",
        }
    )[["area_code", "area_name", "region_code", "region_name"]]


def _successor_regions(mirror: Path, known: pd.DataFrame) -> pd.DataFrame:
    """Regions of areas created by merger, taken from their predecessors (all in one region)."""
    changes = pd.read_csv(mirror / CODE_CHANGES, dtype=str, encoding="utf-8-sig")
    mergers = changes[changes["type"] == "merger"][["oldcd", "newcd"]]
    joined = mergers.merge(known, left_on="oldcd", right_on="area_code")
    per_new = joined.groupby("newcd").agg(
        region_code=("region_code", "first"),
        region_name=("region_name", "first"),
        n=("region_code", "nunique"),
    )
    split = per_new[per_new["n"] > 1]
    if not split.empty:
        raise ValueError(f"merged areas with predecessors in several regions: {list(split.index)}")
    return per_new.drop(columns="n").rename_axis("area_code").reset_index()


@lru_cache(maxsize=4)
def _districts_2019(mirror: Path) -> pd.DataFrame:
    u = pd.read_csv(mirror / UTLA_2019, dtype=str)
    u = u[u["LTLA19CD"].str.startswith(DISTRICT_PREFIXES)].rename(
        columns={
            "LTLA19CD": "area_code",
            "LTLA19NM": "area_name",
            "UTLA19CD": "utla_code",
            "UTLA19NM": "utla_name",
        }
    )[["area_code", "area_name", "utla_code", "utla_name"]]
    known = _region_2018(mirror)[["area_code", "region_code", "region_name"]]
    new = _successor_regions(mirror, known)
    region = pd.concat([known, new[~new["area_code"].isin(known["area_code"])]])
    out = u.merge(region, on="area_code", how="left", validate="one_to_one")
    missing = out[out["region_code"].isna()]["area_code"].tolist()
    if missing:
        raise ValueError(f"districts of 2019 without a region: {missing}")
    is_county = out["utla_code"].str.startswith("E10")
    out["county_code"] = out["utla_code"].astype(object).where(is_county, None)
    out["tier"] = out["area_code"].str.startswith("E07").map({True: "district", False: "unitary"})
    return out[DISTRICT_COLUMNS].sort_values("area_code", ignore_index=True)
