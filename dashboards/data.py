"""The dashboard's one bridge to the library: a read-only Workspace and cached queries.

Pages and figures never import the store or DuckDB (an import-linter contract); they call the
functions here, which return plain data (tuples, DataFrames, CountResult). Results are cached per
process (``functools.lru_cache``): the workspace is read-only while the dashboard runs.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

if TYPE_CHECKING:
    from totalplace.count.result import CountResult

#: The year a view opens on when the URL does not say (the Total Place pilots' year + 1: the
#: first year with councils' own outturn in the store).
DEFAULT_YEAR = "2010-11"


class WorkspaceLike(Protocol):
    """What the dashboard uses of ``totalplace.workspace.Workspace`` (tests may pass a fake)."""

    def pilots(self) -> dict[str, Any]: ...
    def years(self) -> list[str]: ...
    def count(self, place: str, year: str) -> CountResult: ...
    def region_district_counts(self, region_code: str, year: str) -> pd.DataFrame: ...
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
def region_map_frame(place: str, year: str) -> pd.DataFrame:
    """Every district of the place's region(s), for a map of the place within its region.

    Columns: area_code, area_name, region_code, population, amount_pence, amount_gbp,
    per_head_gbp, in_place (True for the place's own districts).
    """
    result = count(place, year)
    regions = sorted(result.districts["region_code"].dropna().astype(str).unique())
    ws = get_workspace()
    frames = []
    for code in regions:
        with _query_lock:
            f = ws.region_district_counts(code, year)
        if "region_code" in f:  # keep only the region's own districts, whatever comes back
            f = f[f["region_code"] == code]
        frames.append(f.assign(region_code=code))
    cols = ["area_code", "area_name", "region_code", "population", "amount_pence"]
    out = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
    out["amount_gbp"] = out["amount_pence"].astype("float64") / 100
    pop = out["population"].astype("float64")
    out["per_head_gbp"] = (out["amount_gbp"] / pop).where(pop > 0)
    out["in_place"] = out["area_code"].isin(set(result.place_codes))
    return out


@lru_cache(maxsize=1)
def district_geojson() -> dict[str, Any]:
    """England's districts as GeoJSON (feature ``id`` = GSS code)."""
    with _query_lock:
        return get_workspace().district_geojson()


_CACHED = (pilot_names, years, count, region_map_frame, district_geojson)
