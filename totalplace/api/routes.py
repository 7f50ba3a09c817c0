"""The read-only JSON API: a Flask blueprint under /api/v1 over a built Workspace.

Each view checks its query (unknown, repeated or malformed parameters are 400; an unknown
place, year, theme, region or page is 404), asks the workspace, and answers JSON built by
``payloads``. Errors are always JSON ``{"error": "..."}``; bad input never gives a 500.
Figures are cached per workspace (it is read-only while served) and computed one at a time.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from totalplace.api import payloads
from totalplace.api.openapi import (
    API_PREFIX,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_PLACE_LENGTH,
    docs_html,
    openapi_document,
    params_of,
)
from totalplace.errors import StoreError, TotalPlaceError, UnknownPlaceError
from totalplace.geography.places import match_key

if TYPE_CHECKING:
    from totalplace.count.result import CountResult
    from totalplace.geography.places import Place
    from totalplace.workspace import Workspace

log = logging.getLogger(__name__)
T = TypeVar("T")
#: Returns the served Workspace (typed loosely: the dashboard's getter names a narrower protocol).
WorkspaceGetter = Callable[[], Any]
EXTENSION = "totalplace_api"
api = Blueprint("api", __name__, url_prefix=API_PREFIX)

_YEAR = re.compile(r"[0-9]{4}-[0-9]{2}")
_THEME = re.compile(r"[a-z0-9_]{1,64}")
_REGION = re.compile(r"E12[0-9]{6}")
_INT = re.compile(r"[0-9]{1,12}")
_BAD_PLACE_CHARS = re.compile(r"[/\\\x00-\x1f\x7f]")
_PLACE_FILE = re.compile(r"\.(toml|ya?ml)\s*$", re.IGNORECASE)
_MEASURES = payloads.MAP_MEASURES


class ApiError(Exception):
    """An answer other than 200, with a message for the person who asked."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def register_api(server: Flask, get_workspace: WorkspaceGetter) -> None:
    """Serve the API on ``server``; ``get_workspace`` returns the (read-only) Workspace."""
    server.extensions[EXTENSION] = get_workspace
    server.register_blueprint(api)
    server.register_error_handler(MethodNotAllowed, _method_not_allowed)


# -- the cache ----------------------------------------------------------------------------------


