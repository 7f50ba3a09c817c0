"""Read-only queries the analysts' pages need and the count engine does not give directly.

Two kinds of function live here:

* **Store queries** (take a ``Store``): England-wide spend by district for one year, exactly as
  the count engine apportions it; populations; boundaries; what is loaded, its coverage and its
  quarantine.
* **Pure shaping** (take DataFrames): a measure by area (district or upper tier), totals for
  named groups of districts (pilots, peer groups, England), a filtered and sorted page of a
  count's lines, and the funder -> agency type -> function table of a count.

``district_spend`` is behind maps and comparisons: the engine's count lines of every district
(``district_lines``), summed by district x agency x function x basis in one GROUP BY over the
lines the store keeps. Its sums equal the engine's to the penny (tests/test_queries.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from totalplace.count import parts
from totalplace.count.engine import (
    CRA_SOURCES,
    OUTTURN_SOURCES,
    CountOptions,
    best_mid_year,
    district_lines,
    fy_start,
    year_matched_population,
)
from totalplace.errors import StoreError
from totalplace.ledger.store import Store
from totalplace.sources.catalogue import load_catalogue

#: Columns of ``district_spend``: one row per district x agency x function x basis.
SPEND_KEY = ("area_code", "agency", "agency_type", "function_code", "function", "basis")
#: Levels a measure can be shown at.
LEVELS = ("district", "upper_tier")
#: Columns of a count's lines the Explore grid shows (provenance included).
LINE_COLUMNS = (
    "area_name",
    "agency",
    "agency_type",
    "function",
    "subfunction",
    "service_line",
    "description",
    "basis",
    "driver",
    "confidence",
    "source_id",
    "file",
    "row",
    "amount_pence",
)
#: The CRA body whose local-government current spend councils' outturn replaces.
LOCAL_GOVERNMENT = "Local government"
#: How an outturn funder is named in flows: 'Kent (council)', 'Kent (police)'.
_BODY_KIND = {"Councils": "council", "Police": "police", "Fire and rescue": "fire"}


# -- England-wide spend by district ----------------------------------------------------------


def district_spend(store: Store, year: str, options: CountOptions | None = None) -> pd.DataFrame:
    """Every English district's count for ``year`` by agency, agency type, function and basis.

    Columns: area_code, agency, agency_type, function_code, function, basis, amount_pence.
    It is ``district_lines`` (the count's lines, before a place's own consolidation) summed by
    those columns: one GROUP BY over the kept lines (``totalplace.count.parts``) when they are
    current, else the engine's lines summed here. Summed over a place's districts it equals the
    place's count when no transfers are eliminated. ``basis`` is 'apportioned' (CRA shared by a
    driver) or 'actual' (an agency's own outturn).
    """
    opts = options or CountOptions()
    if opts == CountOptions():
        stored = parts.district_spend(store, year)
        if stored is not None:
            return stored
    lines, _ = district_lines(store, year, options=opts)
    frame = lines.groupby(list(SPEND_KEY), dropna=False, as_index=False)["amount_pence"].sum()
    frame["amount_pence"] = frame["amount_pence"].astype("int64")
    return frame


def district_reference(store: Store) -> pd.DataFrame:
    """English districts (2019) with their upper tier and region."""
    return store.query(
        "SELECT area_code, area_name, utla_code, utla_name, region_code, region_name "
        "FROM districts ORDER BY area_code"
    )


def district_population(store: Store, mid_year: int) -> pd.DataFrame:
    """Population of every district at ``mid_year`` (all ages): area_code, population."""
    return store.query(
        "SELECT area_code, sum(persons)::BIGINT AS population FROM population "
        "WHERE mid_year = ? GROUP BY area_code ORDER BY area_code",
        [mid_year],
    )


@dataclass(frozen=True)
class CountPopulation:
    """The population a count of ``year`` divides by for per-head figures, by district."""

    frame: pd.DataFrame  # area_code, population
    year: int  # the mid-year it stands for
    basis: str  # in words, e.g. 'ONS mid-2019 estimates'


def count_population(store: Store, year: str) -> CountPopulation:
    """District populations as ``count_place`` uses them for per head: the count's own
    mid-year where it can be estimated (ONS mid-2019 districts scaled to Eurostat's region
    totals), else the driver's ONS mid-year."""
    mid_year = best_mid_year(store, year)
    scaled = year_matched_population(store, year, mid_year)
    if scaled is None:
        return CountPopulation(
            district_population(store, mid_year), mid_year, f"ONS mid-{mid_year} estimates"
        )
    y = fy_start(year)
    return CountPopulation(
        scaled[["area_code", "population"]].astype({"population": "int64"}),
        y,
        f"mid-{y} estimated (ONS mid-{mid_year} districts scaled to Eurostat's region totals)",
    )


def geojson(store: Store, level: str) -> dict[str, Any]:
    """Boundaries of ``level`` ('district' or 'upper_tier') as GeoJSON (feature id = GSS code)."""
    if level not in LEVELS:
        raise StoreError(f"no boundaries for level {level!r} (levels: {', '.join(LEVELS)})")
    row = store.query("SELECT value FROM geojson WHERE level = ?", [level])
    if row.empty:
        raise StoreError(f"the store has no {level} boundaries: run `totalplace build`")
    return dict(json.loads(row["value"].iloc[0]))


def spend_dimensions(store: Store) -> pd.DataFrame:
    """Agencies as the count names them, by type, with their England total over all years.

    Columns: agency_type, agency, amount_pence (CRA releases and councils' outturn)."""
    return store.query(
        "SELECT agency_type, agency, sum(amount_pence)::BIGINT AS amount_pence FROM ledger "
        "WHERE list_contains(?, source_id) GROUP BY ALL ORDER BY agency_type, amount_pence DESC",
        [[*CRA_SOURCES, *OUTTURN_SOURCES]],
    )


def functions(store: Store) -> pd.DataFrame:
    """COFOG divisions in the ledger (function_code, function), in code order."""
    df = store.query(
        'SELECT DISTINCT function_code, "function" FROM ledger WHERE function_code IS NOT NULL'
    )
    order = pd.to_numeric(df["function_code"], errors="coerce").fillna(99)
    return df.assign(_o=order).sort_values(["_o", "function_code"]).drop(columns="_o")


# -- pure shaping: measures by area and group --------------------------------------------------


def _select(
    spend: pd.DataFrame,
    function_code: str | None = None,
    agency_type: str | None = None,
    agency: str | None = None,
) -> pd.DataFrame:
    mask = pd.Series(True, index=spend.index)
    if function_code:
        mask &= spend["function_code"] == function_code
    if agency_type:
        mask &= spend["agency_type"] == agency_type
    if agency:
        mask &= spend["agency"] == agency
    return spend[mask]


def measure_by_area(
    spend: pd.DataFrame,
    reference: pd.DataFrame,
    population: pd.DataFrame,
    *,
    level: str = "district",
    regions: Sequence[str] | None = None,
    function_code: str | None = None,
    agency_type: str | None = None,
    agency: str | None = None,
) -> pd.DataFrame:
    """Spend (optionally of one function / agency type / agency) by district or upper tier.

    Columns: area_code, area_name, region_code, population, amount_pence, amount_gbp,
    per_head_gbp. Upper tier sums its districts (code and name from ``utla_code``/``utla_name``).
    Areas with no matching spend show 0, not a gap.
    """
    if level not in LEVELS:
        raise StoreError(f"unknown level {level!r} (levels: {', '.join(LEVELS)})")
    sel = _select(spend, function_code, agency_type, agency)
    amounts = sel.groupby("area_code")["amount_pence"].sum()
    areas = reference.merge(population, on="area_code", how="left")
    if regions:
        areas = areas[areas["region_code"].isin(list(regions))]
    areas = areas.assign(
        amount_pence=areas["area_code"].map(amounts).fillna(0).astype("int64"),
        population=areas["population"].fillna(0).astype("int64"),
    )
    if level == "upper_tier":
        areas = (
            areas.groupby(["utla_code", "utla_name", "region_code"], as_index=False)[
                ["population", "amount_pence"]
            ]
            .sum()
            .rename(columns={"utla_code": "area_code", "utla_name": "area_name"})
        )
    out = areas[["area_code", "area_name", "region_code", "population", "amount_pence"]].copy()
    return _with_gbp(out).reset_index(drop=True)


def group_totals(
    spend: pd.DataFrame,
    population: pd.DataFrame,
    members: Mapping[str, Sequence[str]],
    *,
    by: str | None = None,
    function_code: str | None = None,
    agency_type: str | None = None,
    agency: str | None = None,
) -> pd.DataFrame:
    """Totals for named groups of districts (pilots, a peer group, England), optionally by one
    column of ``spend`` (e.g. 'function'), and by year when ``spend`` and ``population`` both
    have a ``year`` column (many years in one pass).

    Columns: name, [year], [by], population, amount_pence, amount_gbp, per_head_gbp. A group's
    population is its districts' (the count's per-head basis). Without ``by`` every group has a
    row (0 where its districts have no spend); with ``by``, one row per value it has."""
    years = ["year"] if "year" in spend.columns and "year" in population.columns else []
    cols = ["name", *years, *([by] if by else []), "population", "amount_pence"]
    if not members:
        return _with_gbp(pd.DataFrame(columns=cols))
    sel = _select(spend, function_code, agency_type, agency)
    order = {name: i for i, name in enumerate(members)}
    membership = pd.DataFrame(
        [(name, str(code)) for name, codes in members.items() for code in dict.fromkeys(codes)],
        columns=["name", "area_code"],
    ).astype({"name": "object", "area_code": "object"})
    # one merge and one groupby for every group (and year) at once
    pop = population.drop_duplicates([*years, "area_code"])[[*years, "area_code", "population"]]
    people = (
        membership.merge(pop, on="area_code", how="inner")
        .groupby(["name", *years])["population"]
        .sum()
    )
    by_area = sel.groupby(["area_code", *years, *([by] if by else [])], dropna=False)[
        "amount_pence"
    ].sum()
    joined = membership.merge(by_area.reset_index(), on="area_code", how="inner")
    if by:
        out = joined.groupby(["name", *years, by], as_index=False, dropna=False)[
            "amount_pence"
        ].sum()
    else:
        sums = joined.groupby(["name", *years])["amount_pence"].sum()
        grid = (
            pd.MultiIndex.from_product([list(members), sorted(spend["year"].unique())])
            if years
            else pd.Index(list(members))
        )
        out = sums.reindex(grid, fill_value=0).rename("amount_pence").reset_index()
        out.columns = ["name", *years, "amount_pence"]
    key = pd.MultiIndex.from_frame(out[["name", *years]]) if years else pd.Index(out["name"])
    out["population"] = people.reindex(key).fillna(0).astype("int64").to_numpy()
    out = out.sort_values(["name", *years], key=_by_order(order), kind="stable", ignore_index=True)
    out = out[cols]
    out["amount_pence"] = out["amount_pence"].astype("int64")
    return _with_gbp(out)


def _by_order(order: Mapping[str, int]) -> Any:
    """A sort key: group names in the order they were given, other columns as they are."""
    return lambda col: col.map(order) if col.name == "name" else col


def _with_gbp(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["amount_gbp"] = frame["amount_pence"].astype("float64") / 100
    pop = frame["population"].astype("float64")
    frame["per_head_gbp"] = (frame["amount_gbp"] / pop).where(pop > 0)
    return frame


# -- pure shaping: a count's lines -------------------------------------------------------------


@dataclass(frozen=True)
class LineFilter:
    """What the Explore grid filters a count's lines by (None / '' = any)."""

    agency_type: str | None = None
    function: str | None = None
    basis: str | None = None
    text: str | None = None


def filter_lines(lines: pd.DataFrame, flt: LineFilter) -> pd.DataFrame:
    """The count's lines matching ``flt``, with the grid's columns (amount also in pounds).

    ``text`` matches (case-insensitively) the agency, description, sub-function, service line
    or district name."""
    frame = lines.reindex(columns=list(LINE_COLUMNS))
    mask = pd.Series(True, index=frame.index)
    for col in ("agency_type", "function", "basis"):
        value = getattr(flt, col)
        if value:
            mask &= frame[col] == value
    if flt.text and flt.text.strip():
        needle = flt.text.strip().lower()
        found = pd.Series(False, index=frame.index)
        for col in ("agency", "description", "subfunction", "service_line", "area_name"):
            text = frame[col].astype("string").str.lower()
            found |= text.str.contains(needle, regex=False).fillna(False).astype(bool)
        mask &= found
    out = frame[mask].copy()
    out["amount_gbp"] = out["amount_pence"].astype("float64") / 100
    return out


def lines_page(
    lines: pd.DataFrame,
    flt: LineFilter,
    sort: Sequence[tuple[str, bool]] = (("amount_gbp", False),),
    start: int = 0,
    end: int = 100,
) -> tuple[pd.DataFrame, int]:
    """One page (rows ``start``..``end``) of the filtered lines, sorted by ``sort`` ((column,
    ascending) pairs, unknown columns ignored); returns the page and the filtered row count."""
    frame = filter_lines(lines, flt)
    cols = [(c, asc) for c, asc in sort if c in frame.columns]
    if cols:
        frame = frame.sort_values(
            [c for c, _ in cols],
            ascending=[a for _, a in cols],
            kind="stable",
            na_position="last",
        )
    start = max(0, int(start))
    end = max(start, int(end))
    return frame.iloc[start:end].reset_index(drop=True), len(frame)


def flow_table(lines: pd.DataFrame, replaced: pd.DataFrame | None) -> pd.DataFrame:
    """A count as flows: funder -> agency type -> function, with what outturn replaced.

    The funder is the body a line is published under: the department (or other body) for CRA
    lines, the council (or police or fire authority) for outturn lines, named 'Kent (council)'.
    Replaced CRA lines (local-government current spend that councils' own outturn stands in
    for) come with ``replaced=True``; they are not in the count. Columns: funder, funder_kind
    ('central' or 'council'), agency_type, function, amount_pence, replaced.
    """
    cols = ["funder", "funder_kind", "agency_type", "function", "amount_pence", "replaced"]
    own = lines["basis"] == "actual"
    kind = lines["agency_type"].map(_BODY_KIND).fillna("authority")
    funder = (
        lines["agency"]
        .astype("object")
        .where(~own, lines["agency"].astype(str) + " (" + kind.astype(str) + ")")
    )
    counted = lines.assign(
        funder=funder,
        funder_kind=own.map({True: "council", False: "central"}),
        function=lines["function"].astype("object").fillna("Not specified"),
    )
    parts = [
        counted.groupby(["funder", "funder_kind", "agency_type", "function"], as_index=False)[
            "amount_pence"
        ]
        .sum()
        .assign(replaced=False)
    ]
    if replaced is not None and len(replaced):
        cra_lg = lines.loc[
            (lines["basis"] == "apportioned")
            & lines["agency"].astype("string").str.startswith(LOCAL_GOVERNMENT),
            "agency",
        ]
        names = sorted(set(cra_lg.astype(str)))
        funder = names[0] if len(names) == 1 else f"{LOCAL_GOVERNMENT} (CRA)"
        rep = replaced.assign(
            funder=funder,
            funder_kind="central",
            function=replaced["function"].astype("object").fillna("Not specified"),
        )
        parts.append(
            rep.groupby(["funder", "funder_kind", "agency_type", "function"], as_index=False)[
                "amount_pence"
            ]
            .sum()
            .assign(replaced=True)
        )
    out = pd.concat(parts, ignore_index=True)[cols]
    out["amount_pence"] = out["amount_pence"].astype("int64")
    return out.sort_values("amount_pence", ascending=False, ignore_index=True)


# -- what is loaded ----------------------------------------------------------------------------


def loaded_sources(store: Store) -> pd.DataFrame:
    """Every ingested file with its catalogue entry: source_id, title, publisher, licence,
    url, file, adapter, target, rows_read, rows_ledger, rows_quarantined, amount_gbp,
    ingested_at."""
    batches = store.query(
        "SELECT source_id, file, adapter, target, rows_read, rows_ledger, rows_quarantined, "
        "amount_pence, ingested_at FROM batches ORDER BY target, source_id, file"
    )
    cat = load_catalogue()

    def attr(source_id: str, name: str) -> str:
        src = cat.get(source_id)
        return str(getattr(src, name)) if src else ""

    sid = batches["source_id"].astype(str)
    batches.insert(1, "title", [attr(s, "title") for s in sid])
    batches.insert(2, "publisher", [attr(s, "publisher") for s in sid])
    batches.insert(3, "licence", [attr(s, "licence") for s in sid])
    batches.insert(4, "url", [attr(s, "publisher_url") for s in sid])
    batches["amount_gbp"] = batches.pop("amount_pence").astype("float64") / 100
    batches["ingested_at"] = batches["ingested_at"].astype(str)
    return batches


def coverage(store: Store) -> pd.DataFrame:
    """What the ledger holds by source, agency type and year: source_id, agency_type, year,
    rows, amount_pence (every area level)."""
    return store.query(
        "SELECT source_id, agency_type, year, count(*) AS rows, "
        "sum(amount_pence)::BIGINT AS amount_pence FROM ledger GROUP BY ALL "
        "ORDER BY agency_type, year, source_id"
    )


def quarantine_counts(store: Store) -> pd.DataFrame:
    """Rows held back at ingest by source, file and kind of reason: quoted values in a reason
    read '…', so "location 'UK' has no code" and "location 'England' has no code" count
    together. Columns: source_id, file, reason, rows, example (one reason in full)."""
    return store.query(
        "SELECT source_id, file, regexp_replace(reason, $quoted, $dots, 'g') AS reason, "
        "count(*) AS rows, min(reason) AS example FROM quarantine "
        "GROUP BY ALL ORDER BY rows DESC, source_id, file, reason",
        {"quoted": "'[^']*'", "dots": "'…'"},
    )


def quarantine_sample(store: Store, limit: int = 25) -> pd.DataFrame:
    """Up to ``limit`` quarantined rows (source_id, file, row, reason, raw), in file order."""
    return store.query(
        'SELECT source_id, file, "row", reason, raw FROM quarantine '
        'ORDER BY source_id, file, "row" LIMIT ?',
        [int(limit)],
    )


def population_years(store: Store) -> list[int]:
    """Mid-years of district population in the store, oldest first."""
    df = store.query("SELECT DISTINCT mid_year FROM population ORDER BY mid_year")
    return [int(y) for y in df["mid_year"]]
