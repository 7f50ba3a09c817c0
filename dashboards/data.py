"""The dashboard's one bridge to the library: a read-only Workspace and cached queries.

Pages and figures never import the store or DuckDB (an import-linter contract); they call the
functions here, which return plain data (tuples, DataFrames, CountResult). Results are cached per
process (``functools.lru_cache``): the workspace is read-only while the dashboard runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import pandas as pd

from totalplace import queries
from totalplace.errors import StoreError, TotalPlaceError

if TYPE_CHECKING:
    from totalplace.count.result import CountResult

#: What the Explore grid filters a count's lines by (pages build it, ``lines_page`` applies it).
LineFilter = queries.LineFilter

#: The year a view opens on when the URL does not say (the Total Place pilots' year + 1: the
#: first year with councils' own outturn in the store).
DEFAULT_YEAR = "2010-11"


class WorkspaceLike(Protocol):
    """What the dashboard uses of ``totalplace.workspace.Workspace`` (tests may pass a fake)."""

    def pilots(self) -> dict[str, Any]: ...
    def years(self) -> list[str]: ...
    def count(self, place: str, year: str) -> CountResult: ...
    def district_geojson(self) -> dict[str, Any]: ...


_lock = threading.Lock()
#: One query at a time: the store's DuckDB connection refuses concurrent calls from the
#: threads of a threaded server (answers are cached, so this costs little).
_query_lock = threading.RLock()
_workspace: WorkspaceLike | None = None


def set_workspace(workspace: WorkspaceLike | None) -> None:
    """Use ``workspace`` from now on (None: open the default one when next asked); clears caches."""
    global _workspace
    with _lock:
        _workspace = workspace
    for f in _CACHED:
        f.cache_clear()


def get_workspace() -> WorkspaceLike:
    """The workspace, opened once (read-only) from the default settings if none was set."""
    global _workspace
    with _lock:
        if _workspace is None:
            from totalplace.workspace import Workspace

            _workspace = Workspace(read_only=True)
        return _workspace


@lru_cache(maxsize=1)
def pilot_names() -> tuple[str, ...]:
    """The Total Place pilots, as the workspace names them."""
    with _query_lock:
        return tuple(get_workspace().pilots())


@lru_cache(maxsize=1)
def years() -> tuple[str, ...]:
    """Financial years the store can count, oldest first."""
    with _query_lock:
        return tuple(get_workspace().years())


def default_year() -> str | None:
    """'2010-11' when the store has it, else the latest year (None for an empty store)."""
    ys = years()
    return DEFAULT_YEAR if DEFAULT_YEAR in ys else (ys[-1] if ys else None)


@lru_cache(maxsize=256)
def count(place: str, year: str) -> CountResult:
    """The high-level count of ``place`` in ``year`` (treat as read-only: it is shared)."""
    with _query_lock:
        return get_workspace().count(place, year)


@lru_cache(maxsize=64)
def source_lines(place: str, year: str, row: str) -> pd.DataFrame:
    """The source lines of one count row (``totalplace.count.provenance``): file, row, the
    line's amount, the part taken and the share (treat as read-only)."""
    from totalplace.count.provenance import source_lines as lines_of

    result = count(place, year)
    with _query_lock:
        return lines_of(result, _store(), row)


def source_line_records(lines: pd.DataFrame) -> list[dict[str, Any]]:
    """Source lines as plain records (GBP amounts, share a fraction) for a grid."""
    from totalplace.count.provenance import source_lines_json

    return source_lines_json(lines)


@lru_cache(maxsize=1)
def district_geojson() -> dict[str, Any]:
    """England's districts as GeoJSON (feature ``id`` = GSS code)."""
    with _query_lock:
        return get_workspace().district_geojson()


# -- the analysts' pages: maps, flows, comparisons, explore, sources, agency -------------------


def _store() -> Any:
    """The workspace's store (only ``dashboards.data`` touches it), or a clear error."""
    store = getattr(get_workspace(), "store", None)
    if store is None:
        raise StoreError("this view needs a built workspace: run `totalplace build`")
    return store


@lru_cache(maxsize=1)
def district_reference() -> pd.DataFrame:
    """English districts (2019) with upper tier and region (treat as read-only)."""
    with _query_lock:
        return queries.district_reference(_store())


@lru_cache(maxsize=2)
def boundaries(level: str) -> dict[str, Any]:
    """Boundaries of ``level`` ('district' or 'upper_tier') as GeoJSON, feature id = GSS code."""
    if level == "district":
        return district_geojson()
    with _query_lock:
        return queries.geojson(_store(), level)


