"""The high-level count: CRA regional spend apportioned to districts, summed for a place.

The ledger keeps CRA spend by region, as published. At count time each regional row is shared
among the region's districts by a driver (population, for now mid-2019: the only district
population in the store) with exact largest-remainder rounding in pence, so the districts of a
region always sum to the region's CRA total. For a year two CRA releases cover, the later
release wins. Councils' own revenue outturn is shown beside the count, not yet instead of it.
"""

from __future__ import annotations

import pandas as pd

from totalplace.count.result import COUNT_ROW_COLUMNS, CountResult
from totalplace.errors import StoreError
from totalplace.geography.places import Place
from totalplace.ledger.store import Store
from totalplace.sources.catalogue import load_catalogue

CRA_SOURCES = ("cra_2010", "cra_2014")
OUTTURN_SOURCES = ("rs_2010_11",)
DRIVER_MID_YEAR = 2019


def fy_start(year: str) -> int:
    """'2010-11' -> 2010."""
    return int(year[:4])


def available_years(store: Store) -> list[str]:
    """Years with CRA spend in the store, oldest first."""
    df = store.query(
        "SELECT DISTINCT year FROM ledger WHERE source_id IN (SELECT unnest(?)) ORDER BY year",
        [list(CRA_SOURCES)],
    )
    return [str(y) for y in df["year"]]


def release_for_year(store: Store, year: str) -> str:
    """The CRA source used for ``year``: of the releases covering it, the one reaching latest."""
    df = store.query(
        """SELECT source_id, max(year) AS last FROM ledger
           WHERE source_id IN (SELECT unnest(?)) GROUP BY source_id
           HAVING bool_or(year = ?) ORDER BY last DESC, source_id DESC""",
        [list(CRA_SOURCES), year],
    )
    if df.empty:
        years = ", ".join(available_years(store)) or "none"
        raise StoreError(f"no HM Treasury CRA spend for {year} in the store (years: {years})")
    return str(df["source_id"].iloc[0])


def release_label(source_id: str) -> str:
    src = load_catalogue().get(source_id)
    return f"{src.publisher}: {src.title}" if src else source_id


def driver_label(mid_year: int, year: str) -> str:
    same = mid_year == fy_start(year)
    return f"population mid-{mid_year}" + ("" if same else " (different year)")


_APPORTION_SQL = """
WITH pop AS (
  SELECT area_code, sum(persons)::BIGINT AS w FROM population
  WHERE mid_year = $mid_year GROUP BY area_code),
d AS (
  SELECT d.area_code, d.area_name, d.region_code, pop.w
  FROM districts d JOIN pop USING (area_code)
  WHERE ($regions IS NULL OR list_contains($regions, d.region_code))),
rt AS (SELECT region_code, sum(w)::HUGEINT AS big_w FROM d GROUP BY region_code),
src AS (
  SELECT rowid AS rid, area_code AS region_code, agency_type, function_code, "function",
         amount_pence, source_id
  FROM ledger
  WHERE source_id = $source_id AND year = $year AND area_level = 'region'
    AND ($regions IS NULL OR list_contains($regions, area_code))),
parts AS (
  SELECT s.*, d.area_code, d.area_name, d.w,
         s.amount_pence::HUGEINT * d.w AS num, rt.big_w,
         ((num % rt.big_w) + rt.big_w) % rt.big_w AS rem
  FROM src s JOIN d USING (region_code) JOIN rt USING (region_code)),
floored AS (
  SELECT *, (num - rem) // big_w AS q FROM parts),
ranked AS (
  SELECT *,
    amount_pence - sum(q) OVER (PARTITION BY rid) AS short,
    row_number() OVER (PARTITION BY rid ORDER BY rem DESC, area_code) AS rk
  FROM floored)
SELECT rid, region_code, area_code, area_name, w AS population, agency_type, function_code,
       "function", source_id,
       (q + CASE WHEN rk <= short THEN 1 ELSE 0 END)::BIGINT AS amount_pence
FROM ranked
"""


def apportioned_rows(
    store: Store, year: str, regions: list[str] | None = None, source_id: str | None = None
) -> pd.DataFrame:
    """Every CRA regional ledger row of ``year`` shared among its region's districts.

    One output row per (ledger row, district); amounts in pence sum exactly to the ledger row.
    """
    sid = source_id or release_for_year(store, year)
    return store.query(
        _APPORTION_SQL,
        {"mid_year": DRIVER_MID_YEAR, "regions": regions, "source_id": sid, "year": year},
    )


