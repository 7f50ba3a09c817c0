"""The deep-dive page's bridge to the library: built-in themes and cached theme breakdowns.

Like ``dashboards.data``, it returns plain data (ThemeBreakdown, DataFrames, bytes); pages never
touch the store. A breakdown is cached per workspace, place, year and theme (the workspace is
read-only while the dashboard runs) and computed under the bridge's query lock, because the
store's DuckDB connection refuses concurrent calls. ``view`` keeps what a page builds from a
breakdown (figures, grid rows), so a callback answering a repeat visit only looks it up.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pandas as pd

from dashboards import data
from totalplace.errors import TotalPlaceError
from totalplace.export.tables import safe_frame

if TYPE_CHECKING:
    from totalplace.deepdive.engine import ThemeBreakdown

#: The theme a pilot ran (Leadership Centre pilot pages; DOMAIN.md), as a built-in theme id:
#: the deep dive opens on it when the URL names no theme.
PILOT_THEMES = {
    "Dorset, Poole and Bournemouth": "older_people",
    "Croydon": "children_early_years",
    "Manchester City Region": "children_early_years",
    "Luton and Central Bedfordshire": "offenders_community_safety",
    "Lewisham": "offenders_community_safety",
    "Leicester and Leicestershire": "drugs_alcohol",
    "Birmingham": "drugs_alcohol",
    "South Tyneside, Gateshead and Sunderland": "drugs_alcohol",
    "Bradford": "housing",
    "Worcestershire": "older_people",
}
FALLBACK_THEME = "older_people"
#: The tables a person can download, in the order offered (names from ThemeBreakdown.tables()).
TABLES = {
    "summary": "Summary",
    "by_agency": "By agency",
    "by_function": "By function and service line",
    "mode": "Reactive / preventative",
    "control": "Local / national",
    "pooling": "Pooling",
    "rules": "Rules",
    "checks": "Checks and caveats",
    "lines": "Every source line (file and row)",
}


class DeepDiveWorkspace(Protocol):
    """What the deep dive uses of ``totalplace.workspace.Workspace``."""

    def deepdive(self, place: str, year: str, theme: str, count: Any = None) -> Any: ...


@dataclass(frozen=True)
class ThemeOption:
    """A built-in theme as the picker shows it."""

    id: str
    name: str
    description: str
    population_label: str


@lru_cache(maxsize=1)
def themes() -> tuple[ThemeOption, ...]:
    """The built-in themes (``data/themes/*.toml``), by name."""
    from totalplace.count.drivers import builtin_drivers
    from totalplace.deepdive.rules import builtin_themes

    drivers = builtin_drivers()
    out = [
        ThemeOption(t.id, t.name, t.description, drivers[t.population].population_label)
        for t in builtin_themes().values()
    ]
    return tuple(sorted(out, key=lambda t: t.name))


def theme_option(theme_id: str) -> ThemeOption | None:
    return next((t for t in themes() if t.id == theme_id), None)


def default_theme(place: str | None) -> str:
    """The pilot's own theme where there is a built-in one, else older people."""
    ids = {t.id for t in themes()}
    chosen = PILOT_THEMES.get(place or "", FALLBACK_THEME)
    return chosen if chosen in ids else (FALLBACK_THEME if FALLBACK_THEME in ids else min(ids))


def breakdown(place: str, year: str, theme: str, terms: str | None = None) -> ThemeBreakdown:
    """The deep dive of ``theme`` in ``place`` and ``year`` (shared: treat as read-only), in
    cash or, with ``terms='real'``, every amount in the deflators' prices year.

    Computed once per key even when two callbacks ask at the same moment (the page's theme and
    drill-down callbacks both fire on load): the second waits for the first's answer instead of
    computing it again.
    """
    workspace: Any = data.get_workspace()  # cached by identity (the workspace is read-only)
    with _key_lock((workspace, place, year, theme)):
        cash = _breakdown(workspace, place, year, theme)
    if terms != "real":
        return cash
    return _in_prices(workspace, place, year, theme)


@lru_cache(maxsize=64)
def _in_prices(workspace: Any, place: str, year: str, theme: str) -> ThemeBreakdown:
    """The cash breakdown with every amount in the deflators' prices year."""
    from totalplace.deepdive.engine import breakdown_in_prices

    cash = breakdown(place, year, theme)
    return breakdown_in_prices(cash, data.real_factor(year, "real"), str(data.prices_year()))


#: Locks striped by key: callers of the same key queue, different keys rarely share a lock.
_KEY_LOCKS = tuple(threading.Lock() for _ in range(16))


def _key_lock(key: Hashable) -> threading.Lock:
    return _KEY_LOCKS[hash(key) % len(_KEY_LOCKS)]


T = TypeVar("T")


def view(
    place: str,
    year: str,
    theme: str,
    build: Callable[..., T],
    *key: str,
    terms: str | None = None,
) -> T:
    """``build(breakdown(place, year, theme, terms), *key)``, built once per place, year,
    theme, terms, builder and ``key`` (e.g. a drill-down selection) and shared afterwards.

    The page's callbacks turn a breakdown into figures, grid rows and text; that costs more
    than a repeat visit should, so each callback passes its builder here and a repeat is a
    look-up. What ``build`` returns is shared between callers: it must not be changed. Errors
    (``TotalPlaceError``) are not kept (``lru_cache`` keeps only answers): the next call tries
    again.
    """
    return data.view(_themed, build, place, year, theme, terms, *key)


def _themed(
    build: Callable[..., T], place: str, year: str, theme: str, terms: str | None, *key: str
) -> T:
    return build(breakdown(place, year, theme, terms), *key)


@lru_cache(maxsize=64)
def _breakdown(workspace: Any, place: str, year: str, theme: str) -> ThemeBreakdown:
    if not hasattr(workspace, "deepdive"):
        raise TotalPlaceError("this workspace cannot compute deep dives (no deepdive method)")
    ws: DeepDiveWorkspace = workspace
    count = data.count(place, year)  # the page's own cached count: not computed twice
    with data._query_lock:
        result: ThemeBreakdown = ws.deepdive(place, year, theme, count=count)
    return result


def drill_lines(
    result: ThemeBreakdown,
    *,
    rule: str | None = None,
    agency_type: str | None = None,
    n: int = 25,
) -> pd.DataFrame:
    """The largest source lines behind one rule or one agency type (summed over districts).

    Columns: file, row, rule, agency, agency_type, description, service_line, source_pence,
    amount_pence; largest theme amount (in absolute value) first.
    """
    a = result.allocations
    if rule is not None:
        a = a[a["rule"] == rule]
    if agency_type is not None:
        a = a[a["agency_type"].fillna("Not specified") == agency_type]
    keys = ["file", "row", "rule", "agency", "agency_type", "description", "service_line"]
    if a.empty:
        return pd.DataFrame(columns=[*keys, "source_pence", "amount_pence"])
    out = a.groupby(keys, dropna=False, as_index=False)[["source_pence", "amount_pence"]].sum()
    order = out["amount_pence"].abs().sort_values(ascending=False).index
    return out.loc[order].head(n).reset_index(drop=True)


def _for_people(frame: pd.DataFrame) -> pd.DataFrame:
    """Each ``*_pence`` column gets a ``*_gbp`` twin (pounds) beside it; text made safe."""
    out = frame.copy()
    for col in [c for c in out.columns if str(c).endswith("_pence")]:
        gbp = pd.to_numeric(out[col], errors="coerce").astype("float64") / 100
        out.insert(out.columns.get_loc(col) + 1, str(col)[: -len("_pence")] + "_gbp", gbp)
    return safe_frame(out)


def table_csv(result: ThemeBreakdown, table: str) -> bytes:
    """One table of the deep dive as CSV (UTF-8 with a BOM, so spreadsheets read the £)."""
    frame = result.tables()[table]
    return _for_people(frame).to_csv(index=False).encode("utf-8-sig")


def tables_xlsx(result: ThemeBreakdown) -> bytes:
    """Every table of the deep dive, one sheet each, in one workbook."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in result.tables().items():
            _for_people(frame).to_excel(writer, sheet_name=name[:31], index=False)
    return buffer.getvalue()


def file_stem(result: ThemeBreakdown) -> str:
    """'deepdive_older_people_Dorset-Poole-and-Bournemouth_2010-11' (safe as a file name)."""
    place = "-".join("".join(ch if ch.isalnum() else " " for ch in result.place_name).split())
    return f"deepdive_{result.theme.id}_{place}_{result.year}"


def clear_caches() -> None:
    themes.cache_clear()
    _breakdown.cache_clear()
    _in_prices.cache_clear()
    data.clear_views()
