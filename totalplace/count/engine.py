"""The high-level count: CRA regional spend apportioned to districts, councils' own outturn
in place of CRA's local-government current spend where it exists, summed for a place.

The ledger keeps CRA spend by region, as published. At count time each regional row is shared
among the region's districts by its driver (population or an age band; data/codes) with exact
largest-remainder rounding in pence, so the districts of a region always sum to the region's
CRA total. For a year two CRA releases cover, the later release wins. Where councils' revenue
outturn is loaded (the catalogue's RS sources: 2010-11 to 2013-14), it replaces CRA
local-government current spend for the COFOG divisions its service lines of that year cover
(data/codes/rs_to_cofog.csv), and the count lists what it replaced.

``district_lines_on_demand`` is the engine: every step computed from the ledger. Its result for
all England is kept in the store by year (``totalplace.count.materialise``, at build and ingest;
``totalplace.count.parts``), and ``district_lines`` reads it from there when it is current, so
a count is a filter and a map one GROUP BY; a driver override re-shares only the lines it
touches, with the same steps.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from totalplace.config import REFERENCE_DIR
from totalplace.count import parts
from totalplace.count.consolidate import consolidate
from totalplace.count.drivers import builtin_drivers, driver_for, population_weights
from totalplace.count.result import COUNT_ROW_COLUMNS, CountResult
from totalplace.errors import StoreError
from totalplace.geography.places import Place
from totalplace.ledger.store import Store
from totalplace.sources.catalogue import load_catalogue

CRA_SOURCES = ("cra_2010", "cra_2014")
#: The ingest adapter of councils' revenue outturn (DCLG RS).
OUTTURN_ADAPTER = "revenue_outturn"


def outturn_sources() -> tuple[str, ...]:
    """Catalogue sources of councils' revenue outturn, one per year (rs_2010_11, …)."""
    return tuple(s.id for s in load_catalogue().values() if s.adapter == OUTTURN_ADAPTER)


OUTTURN_SOURCES = outturn_sources()
#: Agency types whose CRA local-government current spend councils' outturn replaces.
COUNCIL_TYPES = ("Councils", "Police", "Fire and rescue")


@dataclass(frozen=True)
class CountOptions:
    """Choices a partner can change: driver overrides (function or sub-function -> driver),
    whether councils' outturn replaces CRA, and the population mid-year used."""

    drivers: dict[str, str] = field(default_factory=dict)
    use_outturn: bool = True
    mid_year: int | None = None

    def key(self) -> tuple[object, ...]:
        return (tuple(sorted(self.drivers.items())), self.use_outturn, self.mid_year)


def fy_start(year: str) -> int:
    """'2010-11' -> 2010."""
    return int(year[:4])


def available_years(store: Store) -> list[str]:
    """Years with CRA spend in the store, oldest first."""
    df = store.query(
        "SELECT DISTINCT year FROM ledger WHERE list_contains(?, source_id) ORDER BY year",
        [list(CRA_SOURCES)],
    )
    return [str(y) for y in df["year"]]


def release_for_year(store: Store, year: str) -> str:
    """The CRA source used for ``year``: of the releases covering it, the one reaching latest."""
    stored = parts.stored_key(store, year)
    if stored is not None:  # recorded when the year's lines were kept, for the same ledger
        return stored.cra_source
    df = store.query(
        """SELECT source_id, max(year) AS last FROM ledger
           WHERE list_contains(?, source_id) GROUP BY source_id
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


def population_years(store: Store) -> list[int]:
    df = store.query("SELECT DISTINCT mid_year FROM population ORDER BY mid_year")
    return [int(y) for y in df["mid_year"]]


def best_mid_year(store: Store, year: str) -> int:
    """The district population year for a count: the count's own year if loaded (2019 districts
    only: mid-2019 is the vintage on 2019 boundaries), else the nearest loaded year."""
    years = [y for y in population_years(store) if y == 2019] or population_years(store)
    if not years:
        raise StoreError("no population in the store: run `totalplace build`")
    target = fy_start(year)
    return min(years, key=lambda y: (abs(y - target), -y))


def driver_label(name: str, mid_year: int, year: str) -> str:
    d = builtin_drivers().get(name)
    if d is None:
        return f"user driver {name}"
    label = d.label
    same = mid_year == fy_start(year)
    return f"{label}, mid-{mid_year}" + ("" if same else " (different year)")


@lru_cache(maxsize=16)
def rs_crosswalk(year: str | None = None) -> pd.DataFrame:
    """RS service lines -> COFOG (data/codes/rs_to_cofog.csv); with ``year``, only the lines
    valid that year (RS columns change: social care split in 2011-12, public health 2013-14)."""
    with (REFERENCE_DIR / "codes" / "rs_to_cofog.csv").open(encoding="utf-8") as fh:
        cw = pd.DataFrame(list(csv.DictReader(line for line in fh if not line.startswith("#"))))
    if year is None:
        return cw
    valid = (cw["from_year"] <= year) & ((cw["to_year"] == "") | (year <= cw["to_year"]))
    return cw[valid].reset_index(drop=True)


def outturn_years(store: Store) -> list[str]:
    """Years with councils' revenue outturn in the store, oldest first."""
    df = store.query(
        "SELECT DISTINCT year FROM ledger WHERE list_contains(?, source_id) ORDER BY year",
        [list(OUTTURN_SOURCES)],
    )
    return [str(y) for y in df["year"]]


