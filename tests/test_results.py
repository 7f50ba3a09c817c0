"""Precomputed results: the same figures as computing them, read only while the store is the
one they were computed from, and never half-written."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from totalplace.count.engine import count_place
from totalplace.count.result import CountResult
from totalplace.ledger.store import Store
from totalplace.queries import district_spend
from totalplace.results import ResultCache, code_digest, place_digest, precompute

FRAMES = (
    "rows",
    "districts",
    "reported_by_councils",
    "replaced",
    "lines",
    "eliminated",
    "cra_lines",
)
SCALARS = (
    "place_name",
    "place_codes",
    "year",
    "population",
    "population_year",
    "population_basis",
    "release",
    "real_terms",
    "caveats",
)


def _rows(frame: pd.DataFrame) -> Counter[tuple[Any, ...]]:
    """The frame's rows as a multiset, missing values (None or NaN) made equal."""
    return Counter(
        tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False)
    )


def assert_same_count(a: CountResult, b: CountResult) -> None:
    for name in SCALARS:
        assert getattr(a, name) == getattr(b, name), name
    for name in FRAMES:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert list(x.columns) == list(y.columns), name
            assert _rows(x) == _rows(y), name
    assert a.total_pence == b.total_pence


@pytest.fixture(scope="module")
def cached(workspace: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[ResultCache, list]:
    """Two pilots (one two-tier, one unitary-heavy) for a year with and without outturn."""
    cache = ResultCache.for_store(tmp_path_factory.mktemp("results"), workspace.store)
    pilots = workspace.pilots()
    places = [pilots["Worcestershire"], pilots["Bradford"]]
    report = precompute(workspace.store, cache, places, ["2010-11", "2008-09"])
    assert (report.counts, report.district_spend_years, report.already) == (4, 2, 0)
    return cache, places


def test_cached_counts_equal_computed_counts(workspace: Any, cached: Any) -> None:
    cache, places = cached
    for place in places:
        for year in ("2010-11", "2008-09"):
            hit = cache.count(place, year)
            assert hit is not None
            assert_same_count(hit, count_place(workspace.store, place, year))


def test_cached_district_spend_equals_computed(workspace: Any, cached: Any) -> None:
    cache, _ = cached
    hit = cache.district_spend("2010-11")
    fresh = district_spend(workspace.store, "2010-11")
    assert hit is not None and list(hit.columns) == list(fresh.columns)
    assert _rows(hit) == _rows(fresh)
    assert cache.district_spend("2005-06") is None  # not computed: not pretended


def test_second_precompute_computes_nothing(workspace: Any, cached: Any) -> None:
    cache, places = cached
    again = precompute(workspace.store, cache, places, ["2010-11", "2008-09"])
    assert (again.counts, again.district_spend_years, again.already) == (0, 0, 6)


def test_workspace_reads_the_cache(
    workspace: Any, cached: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workspace answers from the cache: a (doctored) cached count is what it returns."""
    cache, places = cached
    place = places[0]
    doctored = cache.count(place, "2010-11")
    assert doctored is not None
    doctored.caveats = [*doctored.caveats, "read from the cache"]
    monkeypatch.setitem(workspace.__dict__, "results", cache)
    cache.put_count(place, "2010-11", doctored)
    try:
        assert workspace.count(place, "2010-11").caveats[-1] == "read from the cache"
        # as the dashboard and the API ask: by the pilot's name
        assert workspace.count(place.name, "2010-11").caveats[-1] == "read from the cache"
        assert workspace.count(place, "2009-10").caveats[-1] != "read from the cache"
    finally:
        cache.put_count(place, "2010-11", count_place(workspace.store, place, "2010-11"))


def test_store_fingerprint_follows_content(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        store.init_schema()
        store.replace_table("things", pd.DataFrame({"a": [1, 2]}))
        first = store.fingerprint()
        assert store.fingerprint() == first
        store.replace_table("things", pd.DataFrame({"a": [1, 3]}))
        changed = store.fingerprint()
        store.replace_table("things", pd.DataFrame({"a": [1, 2]}))
        assert changed != first and store.fingerprint() == first
        old = ResultCache.for_store(tmp_path, store)
        store.replace_table("deflators", pd.DataFrame({"year": ["2010-11"], "index": [1.0]}))
        assert ResultCache.for_store(tmp_path, store).root != old.root


def test_half_written_and_stale_results_are_not_read(workspace: Any, tmp_path: Path) -> None:
    cache = ResultCache.for_store(tmp_path, workspace.store)
    place = workspace.pilots()["Worcestershire"]
    # a count folder without its meta.json (a build killed while writing) is not a result
    folder = cache.root / "counts" / place_digest(place, "2010-11")
    folder.mkdir(parents=True)
    (folder / "rows.parquet").write_bytes(b"half")
    assert cache.count(place, "2010-11") is None
    # results of another state of the store are removed by prune, this state's are kept
    stale = ResultCache(cache.root.parent / "0123456789abcdef01234567")
    stale.put_district_spend("2010-11", pd.DataFrame({"amount_pence": [1]}))
    assert cache.prune() == 1
    assert stale.district_spend("2010-11") is None and folder.is_dir()


def test_code_digest_follows_the_code_that_computes_figures(tmp_path: Path) -> None:
    (tmp_path / "count").mkdir()
    (tmp_path / "count" / "engine.py").write_text("SQL = 'a'\n")
    (tmp_path / "queries.py").write_text("X = 1\n")
    (tmp_path / "cli.py").write_text("print('hi')\n")
    parts = ("count", "queries.py")
    first = code_digest(tmp_path, parts)
    (tmp_path / "cli.py").write_text("print('hello')\n")  # not figure code: same key
    assert code_digest(tmp_path, parts) == first
    (tmp_path / "count" / "engine.py").write_text("SQL = 'b'\n")
    changed = code_digest(tmp_path, parts)
    (tmp_path / "queries.py").write_text("X = 2\n")
    assert len({first, changed, code_digest(tmp_path, parts)}) == 3