@lru_cache(maxsize=4)
def boundary_file(level: str) -> tuple[bytes, str]:
    """Boundaries of ``level`` as the bytes of a GeoJSON file and their ETag (a digest)."""
    import hashlib

    import orjson

    body = orjson.dumps(boundaries(level))
    return body, hashlib.sha256(body).hexdigest()[:20]


def boundaries_url(level: str) -> str:
    """Where the browser fetches ``level``'s boundaries (``dashboards.static``): versioned by
    their digest, so it may cache them for good."""
    return f"/_boundaries/{level}.geojson?v={boundary_file(level)[1]}"


def population_sentence(for_years: tuple[str, ...] | None = None) -> str:
    """What per head divides by in ``for_years`` (all years by default), in one sentence."""
    chosen = list(for_years or years())
    order = {y: i for i, y in enumerate(years())}
    groups: dict[str, list[str]] = {}
    for y in chosen:
        pop = count_population(y)
        scaled = "scaled" in pop.basis
        key = (
            "each year's own mid-year population, estimated by scaling ONS mid-2019 districts "
            "to Eurostat's region totals"
            if scaled
            else pop.basis
        )
        groups.setdefault(key, []).append(y)
    parts = [f"{_runs(ys, order)}: {basis}" for basis, ys in groups.items()]
    return "Per head divides by the population the count uses (" + "; ".join(parts) + ")."


def _runs(ys: list[str], order: dict[str, int]) -> str:
    """'2004-05 to 2008-09, 2010-11' for consecutive runs of years."""
    runs: list[list[str]] = []
    for y in sorted(ys, key=lambda v: order.get(v, 0)):
        if runs and order.get(y, -9) == order.get(runs[-1][-1], -9) + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return ", ".join(r[0] if len(r) == 1 else f"{r[0]} to {r[-1]}" for r in runs)


@lru_cache(maxsize=2)
def boundary_bounds(level: str) -> dict[str, tuple[float, float, float, float]]:
    """Each area's bounding box (west, south, east, north) at ``level``, to fit a map's view."""
    from dashboards.figures.maps import feature_bounds

    return feature_bounds(boundaries(level))


@lru_cache(maxsize=32)
def mid_year(year: str) -> int:
    """The population mid-year the count of ``year`` uses for shares and per-head figures."""
    from totalplace.count.engine import best_mid_year

    with _query_lock:
        return best_mid_year(_store(), year)


@lru_cache(maxsize=16)
def count_population(year: str) -> queries.CountPopulation:
    """The district populations the count of ``year`` divides by for per-head figures."""
    with _query_lock:
        return queries.count_population(_store(), year)


@lru_cache(maxsize=16)
def district_spend(year: str) -> pd.DataFrame:
    """Every English district's count of ``year`` by agency, agency type, function and basis
    (precomputed by ``totalplace build``; else ``totalplace.queries.district_spend``, ~1-3 s
    the first time, then cached)."""
    ws = get_workspace()
    with _query_lock:
        if hasattr(ws, "district_spend"):
            frame: pd.DataFrame = ws.district_spend(year)
            return frame
        return queries.district_spend(_store(), year)


@lru_cache(maxsize=1)
def function_options() -> tuple[tuple[str, str], ...]:
    """COFOG divisions as (code, label), in code order."""
    with _query_lock:
        frame = queries.functions(_store())
    return tuple(
        (str(c), str(f)) for c, f in zip(frame["function_code"], frame["function"], strict=True)
    )


@lru_cache(maxsize=1)
def agency_dimensions() -> pd.DataFrame:
    """Agencies by type as the count names them (agency_type, agency, amount_pence)."""
    with _query_lock:
        return queries.spend_dimensions(_store())


def agency_types() -> tuple[str, ...]:
    """Agency types in the store, alphabetically."""
    return tuple(sorted(agency_dimensions()["agency_type"].dropna().astype(str).unique()))


def agencies(agency_type: str) -> tuple[str, ...]:
    """The bodies of one agency type, largest (England, all years) first."""
    dims = agency_dimensions()
    sel = dims[dims["agency_type"] == agency_type]
    sel = sel.groupby("agency", as_index=False)["amount_pence"].sum()
    return tuple(sel.sort_values("amount_pence", ascending=False)["agency"].astype(str))


@lru_cache(maxsize=1)
def pilot_members() -> dict[str, tuple[str, ...]]:
    """Each pilot's districts (2019 codes)."""
    with _query_lock:
        pilots = get_workspace().pilots()
    return {name: tuple(getattr(p, "districts", ()) or ()) for name, p in pilots.items()}


