"""Build a workspace: reference tables from the mirror, then every catalogue source that has an
adapter, into the workspace's DuckDB store. Safe to run again: unchanged files are skipped."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from totalplace.config import Settings
from totalplace.ingest.pipeline import FileReport, ingest_file
from totalplace.ledger.store import Store, raise_if_busy
from totalplace.sources.catalogue import Source, get_source, load_catalogue, locate

#: Called with (step description, steps done, steps total).
ProgressFn = Callable[[str, int, int], None]


def _quiet(_msg: str, _done: int, _total: int) -> None:
    return None


#: Simplification (degrees) keeping the 2009 and 2013 district maps under 500 KB each.
HISTORIC_TOLERANCE = 0.006


def reference_tables(mirror: Path) -> dict[str, pd.DataFrame]:
    """The reference tables a count needs, built from mirror files (verified first)."""
    from totalplace.geography import areas, boundaries, crosswalk, footprints

    for sid in (
        "lad2019_to_utla2019",
        "lad2018_to_region2018",
        "la_code_changes",
        "mysociety_register",
        "boundaries_uk_admin_2014_2025",
        "lad2019_to_county2019",
        "ltla2014_hierarchy",
    ):
        locate(get_source(sid), mirror)
    changes = pd.read_csv(mirror / get_source("la_code_changes").path, encoding="utf-8-sig")
    geo = boundaries.to_geojson(boundaries.district_boundaries(mirror, year=2019))
    upper = boundaries.to_geojson(boundaries.upper_tier_boundaries(mirror, year=2019))
    historic = [
        json.dumps(
            boundaries.to_geojson(
                boundaries.historic_district_boundaries(mirror, v), HISTORIC_TOLERANCE
            )
        )
        for v in (2009, 2013)
    ]
    districts = areas.districts_2019(mirror)
    locate(get_source("eurostat_nuts_population"), mirror)
    return {
        "region_population": region_population(mirror),
        "districts": districts,
        "footprints": footprints.footprints(mirror, districts),
        "regions": areas.regions(mirror),
        "upper_tiers": areas.upper_tiers_2019(mirror),
        "code_changes": changes,
        "council_register": crosswalk.council_register(mirror),
        "geojson": pd.DataFrame(
            {
                "level": ["district", "upper_tier", "district_2009", "district_2013"],
                "value": [json.dumps(geo), json.dumps(upper), *historic],
            }
        ),
    }


def region_population(mirror: Path) -> pd.DataFrame:
    """Eurostat population on 1 January by English NUTS1 region, keyed by GSS region code."""
    import csv as _csv

    from totalplace.config import REFERENCE_DIR

    with (REFERENCE_DIR / "codes" / "cra_regions.csv").open(encoding="utf-8") as fh:
        regions = {
            r["nuts1"]: r["area_code"]
            for r in _csv.DictReader(x for x in fh if not x.startswith("#"))
            if r["area_level"] == "region"
        }
    raw = pd.read_csv(mirror / get_source("eurostat_nuts_population").path, dtype=str)
    raw = raw[raw["GEO"].isin(regions) & (raw["SEX"] == "Total") & (raw["AGE"] == "Total")]
    persons = pd.to_numeric(raw["Value"].str.replace(",", "").str.strip(), errors="coerce")
    out = pd.DataFrame(
        {
            "region_code": raw["GEO"].map(regions),
            "jan1_year": raw["TIME"].astype(int),
            "persons": persons,
        }
    )
    return (
        out.dropna()
        .astype({"persons": "int64"})
        .drop_duplicates(["region_code", "jan1_year"])
        .reset_index(drop=True)
    )


def adapter_sources() -> list[Source]:
    """Catalogue sources that have an adapter, in catalogue order."""
    return [s for s in load_catalogue().values() if s.adapter]


def build_workspace(
    settings: Settings, progress: ProgressFn = _quiet, rebuild: bool = False
) -> list[FileReport]:
    """Create or update the workspace store; returns one report per source file."""
    from totalplace.count.materialise import refresh_parts
    from totalplace.geography.crosswalk import ecode_to_gss

    mirror = settings.require_mirror()
    if rebuild and settings.store_path.exists():
        raise_if_busy(settings.store_path)  # never delete the store under a running ingest
        settings.store_path.unlink()
        Path(str(settings.store_path) + ".wal").unlink(missing_ok=True)
    sources = adapter_sources()
    total = len(sources) + 1
    reports: list[FileReport] = []
    with Store(settings.store_path) as store:
        progress("reference tables (districts, crosswalks, boundaries)", 0, total)
        for table, frame in reference_tables(mirror).items():
            store.replace_table(table, frame)
        options = {"ecode_to_gss": ecode_to_gss(mirror)}
        for i, source in enumerate(sources, start=1):
            progress(f"{source.id}: {Path(source.path).name}", i, total)
            try:
                path = locate(source, mirror)
            except Exception as exc:  # a missing or damaged file is reported, the build goes on
                reports.append(
                    FileReport(Path(source.path).name, source.adapter, "error", message=str(exc))
                )
                continue
            reports.append(
                ingest_file(
                    store,
                    path,
                    source_id=source.id,
                    adapter=source.adapter,
                    options={**options, **source.options},
                )
            )
        _add_authority_footprints(store, mirror)
        progress("count lines of every year, kept for live counts and maps", total, total)
        refresh_parts(store)
        progress("done", total, total)
    return reports


def _add_authority_footprints(store: Store, mirror: Path) -> None:
    """Police and fire authorities in the ledger keyed by E-code get footprints too."""
    from totalplace.geography.footprints import authority_footprints

    if "footprints" not in store.tables():
        return
    auth = store.query(
        "SELECT DISTINCT area_code, agency FROM ledger WHERE area_code LIKE 'ECODE:%'"
    )
    extra = authority_footprints(mirror, auth)
    base = store.query("SELECT * FROM footprints WHERE agency_code NOT LIKE 'ECODE:%'")
    store.replace_table("footprints", pd.concat([base, extra], ignore_index=True))


def precompute_results(
    settings: Settings, progress: Callable[[str], None] = lambda _m: None
) -> Any:
    """Compute the figures the dashboard and the API ask for most (every pilot's default count
    for every year, England's spend by district for every year) and keep them in the workspace
    (``totalplace.results``); returns a ``PrecomputeReport``. Results of older workspace states
    are removed."""
    from totalplace.results import precompute
    from totalplace.workspace import Workspace

    ws = Workspace(settings, read_only=True)
    try:
        return precompute(ws.store, ws.results, ws.pilots().values(), ws.years(), progress)
    finally:
        ws.store.close()