def _place_regions(store: Store, place: Place) -> list[str]:
    df = store.query(
        "SELECT DISTINCT region_code FROM districts WHERE list_contains(?, area_code)",
        [list(place.districts)],
    )
    return sorted(df["region_code"].astype(str))


def _population(store: Store, codes: list[str], mid_year: int) -> int:
    df = store.query(
        "SELECT coalesce(sum(persons), 0) AS n FROM population "
        "WHERE mid_year = ? AND list_contains(?, area_code)",
        [mid_year, codes],
    )
    return int(df["n"].iloc[0])


def council_outturn(store: Store, place: Place, year: str) -> pd.DataFrame | None:
    """Councils' own revenue outturn for the place's councils, or None if not loaded for year."""
    have = store.query(
        "SELECT count(*) AS n FROM ledger WHERE source_id IN (SELECT unnest(?)) AND year = ?",
        [list(OUTTURN_SOURCES), year],
    )
    if int(have["n"].iloc[0]) == 0:
        return None
    codes = sorted(set(place.councils) | set(place.districts) | _predecessors(store, place))
    return store.query(
        """SELECT agency, agency_code, area_code, agency_type, service_line,
                  sum(amount_pence)::BIGINT AS amount_pence
           FROM ledger WHERE source_id IN (SELECT unnest(?)) AND year = ?
             AND list_contains(?, area_code)
           GROUP BY ALL ORDER BY agency, service_line""",
        [list(OUTTURN_SOURCES), year, codes],
    )


def _predecessors(store: Store, place: Place) -> set[str]:
    """Codes of councils merged into the place's districts since 2009 (e.g. Poole → BCP)."""
    if "code_changes" not in store.tables():
        return set()
    df = store.query(
        "SELECT DISTINCT oldcd FROM code_changes WHERE type IN ('merger', 'new_code') "
        "AND list_contains(?, newcd)",
        [list(place.districts)],
    )
    return set(df["oldcd"].astype(str))


def count_place(store: Store, place: Place, year: str) -> CountResult:
    """The high-level count of ``place`` for ``year``: by agency type, function, basis, driver."""
    sid = release_for_year(store, year)
    regions = _place_regions(store, place)
    parts = apportioned_rows(store, year, regions=regions, source_id=sid)
    mine = parts[parts["area_code"].isin(place.districts)]
    driver = driver_label(DRIVER_MID_YEAR, year)
    label = release_label(sid)
    rows = (
        mine.groupby(["agency_type", "function_code", "function"], dropna=False, as_index=False)[
            "amount_pence"
        ]
        .sum()
        .assign(basis="apportioned", driver=driver, source_id=sid, release=label)
    )
    rows = rows[list(COUNT_ROW_COLUMNS)].sort_values("amount_pence", ascending=False,
                                                     ignore_index=True)
    districts = (
        mine.groupby(["area_code", "area_name", "region_code", "population"], as_index=False)[
            "amount_pence"
        ].sum()
    )
    population = _population(store, list(place.districts), DRIVER_MID_YEAR)
    caveats = [
        f"HM Treasury CRA gives spend by region; it is shared among districts by {driver}.",
        f"Identifiable spend only, from {label}.",
    ]
    if fy_start(year) != DRIVER_MID_YEAR:
        caveats.append(
            f"No district population for mid-{fy_start(year)} is loaded: mid-{DRIVER_MID_YEAR} "
            "population is used for shares and per-head figures."
        )
    outturn = council_outturn(store, place, year)
    if outturn is None:
        caveats.append(f"Councils' own revenue outturn is not loaded for {year}.")
    return CountResult(
        place_name=place.name,
        place_codes=tuple(place.districts),
        year=year,
        population=population,
        population_year=DRIVER_MID_YEAR,
        release=label,
        rows=rows,
        districts=districts,
        reported_by_councils=outturn,
        caveats=caveats,
    )


def count_districts(store: Store, year: str, region_code: str | None = None) -> pd.DataFrame:
    """Apportioned count of every district (of one region, or all England)."""
    parts = apportioned_rows(store, year, regions=[region_code] if region_code else None)
    return parts.groupby(["area_code", "area_name", "region_code", "population"],
                         as_index=False)["amount_pence"].sum()