@lru_cache(maxsize=1)
def area_options() -> tuple[tuple[str, str], ...]:
    """Districts and counties a peer group can be made of, as (code, label)."""
    ref = district_reference()
    districts = [(str(c), str(n)) for c, n in zip(ref["area_code"], ref["area_name"], strict=True)]
    multi = ref.groupby(["utla_code", "utla_name"]).size()
    counties = [(str(c), f"{n} (county)") for (c, n), k in multi.items() if k > 1]
    return tuple(sorted(districts + counties, key=lambda o: o[1]))


def area_members(code: str) -> tuple[str, ...]:
    """The districts of a district or county code (empty if unknown)."""
    ref = district_reference()
    own = ref[ref["area_code"] == code]
    if len(own):
        return (code,)
    return tuple(ref.loc[ref["utla_code"] == code, "area_code"].astype(str))


def area_label(code: str) -> str:
    """A district's or county's name, or the code itself if unknown."""
    return dict(area_options()).get(code, code)


@lru_cache(maxsize=128)
def map_frame(
    year: str,
    level: str,
    region: str | None,
    place: str | None,
    function_code: str | None = None,
    agency_type: str | None = None,
) -> pd.DataFrame:
    """One measure by district or upper tier, for England or one region; ``in_place`` marks
    the place's areas. Columns: area_code, area_name, region_code, population, amount_pence,
    amount_gbp, per_head_gbp, in_place."""
    frame = queries.measure_by_area(
        district_spend(year),
        district_reference(),
        count_population(year).frame,
        level=level,
        regions=[region] if region else None,
        function_code=function_code,
        agency_type=agency_type,
    )
    members = set(pilot_members().get(place or "", ()))
    if level == "upper_tier":
        ref = district_reference()
        members = set(ref.loc[ref["area_code"].isin(members), "utla_code"].astype(str))
    frame["in_place"] = frame["area_code"].isin(members)
    return frame


def region_name(region_code: str | None) -> str:
    """A region's name ('South East'), or 'its region' if unknown."""
    ref = district_reference()
    names = ref.loc[ref["region_code"] == region_code, "region_name"]
    return str(names.iloc[0]) if len(names) else "its region"


def place_region(place: str) -> str | None:
    """The region of most of a pilot's districts."""
    ref = district_reference()
    codes = pilot_members().get(place, ())
    regions = ref.loc[ref["area_code"].isin(codes), "region_code"]
    return None if regions.empty else str(regions.mode().iloc[0])


@lru_cache(maxsize=64)
def group_series(
    groups: tuple[tuple[str, tuple[str, ...]], ...],
    function_code: str | None = None,
    agency_type: str | None = None,
    agency: str | None = None,
    by: str | None = None,
) -> pd.DataFrame:
    """Totals of named groups of districts in every year: ``queries.group_totals`` with a
    ``year`` and the ``population_year`` per head uses. Groups are (name, districts) pairs."""
    spend, population = spend_all_years()
    if spend.empty:
        return pd.DataFrame()
    totals = queries.group_totals(
        spend,
        population,
        dict(groups),
        by=by,
        function_code=function_code,
        agency_type=agency_type,
        agency=agency,
    )
    population_years = {y: count_population(y).year for y in years()}
    totals = totals.astype({c: "str" for c in totals.select_dtypes("category").columns})
    return totals.assign(population_year=totals["year"].map(population_years).astype("int64"))


@lru_cache(maxsize=1)
def spend_all_years() -> tuple[pd.DataFrame, pd.DataFrame]:
    """England's spend by district and the per-head populations, every year in one frame each
    (with a ``year`` column), for comparisons over the years in one pass."""
    ys = years()
    if not ys:
        return pd.DataFrame(), pd.DataFrame()
    spend = pd.concat([district_spend(y).assign(year=y) for y in ys], ignore_index=True)
    # text columns as categories: filters and group-bys work on small integer codes
    text = [c for c in spend.columns if c != "amount_pence"]
    spend = spend.astype({c: "category" for c in text})
    pops = pd.concat([count_population(y).frame.assign(year=y) for y in ys], ignore_index=True)
    return spend, pops


def england() -> tuple[str, tuple[str, ...]]:
    """England as a named group of all its districts."""
    return ("England", tuple(district_reference()["area_code"].astype(str)))


@lru_cache(maxsize=64)
def flows(place: str, year: str) -> pd.DataFrame:
    """The count as funder -> agency type -> function flows (``queries.flow_table``)."""
    result = count(place, year)
    if result.lines is None:
        raise StoreError(f"the count of {place} {year} has no lines to draw flows from")
    return queries.flow_table(result.lines, result.replaced)