@lru_cache(maxsize=1)
def outturn_keeps_cra() -> list[str]:
    """CRA sub-function prefixes that councils' outturn does not replace (data/codes)."""
    with (REFERENCE_DIR / "codes" / "outturn_keeps_cra.csv").open(encoding="utf-8") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        return [r["subfunction_prefix"] for r in rows]


_APPORTION_SQL = """
WITH d AS (
  SELECT d.area_code, d.area_name, d.region_code FROM districts d
  WHERE ($regions IS NULL OR list_contains($regions, d.region_code))),
wd AS (SELECT w.driver, d.*, w.w FROM _weights w JOIN d USING (area_code)),
rt AS (SELECT driver, region_code, sum(w)::HUGEINT AS big_w FROM wd GROUP BY ALL),
src AS (
  SELECT l.rowid AS rid, l.area_code AS region_code, l.agency, l.agency_type, l.function_code,
         l."function", l.subfunction, l.spend_kind, l.description, l.amount_pence, l.source_id,
         l.file, l."row", coalesce(m.driver, 'population') AS driver
  FROM ledger l LEFT JOIN _drvmap m
    ON m.function_code IS NOT DISTINCT FROM l.function_code
   AND m.subfunction IS NOT DISTINCT FROM l.subfunction
  WHERE l.source_id = $source_id AND l.year = $year AND l.area_level = 'region'
    AND ($regions IS NULL OR list_contains($regions, l.area_code))
    AND (NOT $only OR m.driver IS NOT NULL)),
parts AS (
  SELECT s.*, wd.area_code, wd.area_name, wd.w, rt.big_w,
         s.amount_pence::HUGEINT * wd.w AS num,
         ((num % rt.big_w) + rt.big_w) % rt.big_w AS rem
  FROM src s JOIN wd USING (region_code, driver) JOIN rt USING (region_code, driver)),
ranked AS (
  SELECT *, (num - rem) // big_w AS q,
    amount_pence - sum((num - rem) // big_w) OVER (PARTITION BY rid) AS short,
    row_number() OVER (PARTITION BY rid ORDER BY rem DESC, area_code) AS rk
  FROM parts)
SELECT rid, region_code, area_code, area_name, agency, agency_type, function_code, "function",
       subfunction, spend_kind, description, source_id, file, "row", driver,
       (q + CASE WHEN rk <= short THEN 1 ELSE 0 END)::BIGINT AS amount_pence
FROM ranked
WHERE $keep IS NULL OR list_contains($keep, area_code)
"""


def _weights(store: Store, mid_year: int, names: list[str]) -> pd.DataFrame:
    pop = store.query(
        "SELECT area_code, age, persons FROM population WHERE mid_year = ?", [mid_year]
    )
    w = population_weights(pop, names)
    if "user_drivers" in store.tables():
        user = store.query(
            "SELECT driver, area_code, w FROM user_drivers WHERE list_contains(?, driver)", [names]
        )
        w = pd.concat([w, user], ignore_index=True)
    return w


def driver_map(
    store: Store, source_id: str, year: str, overrides: dict[str, str] | None = None
) -> pd.DataFrame:
    """The driver of every (function_code, subfunction) of a CRA release's year."""
    pairs = store.query(
        "SELECT DISTINCT function_code, subfunction FROM ledger WHERE source_id = ? AND year = ?",
        [source_id, year],
    )
    pairs["driver"] = [
        driver_for(f, s, overrides)
        for f, s in zip(pairs["function_code"], pairs["subfunction"], strict=True)
    ]
    return pairs