class _Cache:
    """Answers of one workspace, least recently used dropped first once there are ``size`` of
    them or they hold more than ``budget`` count lines (an England-wide count has ~300,000);
    one computation at a time (the store's DuckDB connection is shared)."""

    def __init__(self, size: int = 64, budget: int = 1_000_000) -> None:
        self.size = size
        self.budget = budget
        self.items: OrderedDict[tuple[Any, ...], tuple[Any, int]] = OrderedDict()
        self.lock = threading.RLock()

    def get(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                value: T = self.items[key][0]
                return value
            value = compute()
            self.items[key] = (value, _weight(value))
            while len(self.items) > 1 and (
                len(self.items) > self.size or sum(w for _, w in self.items.values()) > self.budget
            ):
                self.items.popitem(last=False)
            return value


def _weight(value: Any) -> int:
    """Roughly how many lines an answer holds (1 for small ones)."""
    for name in ("lines", "allocations"):  # a CountResult, a ThemeBreakdown
        frame = getattr(value, name, None)
        if isinstance(frame, pd.DataFrame):
            return max(len(frame), 1)
    if isinstance(value, pd.DataFrame):
        return max(len(value), 1)
    return 1


_caches: weakref.WeakKeyDictionary[Any, _Cache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _workspace() -> tuple[Workspace, _Cache]:
    try:
        ws: Workspace = current_app.extensions[EXTENSION]()
    except TotalPlaceError as exc:
        raise ApiError(503, str(exc)) from exc
    with _caches_lock:
        cache = _caches.get(ws)
        if cache is None:
            cache = _caches[ws] = _Cache()
    return ws, cache


@contextmanager
def _library_errors() -> Iterator[None]:
    """The library's errors as API answers: unknown place 404, store trouble 503, else 422."""
    try:
        yield
    except UnknownPlaceError as exc:
        raise ApiError(404, str(exc)) from exc
    except StoreError as exc:
        raise ApiError(503, str(exc)) from exc
    except TotalPlaceError as exc:
        raise ApiError(422, str(exc)) from exc


# -- query parameters -----------------------------------------------------------------------


def _query(endpoint: str) -> dict[str, str]:
    """The query as name -> value, refusing unknown and repeated parameters."""
    allowed = params_of(endpoint)
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) if allowed else "no parameters"
        raise ApiError(
            400, f"unknown parameter(s) {', '.join(map(repr, unknown))}: {endpoint} takes {takes}"
        )
    out: dict[str, str] = {}
    for name in request.args:
        values = request.args.getlist(name)
        if len(values) > 1:
            raise ApiError(400, f"parameter {name!r} is given {len(values)} times; give it once")
        out[name] = values[0]
    return out


def _required(query: dict[str, str], name: str) -> str:
    value = query.get(name, "").strip()
    if not value:
        raise ApiError(400, f"parameter {name!r} is required")
    return value


def _int(query: dict[str, str], name: str, default: int, low: int, high: int | None) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not _INT.fullmatch(text.strip()):
        raise ApiError(400, f"{name} must be a whole number, not {text[:40]!r}")
    value = int(text)
    if value < low or (high is not None and value > high):
        wanted = f"{low} or more" if high is None else f"from {low} to {high}"
        raise ApiError(400, f"{name} must be {wanted}, not {value}")
    return value


def _place(ws: Workspace, query: dict[str, str]) -> Place:
    text = _required(query, "place")
    if len(text) > MAX_PLACE_LENGTH:
        raise ApiError(
            400, f"place is too long ({len(text):,} characters; {MAX_PLACE_LENGTH:,} at most)"
        )
    if _BAD_PLACE_CHARS.search(text) or _PLACE_FILE.search(text):
        raise ApiError(
            400,
            "place must be a pilot or area name or GSS code(s); paths, place files and control "
            "characters are not accepted",
        )
    if not match_key(text):
        raise ApiError(400, f"place {text[:80]!r} has no letters or digits")
    with _library_errors():
        try:
            return ws.place(text)
        except ValueError as exc:
            raise ApiError(400, f"place {text[:80]!r}: {exc}") from exc


def _year(ws: Workspace, cache: _Cache, query: dict[str, str]) -> str:
    year = _required(query, "year")
    if not _YEAR.fullmatch(year):
        raise ApiError(400, f"year must be a financial year like 2010-11, not {year[:40]!r}")
    with _library_errors():
        years = cache.get(("years",), ws.years)
    if year not in years:
        raise ApiError(404, f"no count for {year}: years are {', '.join(years) or 'none'}")
    return year


def _prices(query: dict[str, str]) -> str | None:
    prices = query.get("prices")
    if prices is not None and not _YEAR.fullmatch(prices.strip()):
        raise ApiError(400, f"prices must be a financial year like 2018-19, not {prices[:40]!r}")
    return prices.strip() if prices else None


def _theme(query: dict[str, str]) -> str:
    from totalplace.deepdive.rules import theme_ids

    theme = _required(query, "theme")
    if not _THEME.fullmatch(theme):
        raise ApiError(400, f"theme must be a theme id like older_people, not {theme[:40]!r}")
    known = theme_ids()
    if theme not in known:
        raise ApiError(404, f"unknown theme {theme!r}: themes are {', '.join(known)}")
    return theme


def _region(ws: Workspace, query: dict[str, str]) -> str | None:
    region = query.get("region")
    if region is None:
        return None
    region = region.strip()
    if not _REGION.fullmatch(region):
        raise ApiError(400, f"region must be a region GSS code like E12000008, not {region[:40]!r}")
    if region not in _regions(ws):
        raise ApiError(404, f"no English region {region}: regions are {', '.join(_regions(ws))}")
    return region


def _regions(ws: Workspace) -> list[str]:
    with _library_errors():
        return sorted({str(r) for r in ws.districts["region_code"].dropna()})


# -- figures (cached) -------------------------------------------------------------------------


def _count(ws: Workspace, cache: _Cache, place: Place, year: str) -> CountResult:
    with _library_errors():
        return cache.get(("count", place, year), lambda: ws.count(place, year))


def _districts_of_england(ws: Workspace, cache: _Cache, year: str) -> pd.DataFrame:
    """Every district's count of ``year`` (the dashboard's fast path, equal to the engine's to
    the penny) with name, region and the population per-head figures use."""
    from totalplace import queries

    def compute() -> pd.DataFrame:
        spend = ws.district_spend(year)
        amounts = spend.groupby("area_code", as_index=False)["amount_pence"].sum()
        ref = queries.district_reference(ws.store)[["area_code", "area_name", "region_code"]]
        frame = ref.merge(amounts, on="area_code", how="left")
        frame["amount_pence"] = frame["amount_pence"].fillna(0).astype("int64")
        population = _population(ws, cache, year)[0]
        return frame.merge(population, on="area_code", how="left")

    with _library_errors():
        return cache.get(("england", year), compute)


def _population(ws: Workspace, cache: _Cache, year: str) -> tuple[pd.DataFrame, int, str]:
    """District populations for per-head figures as the count takes them (year-matched where
    it can be estimated, else the drivers' mid-year), their year, and how they were obtained."""
    from totalplace import queries
    from totalplace.count.engine import best_mid_year, fy_start, year_matched_population

    def compute() -> tuple[pd.DataFrame, int, str]:
        mid = best_mid_year(ws.store, year)
        scaled = year_matched_population(ws.store, year, mid)
        if scaled is not None:
            return (
                scaled,
                fy_start(year),
                f"Per-head figures use mid-{fy_start(year)} population estimated by scaling ONS "
                f"mid-{mid} districts to Eurostat's region totals; shares use ONS mid-{mid}.",
            )
        note = f"Shares and per-head figures use ONS mid-{mid} district population"
        if mid != fy_start(year):
            note += f" (no mid-{fy_start(year)} district population is loaded)"
        return queries.district_population(ws.store, mid), mid, note + "."

    with _library_errors():
        return cache.get(("population", year), compute)


def _map_source(ws: Workspace, cache: _Cache, year: str) -> dict[str, Any]:
    from totalplace.count.engine import OUTTURN_SOURCES, release_for_year, release_label

    def compute() -> dict[str, Any]:
        cra = release_for_year(ws.store, year)
        loaded = ws.store.query(
            "SELECT DISTINCT source_id FROM ledger WHERE year = ? AND list_contains(?, source_id)",
            [year, list(OUTTURN_SOURCES)],
        )
        sources = [cra, *map(str, loaded["source_id"])]
        _, pop_year, pop_note = _population(ws, cache, year)
        caveats = [
            "HM Treasury CRA gives spend by region; it is shared among districts by each line's "
            "driver (population or an age band).",
            pop_note,
            "Councils' own revenue outturn replaces CRA local-government current spend for the "
            "functions it covers."
            if len(sources) > 1
            else f"Councils' own revenue outturn is not loaded for {year}: councils' spend is "
            "apportioned from CRA.",
        ]
        return payloads.source_note(sources, caveats, pop_year, [release_label(s) for s in sources])

    with _library_errors():
        return cache.get(("map-source", year), compute)


# -- responses ------------------------------------------------------------------------------


def _json(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, allow_nan=False, ensure_ascii=False)
    return Response(body, status=status, mimetype="application/json")


@api.after_request
def _headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Cache-Control", "no-cache")
    return response


@api.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return _json({"error": exc.message}, exc.status)


@api.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return _json({"error": exc.description or exc.name}, exc.code or 500)


@api.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    log.exception("API error on %s", request.full_path)
    return _json({"error": "internal error: the request could not be answered"}, 500)


def _method_not_allowed(exc: MethodNotAllowed) -> Response | MethodNotAllowed:
    """A JSON 405 under the API's prefix; elsewhere the server's usual answer."""
    if request.path.startswith(API_PREFIX + "/"):
        return _json({"error": f"{request.method} is not allowed: the API is read-only (GET)"}, 405)
    return exc


# -- endpoints ------------------------------------------------------------------------------


@api.get("/places")
def places() -> Response:
    _query("/places")
    ws, _ = _workspace()
    with _library_errors():
        return _json(payloads.places_json(ws.pilots()))


@api.get("/years")
def years() -> Response:
    _query("/years")
    ws, cache = _workspace()
    with _library_errors():
        ys = cache.get(("years",), ws.years)
    note = payloads.source_note(
        ["cra_2010", "cra_2014"],
        [
            "Years with HM Treasury CRA spend in the store; where two releases cover a year, the "
            "later release is used."
        ],
    )
    return _json({"years": list(ys), "source": note})


@api.get("/themes")
def themes() -> Response:
    from totalplace.deepdive.rules import builtin_themes

    _query("/themes")
    with _library_errors():
        found = builtin_themes()
    out = [
        {
            "id": t.id,
            "name": t.name,
            "population": t.population,
            "description": t.description,
            "sources": list(t.sources),
            "notes": list(t.notes),
            "rule_count": len(t.rules),
        }
        for t in found.values()
    ]
    note = payloads.source_note(
        [],
        [
            "Theme rules: data/themes/<id>.toml; each rule cites a "
            "published source or states its assumption."
        ],
    )
    return _json({"themes": out, "source": note})


@api.get("/count")
def count() -> Response:
    query = _query("/count")
    ws, cache = _workspace()
    year = _year(ws, cache, query)
    from totalplace.count.engine import with_prices

    prices = _prices(query)
    result = _count(ws, cache, _place(ws, query), year)
    with _library_errors():
        result = with_prices(ws.store, result, prices)
    return _json(payloads.count_json(result))


@api.get("/deepdive")
def deepdive() -> Response:
    from totalplace.count.engine import real_terms
    from totalplace.deepdive.engine import deep_dive
    from totalplace.deepdive.rules import load_theme

    query = _query("/deepdive")
    ws, cache = _workspace()
    year = _year(ws, cache, query)
    theme = _theme(query)
    place = _place(ws, query)
    result = _count(ws, cache, place, year)
    with _library_errors():
        breakdown = cache.get(
            ("deepdive", place, year, theme),
            lambda: deep_dive(ws.store, place, year, load_theme(theme), count=result),
        )
        real = real_terms(
            ws.store, year, breakdown.total_pence, breakdown.population, _prices(query)
        )
    return _json(payloads.deepdive_json(breakdown) | {"real_terms": real})


@api.get("/flows")
def flows() -> Response:
    query = _query("/flows")
    ws, cache = _workspace()
    year = _year(ws, cache, query)
    from totalplace import queries

    place = _place(ws, query)
    result = _count(ws, cache, place, year)
    with _library_errors():
        table = cache.get(
            ("flows", place, year), lambda: queries.flow_table(result.lines, result.replaced)
        )
    return _json(payloads.flows_json(result, table))


@api.get("/map")
def district_map() -> Response:
    query = _query("/map")
    ws, cache = _workspace()
    year = _year(ws, cache, query)
    measure = query.get("measure", "total").strip()
    if measure not in _MEASURES:
        raise ApiError(400, f"measure must be one of {', '.join(_MEASURES)}, not {measure[:40]!r}")
    region = _region(ws, query)
    frame = _districts_of_england(ws, cache, year)
    if region is not None:
        frame = frame[frame["region_code"] == region]
    source = _map_source(ws, cache, year)
    return _json(payloads.map_json(frame, year, measure, region, source))


@api.get("/rows")
def rows() -> Response:
    query = _query("/rows")
    ws, cache = _workspace()
    year = _year(ws, cache, query)
    page = _int(query, "page", 1, 1, None)
    size = _int(query, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    place = _place(ws, query)
    result = _count(ws, cache, place, year)
    order = cache.get(("rows", place, year), lambda: payloads.line_order(result))
    pages = payloads.pages_of(len(order), size)
    if page > pages:
        raise ApiError(404, f"page {page} is past the last page ({pages} pages of {size} rows)")
    return _json(payloads.rows_json(result, order, page, size))


@api.get("/sources")
def sources() -> Response:
    from totalplace.count.provenance import source_lines
    from totalplace.count.result import row_ids

    query = _query("/sources")
    ws, cache = _workspace()
    year = _year(ws, cache, query)
    row = _required(query, "row")
    page = _int(query, "page", 1, 1, None)
    size = _int(query, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    place = _place(ws, query)
    result = _count(ws, cache, place, year)
    if row not in set(row_ids(result.rows)):
        raise ApiError(404, f"no count row {row[:20]!r} in {place.name} {year} (see /count)")
    with _library_errors():
        lines = cache.get(
            ("sources", place, year, row), lambda: source_lines(result, ws.store, row)
        )
    pages = payloads.pages_of(len(lines), size)
    if page > pages:
        raise ApiError(404, f"page {page} is past the last page ({pages} pages of {size} lines)")
    return _json(payloads.sources_json(result, lines, row, page, size))


@api.get("/openapi.json")
def openapi() -> Response:
    _query("/openapi.json")
    return _json(openapi_document())


@api.get("/docs")
def docs() -> Response:
    if request.args:
        raise ApiError(400, "the docs page takes no parameters")
    response = Response(docs_html(openapi_document()), mimetype="text/html")
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@api.get("/", defaults={"rest": ""})
@api.get("/<path:rest>")
def not_found(rest: str) -> Response:
    """Any other path under the prefix: a JSON 404 naming the endpoints."""
    names = ", ".join(
        [
            "places",
            "years",
            "themes",
            "count",
            "deepdive",
            "flows",
            "map",
            "rows",
            "sources",
            "openapi.json",
            "docs",
        ]
    )
    raise ApiError(404, f"no endpoint {API_PREFIX}/{rest[:80]}: endpoints are {names}")