@lru_cache(maxsize=32)
def filtered_lines(
    place: str, year: str, flt: queries.LineFilter, sort: tuple[tuple[str, bool], ...]
) -> pd.DataFrame:
    """The count's lines for the Explore grid: filtered, sorted (cached per view)."""
    result = count(place, year)
    if result.lines is None:
        raise StoreError(f"the count of {place} {year} has no lines")
    frame, _ = queries.lines_page(result.lines, flt, sort, 0, len(result.lines))
    return frame


def lines_page(
    place: str,
    year: str,
    flt: queries.LineFilter,
    sort: tuple[tuple[str, bool], ...],
    start: int,
    end: int,
) -> tuple[pd.DataFrame, int]:
    """Rows ``start``..``end`` of the filtered, sorted lines and how many there are."""
    frame = filtered_lines(place, year, flt, sort)
    return frame.iloc[max(0, start) : max(start, end)].reset_index(drop=True), len(frame)


@lru_cache(maxsize=1)
def loaded_sources() -> pd.DataFrame:
    """Every ingested file with its publisher, licence and URL (``queries.loaded_sources``)."""
    with _query_lock:
        return queries.loaded_sources(_store())


@lru_cache(maxsize=1)
def coverage() -> pd.DataFrame:
    """Ledger rows and amounts by source, agency type and year."""
    with _query_lock:
        return queries.coverage(_store())


@lru_cache(maxsize=1)
def quarantine_counts() -> pd.DataFrame:
    """Quarantined rows by source, file and reason."""
    with _query_lock:
        return queries.quarantine_counts(_store())


@lru_cache(maxsize=1)
def quarantine_sample() -> pd.DataFrame:
    """A sample of quarantined rows with their reasons."""
    with _query_lock:
        return queries.quarantine_sample(_store())


@lru_cache(maxsize=1)
def population_years() -> tuple[int, ...]:
    """Population mid-years loaded."""
    with _query_lock:
        return tuple(queries.population_years(_store()))


def catalogue_entry(source_id: str) -> Any:
    """The catalogue entry (publisher, licence, URLs) of a source, or None."""
    from totalplace.sources.catalogue import load_catalogue

    return load_catalogue().get(source_id)


def warm() -> list[str]:
    """Fill the per-process caches every page shares (reference tables, boundaries, England's
    spend by district and populations for every year), so a server's first visitors do not
    wait for them. Called once when the app is created; returns what could not be loaded (a
    workspace without a built store is no error here: the pages say so in words)."""
    steps: list[tuple[str, Any]] = [
        ("pilots", pilot_names),
        ("years", years),
        ("districts", district_reference),
        ("functions", function_options),
        ("agencies", agency_dimensions),
        ("areas", area_options),
        ("pilot districts", pilot_members),
        ("district boundaries", lambda: boundary_bounds("district")),
        ("upper-tier boundaries", lambda: boundary_bounds("upper_tier")),
        ("boundary files", lambda: [boundary_file(level) for level in ("district", "upper_tier")]),
    ]
    missing = []
    for name, step in steps:
        try:
            step()
        except Exception:  # a partial workspace (or a test stub) warms what it can
            missing.append(name)
    if "years" in missing:
        return missing
    for year in years():
        try:
            count_population(year)
            district_spend(year)
        except Exception:  # as above
            missing.append(f"spend {year}")
    if not missing:
        spend_all_years()
    return missing


# -- cash or real terms ------------------------------------------------------------------------

#: How money is shown: ``cash`` as published, ``real`` in the deflators' latest outturn year's
#: prices (HM Treasury GDP deflators; ``totalplace.count.deflators``).
TERMS = ("cash", "real")
#: The money columns of the analysts' frames (pence stay whole pence when deflated).
MONEY_COLUMNS = ("amount_pence", "amount_gbp", "per_head_gbp")


@lru_cache(maxsize=1)
def real_factors() -> tuple[dict[str, float], str] | None:
    """``({year: factor into prices-year prices}, prices year)``; None without deflators."""
    factors = getattr(get_workspace(), "real_terms_factors", None)
    if factors is None:  # a workspace without deflators (or a test stub)
        return None
    with _query_lock:
        found: tuple[dict[str, float], str] | None = factors()
        return found


def prices_year() -> str | None:
    """The year real figures are in ('2018-19'), or None without deflators."""
    found = real_factors()
    return None if found is None else found[1]


def terms_label(terms: str | None) -> str:
    """'' for cash; ' (2018-19 prices)' for real: appended to every real figure's title."""
    from totalplace.count.deflators import prices_label

    base = prices_year()
    return f" {prices_label(base)}" if terms == "real" and base else ""