def apportioned_rows(
    store: Store,
    year: str,
    regions: list[str] | None = None,
    source_id: str | None = None,
    options: CountOptions | None = None,
    keep: list[str] | None = None,
    only: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every CRA regional ledger row of ``year`` shared among its region's districts by its
    driver. One row per (ledger row, district); each ledger row's parts sum to it exactly.
    ``keep`` returns only those districts' parts (the sharing still uses the whole region);
    ``only`` (function_code, subfunction, driver rows of ``driver_map``) shares only the lines
    of those pairs, by those drivers."""
    opts = options or CountOptions()
    sid = source_id or release_for_year(store, year)
    mid_year = opts.mid_year or best_mid_year(store, year)
    pairs = driver_map(store, sid, year, opts.drivers) if only is None else only
    weights = _weights(store, mid_year, sorted(set(pairs["driver"]) | {"population"}))
    missing = set(pairs["driver"]) - set(weights["driver"])
    if missing:
        raise StoreError(f"driver(s) not available: {', '.join(sorted(missing))}")
    con = store.con
    con.register("_drvmap", pairs)
    con.register("_weights", weights)
    try:
        out = store.query(
            _APPORTION_SQL,
            {
                "regions": regions,
                "source_id": sid,
                "year": year,
                "keep": keep,
                "only": only is not None,
            },
        )
    finally:
        con.unregister("_drvmap")
        con.unregister("_weights")
    out["basis"] = "apportioned"
    labels = {d: driver_label(d, mid_year, year) for d in out["driver"].unique()}
    out["driver"] = out["driver"].map(labels)
    out["confidence"] = (
        "apportioned, same-year driver"
        if mid_year == fy_start(year)
        else "apportioned, other-year driver"
    )
    out["release"] = release_label(sid)
    return out


def outturn_rows(
    store: Store, year: str, districts: list[str] | None, mid_year: int
) -> pd.DataFrame:
    """Councils' own outturn for ``year`` shared among their footprint districts by population
    (a district council's stays whole with it). Empty if no outturn is loaded for the year.
    Service lines map to COFOG by the crosswalk rows valid in ``year``."""
    cw = rs_crosswalk(year)
    con = store.con
    con.register("_cw", cw)
    try:
        df = store.query(
            """
            WITH o AS (
              SELECT l.rowid AS rid, l.agency, l.agency_code, l.area_code AS council,
                     l.agency_type, l.service_line, l.amount_pence, l.source_id, l.file, l."row",
                     c.function_code, c."function", c.replace, c.subfunction AS scope
              FROM ledger l JOIN _cw c ON c.service_line = l.service_line
              WHERE list_contains($sources, l.source_id) AND l.year = $year),
            f AS (SELECT o.*, fp.area_code, fp.partial FROM o
                  JOIN footprints fp ON fp.agency_code = o.council),
            p AS (SELECT area_code, sum(persons)::BIGINT AS w FROM population
                  WHERE mid_year = $mid_year GROUP BY area_code),
            fw AS (SELECT f.*, p.w, sum(p.w) OVER (PARTITION BY rid)::HUGEINT AS big_w,
                          count(*) OVER (PARTITION BY rid) AS n_areas
                   FROM f JOIN p USING (area_code)),
            parts AS (SELECT *, amount_pence::HUGEINT * w AS num,
                             ((num % big_w) + big_w) % big_w AS rem FROM fw),
            ranked AS (SELECT *, (num - rem) // big_w AS q,
                         amount_pence - sum((num - rem) // big_w) OVER (PARTITION BY rid) AS short,
                         row_number() OVER (PARTITION BY rid ORDER BY rem DESC, area_code) AS rk
                       FROM parts)
            SELECT rid, agency, agency_code, council, agency_type, service_line, function_code,
                   "function", replace, scope, source_id, file, "row", area_code, partial, n_areas,
                   (q + CASE WHEN rk <= short THEN 1 ELSE 0 END)::BIGINT AS amount_pence
            FROM ranked
            WHERE $districts IS NULL OR list_contains($districts, area_code)
            """,
            {
                "sources": list(OUTTURN_SOURCES),
                "year": year,
                "mid_year": mid_year,
                "districts": districts,
            },
        )
    finally:
        con.unregister("_cw")
    return df


def district_lines(
    store: Store,
    year: str,
    districts: list[str] | None = None,
    regions: list[str] | None = None,
    options: CountOptions | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Count lines by district (CRA apportioned, with councils' outturn in place of CRA
    local-government current spend where loaded) and the CRA lines that outturn replaced:
    the year's kept lines when they are current (``totalplace.count.parts``), else computed
    (``district_lines_on_demand``); the same lines either way."""
    opts = options or CountOptions()
    stored = _stored_lines(store, year, districts, regions, opts)
    if stored is not None:
        return stored
    return district_lines_on_demand(store, year, districts, regions, opts)


def _stored_lines(
    store: Store,
    year: str,
    districts: list[str] | None,
    regions: list[str] | None,
    opts: CountOptions,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """``district_lines`` from the kept lines, or None when they cannot give it (not kept or
    not current, another population year, outturn switched off)."""
    key = parts.stored_key(store, year)
    if key is None or not opts.use_outturn or opts.mid_year not in (None, key.mid_year):
        return None
    got = parts.read(store, year, districts=districts, regions=regions)
    if got is None or not opts.drivers:
        return got
    return _redriven(store, year, key.cra_source, *got, regions, districts, opts)


def _redriven(
    store: Store,
    year: str,
    source_id: str,
    lines: pd.DataFrame,
    replaced: pd.DataFrame,
    regions: list[str] | None,
    districts: list[str] | None,
    opts: CountOptions,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Kept lines with the CRA lines whose driver ``opts`` changes shared again by the new
    driver. Whether a part is replaced (by outturn or an agency's return) depends on its line
    and district, not on its amount, so each new part keeps its old part's place; None (compute
    everything) if a new part has no old one."""
    pairs = driver_map(store, source_id, year, opts.drivers)
    default = [
        driver_for(f, s) for f, s in zip(pairs["function_code"], pairs["subfunction"], strict=True)
    ]
    touched = pairs[pairs["driver"] != pd.Series(default, index=pairs.index)]
    if touched.empty:
        return lines, replaced
    if regions is None and districts is not None:
        regions = sorted(
            store.query(
                "SELECT DISTINCT region_code FROM districts WHERE list_contains(?, area_code)",
                [districts],
            )["region_code"].astype(str)
        )
    new = apportioned_rows(
        store,
        year,
        regions=regions,
        source_id=source_id,
        options=opts,
        keep=districts,
        only=touched,
    )

    def pair(frame: pd.DataFrame) -> pd.Series:
        return (
            frame["function_code"].fillna("\0").astype(str)
            + "|"
            + frame["subfunction"].fillna("\0").astype(str)
        )

    moved = set(pair(touched))
    old = pd.concat([lines.assign(_r=False), replaced.assign(_r=True)], ignore_index=True)
    old = old[(old["source_id"] == source_id) & (old["basis"] == "apportioned")]
    old = old[pair(old).isin(moved)]
    flags = new.merge(old[["rid", "area_code", "_r"]], on=["rid", "area_code"], how="left")
    if flags["_r"].isna().any():
        return None
    was = flags["_r"].astype(bool).to_numpy()
    keep_lines = lines.drop(index=old.index[~old["_r"].astype(bool)], errors="ignore")
    n = len(lines)
    keep_replaced = replaced.drop(
        index=[i - n for i in old.index[old["_r"].astype(bool)]], errors="ignore"
    )
    return (
        pd.concat([keep_lines, new[~was]], ignore_index=True),
        pd.concat([keep_replaced, new[was]], ignore_index=True),
    )


def district_lines_on_demand(
    store: Store,
    year: str,
    districts: list[str] | None = None,
    regions: list[str] | None = None,
    options: CountOptions | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``district_lines`` computed from the ledger, step by step (the reference path, and
    what ``totalplace.count.materialise`` keeps for all England)."""
    opts = options or CountOptions()
    mid_year = opts.mid_year or best_mid_year(store, year)
    cra = apportioned_rows(store, year, regions=regions, options=opts, keep=districts)
    empty = cra.iloc[0:0]
    if not opts.use_outturn:
        return cra, empty
    if districts is None and regions is not None:
        districts = list(
            store.query(
                "SELECT area_code FROM districts WHERE list_contains(?, region_code)", [regions]
            )["area_code"]
        )
    out = outturn_rows(store, year, districts, mid_year)
    if out.empty:
        return apply_agency_returns(store, year, districts, mid_year, cra, empty)
    out = out[out["replace"] == "yes"]
    scope = out["scope"].fillna("").astype(str)
    covered = set(zip(out["area_code"], out["function_code"], scope, strict=True))
    lg_current = (
        cra["agency_type"].isin(COUNCIL_TYPES)
        & (cra["spend_kind"] == "current")
        & cra["agency"].str.startswith("Local government")
    )
    sub = cra["subfunction"].fillna("").astype(str).str.split(" ").str[0]
    fcode = cra["function_code"].astype(str)
    whole = pd.Series(
        list(zip(cra["area_code"], fcode, [""] * len(cra), strict=True)), index=cra.index
    ).isin(covered)
    part = pd.Series(list(zip(cra["area_code"], fcode, sub, strict=True)), index=cra.index).isin(
        covered
    )
    kept = tuple(outturn_keeps_cra())
    keeps = sub.str.startswith(kept) if kept else pd.Series(False, index=cra.index)
    replaced_mask = lg_current & ((whole & ~keeps) | part)
    replaced = cra[replaced_mask]
    actual = pd.DataFrame(
        {
            "rid": out["rid"],
            "area_code": out["area_code"],
            "agency": out["agency"],
            "agency_code": out["council"],
            "agency_type": out["agency_type"],
            "function_code": out["function_code"],
            "function": out["function"],
            "subfunction": None,
            "service_line": out["service_line"],
            "spend_kind": "current",
            "source_id": out["source_id"],
            "file": out["file"],
            "row": out["row"],
            "amount_pence": out["amount_pence"],
            "basis": "actual",
            "driver": [
                ("own outturn" if n == 1 else f"outturn shared by population, mid-{mid_year}")
                + (" (footprint includes merged areas)" if p else "")
                for n, p in zip(out["n_areas"], out["partial"], strict=True)
            ],
            "confidence": "actual",
            "release": release_label(str(out["source_id"].iloc[0])),
        }
    )
    names = store.query("SELECT area_code, area_name, region_code FROM districts")
    actual = actual.merge(names, on="area_code", how="left")
    lines = pd.concat([cra[~replaced_mask], actual], ignore_index=True)
    return apply_agency_returns(store, year, districts, mid_year, lines, replaced)


@lru_cache(maxsize=1)
def return_functions() -> pd.DataFrame:
    with (REFERENCE_DIR / "codes" / "agency_return_functions.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    return pd.DataFrame(rows)


_RETURNS_SQL = """
WITH o AS (
  SELECT l.rowid AS rid, l.agency, l.area_code AS body, l.agency_type, l.service_line,
         coalesce(l.function_code, f.function_code) AS function_code,
         coalesce(l."function", f."function") AS "function",
         CASE WHEN l.function_code IS NULL THEN nullif(f.subfunction, '') END AS scope,
         coalesce(l.spend_kind, 'current') AS spend_kind,
         l.amount_pence, l.source_id, l.file, l."row"
  FROM ledger l LEFT JOIN _rf f ON f.agency_type = l.agency_type
  WHERE l.year = $year AND l."date" IS NULL
    AND NOT list_contains($skip, l.source_id)
    AND l.area_level NOT IN ('region', 'nation', 'outside_uk')
    AND (l.function_code IS NOT NULL OR f.function_code IS NOT NULL)),
fp AS (SELECT o.*, fp.area_code FROM o JOIN footprints fp ON fp.agency_code = o.body),
p AS (SELECT area_code, sum(persons)::BIGINT AS w FROM population
      WHERE mid_year = $mid_year GROUP BY area_code),
fw AS (SELECT fp.*, p.w, sum(p.w) OVER (PARTITION BY rid)::HUGEINT AS big_w,
              count(*) OVER (PARTITION BY rid) AS n_areas
       FROM fp JOIN p USING (area_code)),
parts AS (SELECT *, amount_pence::HUGEINT * w AS num,
                 ((num % big_w) + big_w) % big_w AS rem FROM fw),
ranked AS (SELECT *, (num - rem) // big_w AS q,
             amount_pence - sum((num - rem) // big_w) OVER (PARTITION BY rid) AS short,
             row_number() OVER (PARTITION BY rid ORDER BY rem DESC, area_code) AS rk
           FROM parts)
SELECT rid, agency, body, agency_type, service_line, function_code, "function", scope,
       spend_kind, source_id, file, "row", area_code, n_areas,
       (q + CASE WHEN rk <= short THEN 1 ELSE 0 END)::BIGINT AS amount_pence
FROM ranked WHERE $districts IS NULL OR list_contains($districts, area_code)
"""


def agency_returns(
    store: Store, year: str, districts: list[str] | None, mid_year: int
) -> pd.DataFrame:
    """Agencies' own annual returns (mapped adapter: police, fire, NHS…) for ``year``, shared
    over each agency's footprint by population."""
    con = store.con
    con.register("_rf", return_functions())
    try:
        return store.query(
            _RETURNS_SQL,
            {
                "year": year,
                "mid_year": mid_year,
                "districts": districts,
                "skip": [*CRA_SOURCES, *OUTTURN_SOURCES],
            },
        )
    finally:
        con.unregister("_rf")


def apply_agency_returns(
    store: Store,
    year: str,
    districts: list[str] | None,
    mid_year: int,
    lines: pd.DataFrame,
    replaced: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bottom-up over top-down: an agency's own return replaces the lines (CRA apportioned, or
    RS outturn) of the same agency type and function in the districts it covers."""
    ret = agency_returns(store, year, districts, mid_year)
    if ret.empty:
        return lines, replaced
    scope = ret["scope"].fillna("").astype(str)
    keys = set(
        zip(
            ret["area_code"],
            ret["agency_type"],
            ret["function_code"].astype(str),
            scope,
            strict=True,
        )
    )
    sub = lines["subfunction"].fillna("").astype(str).str.split(" ").str[0]
    base = list(
        zip(
            lines["area_code"],
            lines["agency_type"],
            lines["function_code"].astype(str),
            strict=True,
        )
    )
    whole = pd.Series([(*k, "") in keys for k in base], index=lines.index)
    part = pd.Series([(*k, s) in keys for k, s in zip(base, sub, strict=True)], index=lines.index)
    mask = (whole | part) & (lines["spend_kind"].fillna("current") == "current")
    names = store.query("SELECT area_code, area_name, region_code FROM districts")
    new = pd.DataFrame(
        {
            "rid": ret["rid"],
            "area_code": ret["area_code"],
            "agency": ret["agency"],
            "agency_code": ret["body"],
            "agency_type": ret["agency_type"],
            "function_code": ret["function_code"].astype(str),
            "function": ret["function"],
            "subfunction": ret["scope"],
            "service_line": ret["service_line"],
            "spend_kind": ret["spend_kind"],
            "source_id": ret["source_id"],
            "file": ret["file"],
            "row": ret["row"],
            "amount_pence": ret["amount_pence"],
            "basis": "actual",
            "driver": [
                (
                    "own return"
                    if n == 1
                    else f"own return shared over its area by population, mid-{mid_year}"
                )
                for n in ret["n_areas"]
            ],
            "confidence": "actual",
            "release": [release_label(str(s)) for s in ret["source_id"]],
        }
    ).merge(names, on="area_code", how="left")
    return (
        pd.concat([lines[~mask], new], ignore_index=True),
        pd.concat([replaced, lines[mask]], ignore_index=True),
    )


def _place_regions(store: Store, place: Place) -> list[str]:
    df = store.query(
        "SELECT DISTINCT region_code FROM districts WHERE list_contains(?, area_code)",
        [list(place.districts)],
    )
    return sorted(df["region_code"].astype(str))


def year_matched_population(store: Store, year: str, mid_year: int) -> pd.DataFrame | None:
    """District populations for the count's own mid-year, estimated by scaling ONS mid-2019
    districts to Eurostat's NUTS1 region totals (mean of 1 January Y and Y+1), or None when
    the count's year is the driver's year or Eurostat lacks it."""
    y = fy_start(year)
    if y == mid_year or "region_population" not in store.tables():
        return None
    df = store.query(
        """WITH e AS (SELECT region_code, avg(persons) AS mid FROM region_population
                      WHERE jan1_year IN (?, ?) GROUP BY region_code HAVING count(*) = 2),
                d AS (SELECT p.area_code, d.region_code, sum(p.persons) AS pop
                      FROM population p JOIN districts d USING (area_code)
                      WHERE p.mid_year = ? GROUP BY ALL),
                r AS (SELECT region_code, sum(pop) AS ons FROM d GROUP BY region_code)
           SELECT d.area_code, round(d.pop * e.mid / r.ons)::BIGINT AS population
           FROM d JOIN r USING (region_code) JOIN e USING (region_code)""",
        [y, y + 1, mid_year],
    )
    return None if df.empty or len(df) < 300 else df


def deflator_series(store: Store) -> pd.DataFrame | None:
    """The GDP deflator series most recently loaded (``year, index, status, source_id``), or
    None when none is."""
    if "deflators" not in store.tables():
        return None
    series = store.query(
        """SELECT year, "index", status, source_id FROM deflators WHERE batch_id =
           (SELECT batch_id FROM batches WHERE target = 'deflators'
            ORDER BY ingested_at DESC, batch_id DESC LIMIT 1) ORDER BY year"""
    )
    return None if series.empty else series


def real_terms(
    store: Store, year: str, total_pence: int, population: int, prices: str | None = None
) -> dict[str, object] | None:
    """The count in ``prices``-year prices (default: the deflator series' latest outturn year),
    if a deflator series is loaded. A ``prices`` year the series lacks is a TotalPlaceError; a
    count year it lacks gives None (cash terms)."""
    from totalplace.count.deflators import real_terms_factor, real_terms_summary
    from totalplace.errors import TotalPlaceError

    series = deflator_series(store)
    if series is None:
        if prices:
            raise TotalPlaceError(
                f"prices {prices}: no GDP deflator series is loaded (`totalplace build` loads "
                "HM Treasury's workbook from the catalogue)"
            )
        return None
    if prices:
        real_terms_factor(series, prices, prices)  # an unknown prices year is an error
    try:
        return real_terms_summary(series, year, total_pence, population, prices)
    except TotalPlaceError:
        return None


def with_prices(store: Store, result: CountResult, prices: str | None) -> CountResult:
    """``result`` with its real terms in ``prices``-year prices (unchanged when None)."""
    import dataclasses

    if prices is None:
        return result
    real = real_terms(store, result.year, result.total_pence, result.population, prices)
    return dataclasses.replace(result, real_terms=real)


def population_of(
    store: Store, codes: list[str], mid_year: int, age_min: int = 0, age_max: int = 999
) -> int:
    df = store.query(
        "SELECT coalesce(sum(persons), 0) AS n FROM population WHERE mid_year = ? "
        "AND list_contains(?, area_code) AND age BETWEEN ? AND ?",
        [mid_year, codes, age_min, age_max],
    )
    return int(df["n"].iloc[0])


GROUP = [
    "agency_type",
    "function_code",
    "function",
    "basis",
    "driver",
    "confidence",
    "source_id",
    "release",
]


def count_place(
    store: Store, place: Place, year: str, options: CountOptions | None = None
) -> CountResult:
    """The high-level count of ``place`` for ``year``: by agency type, function, basis, driver."""
    opts = options or CountOptions()
    mid_year = opts.mid_year or best_mid_year(store, year)
    lines, replaced = district_lines(
        store,
        year,
        districts=list(place.districts),
        regions=_place_regions(store, place),
        options=opts,
    )
    cra_lines = None
    if len(replaced) or (lines["basis"] == "actual").any():
        # every CRA line is either still in the count or among those replaced
        cra = [f[f["basis"] == "apportioned"] for f in (lines, replaced)]
        cols = [c for c in cra[0].columns if c in cra[1].columns]
        cra_lines = pd.concat([f[cols] for f in cra], ignore_index=True)
    lines, eliminated = consolidate(
        store, lines, year, outturn_sources=OUTTURN_SOURCES, crosswalk=rs_crosswalk(year)
    )
    # the same count twice gives the same lines in the same order (exports, caches, diffs)
    lines = lines.sort_values(["source_id", "rid", "area_code"], ignore_index=True, kind="stable")
    rows = (
        lines.groupby(GROUP, dropna=False, as_index=False)["amount_pence"]
        .sum()
        .sort_values("amount_pence", ascending=False, ignore_index=True)
    )
    rows = rows[[*COUNT_ROW_COLUMNS, "confidence"]]
    pops = store.query(
        "SELECT area_code, sum(persons)::BIGINT AS population FROM population "
        "WHERE mid_year = ? GROUP BY area_code",
        [mid_year],
    )
    population_year, population_basis = mid_year, f"ONS mid-{mid_year} estimates"
    scaled = year_matched_population(store, year, mid_year)
    if scaled is not None:
        pops = scaled
        population_year = fy_start(year)
        population_basis = (
            f"mid-{population_year} estimated: ONS mid-{mid_year} district populations scaled "
            f"to Eurostat's region totals for mid-{population_year} (mean of 1 January "
            f"{population_year} and {population_year + 1})"
        )
    population = int(pops.loc[pops["area_code"].isin(place.districts), "population"].sum())
    districts = (
        lines.groupby(["area_code", "area_name", "region_code"], as_index=False)["amount_pence"]
        .sum()
        .merge(pops, on="area_code", how="left")
    )
    rep = (
        replaced.groupby(["agency_type", "function_code", "function", "driver"], as_index=False)[
            "amount_pence"
        ].sum()
        if len(replaced)
        else None
    )
    caveats = [
        "HM Treasury CRA gives spend by region; it is shared among districts by each line's "
        "driver (population or an age band).",
        f"Identifiable spend only, from {release_label(release_for_year(store, year))}.",
    ]
    if place.note and place.note.startswith("translated"):
        caveats.insert(0, f"Place codes {place.note}.")
    if scaled is not None:
        caveats.append(
            f"Per-head figures use population {population_basis}; shares among "
            f"districts use ONS mid-{mid_year}."
        )
    elif mid_year != fy_start(year):
        caveats.append(
            f"No district population for mid-{fy_start(year)} on 2019 boundaries is loaded: "
            f"mid-{mid_year} population is used for shares and per-head figures."
        )
    outturn = council_outturn(lines)
    unplaced = unplaced_outturn(store, year)
    if len(unplaced):
        caveats.append(
            f"{len(unplaced)} authorities' own outturn "
            f"({unplaced['amount_pence'].sum() / 100:,.0f} GBP in England) has no known area "
            f"and is not counted: {', '.join(unplaced['agency'].head(4))}"
            + (", …" if len(unplaced) > 4 else "")
            + "."
        )
    if outturn is None:
        loaded = ", ".join(outturn_years(store)) or "none"
        caveats.append(
            f"Councils' own revenue outturn is not loaded for {year} (loaded: {loaded}): "
            "councils' spend is apportioned from CRA."
        )
    elif rep is not None:
        caveats.append(
            f"Councils' own outturn ({outturn['amount_pence'].sum() / 100:,.0f} GBP) replaces "
            f"CRA local-government current spend ({rep['amount_pence'].sum() / 100:,.0f} GBP) "
            "for the functions it covers, within each authority's area (police and fire "
            "authorities included)."
        )
        caveats += public_health_caveat(outturn, year)
    real = real_terms(store, year, int(rows["amount_pence"].sum()), population)
    if real is None:
        caveats.append(
            "Cash terms: no GDP deflator series is loaded (`totalplace build` loads HM "
            "Treasury's workbook from the catalogue; `totalplace deflators FILE.xlsx` another)."
        )
    return CountResult(
        real_terms=real,
        place_name=place.name,
        place_codes=tuple(place.districts),
        year=year,
        population=population,
        population_year=population_year,
        population_basis=population_basis,
        release=release_label(release_for_year(store, year)),
        rows=rows,
        districts=districts,
        reported_by_councils=outturn,
        caveats=caveats,
        replaced=rep,
        lines=lines,
        eliminated=eliminated if len(eliminated) else None,
        cra_lines=cra_lines,
    )


def unplaced_outturn(store: Store, year: str) -> pd.DataFrame:
    """Authorities whose outturn for ``year`` has no footprint (e.g. national park authorities)."""
    return store.query(
        """SELECT l.agency, sum(l.amount_pence)::BIGINT AS amount_pence FROM ledger l
           WHERE list_contains(?, l.source_id) AND l.year = ?
             AND l.area_code NOT IN (SELECT agency_code FROM footprints)
           GROUP BY l.agency HAVING sum(l.amount_pence) <> 0 ORDER BY 2 DESC""",
        [list(OUTTURN_SOURCES), year],
    )


def public_health_caveat(outturn: pd.DataFrame, year: str) -> list[str]:
    """Say how councils' public health (theirs from April 2013) is counted once, if the count
    has it: the RS health lines of ``year`` replace CRA's local-government health line."""
    cw = rs_crosswalk(year)
    health = set(cw.loc[cw["function_code"] == "7", "service_line"])
    if not outturn["service_line"].isin(health).any():
        return []
    return [
        "Public health moved from the NHS to councils in April 2013: councils' own public "
        "health outturn replaces CRA's local-government health line (where CRA 2014 records "
        "it) and is not in CRA's Department of Health lines, so it is counted once."
    ]


def council_outturn(lines: pd.DataFrame) -> pd.DataFrame | None:
    """The 'of which reported by councils' table: outturn lines of the count, by council."""
    act = lines[lines["basis"] == "actual"]
    if act.empty:
        return None
    return (
        act.groupby(["agency", "agency_type", "service_line"], as_index=False)["amount_pence"]
        .sum()
        .sort_values(["agency", "service_line"], ignore_index=True)
    )


def count_districts(
    store: Store, year: str, region_code: str | None = None, options: CountOptions | None = None
) -> pd.DataFrame:
    """Count of every district (of one region, or all England): area_code, area_name,
    region_code, population, amount_pence."""
    opts = options or CountOptions()
    mid_year = opts.mid_year or best_mid_year(store, year)
    lines, _ = district_lines(
        store, year, regions=[region_code] if region_code else None, options=opts
    )
    pops = store.query(
        "SELECT area_code, sum(persons)::BIGINT AS population FROM population "
        "WHERE mid_year = ? GROUP BY area_code",
        [mid_year],
    )
    return (
        lines.groupby(["area_code", "area_name", "region_code"], as_index=False)["amount_pence"]
        .sum()
        .merge(pops, on="area_code", how="left")
    )