def real_factor(year: str, terms: str | None) -> float:
    """What ``year``'s cash is multiplied by to show it in ``terms`` (1 for cash)."""
    if terms != "real":
        return 1.0
    found = real_factors()
    if found is None:
        raise TotalPlaceError("real terms need GDP deflators: run `totalplace build`")
    if year not in found[0]:
        raise TotalPlaceError(f"no GDP deflator for {year}: shown in cash only")
    return found[0][year]


@lru_cache(maxsize=256)
def count_in(place: str, year: str, terms: str | None) -> CountResult:
    """``count(place, year)`` in cash or in real terms (every amount deflated)."""
    result = count(place, year)
    if terms != "real":
        return result
    from totalplace.count.deflators import count_in_prices

    return count_in_prices(result, real_factor(year, terms), str(prices_year()))


def in_terms(
    frame: pd.DataFrame,
    terms: str | None,
    year: str | None = None,
    columns: Iterable[str] = MONEY_COLUMNS,
) -> pd.DataFrame:
    """``frame``'s money ``columns`` in ``terms``: one ``year``'s factor, or each row's by its
    ``year`` column when ``year`` is None."""
    if terms != "real":
        return frame
    from totalplace.count.deflators import in_prices

    if year is not None:
        return in_prices(frame, real_factor(year, terms), columns)
    if frame.empty:
        return frame
    factors = {y: real_factor(y, terms) for y in frame["year"].astype(str).unique()}
    return in_prices(frame, frame["year"].astype(str).map(factors), columns)


@lru_cache(maxsize=32)
def place_series(place: str) -> pd.DataFrame:
    """``place``'s count in every year (``totalplace.count.series.count_series``: the counts'
    own totals, with release and outturn per year) beside England and the other pilots
    (``group_series``), in cash; ``role`` is 'place', 'pilot' or 'england'."""
    from totalplace.count.series import count_series

    own = count_series(count(place, y) for y in years()).assign(role="place")
    others = group_series((*pilot_members().items(), england()))
    if len(others):
        others = others[others["name"] != place]
        roles = others["name"].eq("England").map({True: "england", False: "pilot"})
        others = others.assign(role=roles)
    return pd.concat([own, others], ignore_index=True)


def series_breaks(series: pd.DataFrame) -> list[Any]:
    """The release and outturn breaks of a place's series (``totalplace.count.series``)."""
    from totalplace.count.series import series_breaks as breaks

    return list(breaks(series))


def row_ids(rows: pd.DataFrame) -> pd.Series:
    """The stable id of every count row (``totalplace.count.result.row_ids``), which leads to
    the row's source lines."""
    from totalplace.count.result import row_ids as ids

    return ids(rows)


T = TypeVar("T")


def view(build: Callable[..., T], *key: Hashable) -> T:
    """``build(*key)``, built once per workspace, builder and ``key`` and shared afterwards.

    A page's answer for a place and year (its cards, figures as JSON, grid rows) costs more
    to build than to send; partners in a workshop ask for the same few places, so a callback
    passes its builder here and a repeat is a look-up. What ``build`` returns is shared
    between callers: it must not be changed. `set_workspace` forgets every view."""
    workspace: Any = get_workspace()  # cached by identity (read-only while serving)
    return cast(T, _view(workspace, build, *key))


#: Views kept (least recently used dropped first): every pilot, year and theme on a few
#: pages, and a few drill-down selections.
VIEW_CACHE_SIZE = 512


@lru_cache(maxsize=VIEW_CACHE_SIZE)
def _view(workspace: Any, build: Callable[..., Any], *key: Hashable) -> Any:
    return build(*key)


def clear_views() -> None:
    """Forget every view (`set_workspace` does too)."""
    _view.cache_clear()


_CACHED = (
    _view,
    pilot_names,
    years,
    count,
    source_lines,
    district_geojson,
    district_reference,
    boundaries,
    boundary_file,
    boundary_bounds,
    mid_year,
    count_population,
    district_spend,
    spend_all_years,
    function_options,
    agency_dimensions,
    pilot_members,
    area_options,
    map_frame,
    group_series,
    flows,
    filtered_lines,
    loaded_sources,
    coverage,
    quarantine_counts,
    quarantine_sample,
    population_years,
    real_factors,
    count_in,
    place_series,
)


def check_upload(name: str, content: bytes) -> Any:
    """Check an uploaded file without loading it (``totalplace.ingest.preview``)."""
    from totalplace.ingest.preview import check_upload as check

    return check(name, content)
