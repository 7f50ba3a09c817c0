"""Figures computed once, when the workspace is built, and read back in milliseconds.

A count takes ~0.5-1 s to compute (SQL apportionment of every CRA line to the place's districts,
outturn replacement, consolidation) and England's spend by district for one year ~1-3 s. The
dashboard and the API answer the same questions again and again (the pilots, the years in the
store, the default drivers), so ``totalplace build`` computes those answers once and keeps them
in the workspace as Parquet files:

    <workspace>/results/<key>/counts/<digest>/meta.json, rows.parquet, lines.parquet, ...,
                                               screen.json (what `totalplace count` prints)
    <workspace>/results/<key>/district_spend/<year>.parquet

``key`` is a digest of everything a figure depends on: the store's content
(``Store.fingerprint``: every ingested file's checksum and every reference table's digest), the
reference data in ``data/`` (drivers, crosswalks, code lists), the library's source code and
its version. Anything
that changes a figure changes the key, so a stale answer is never read: after ``totalplace
ingest`` the cache is simply not found and figures are computed as before until the next build.
Only counts with the default options (default drivers, outturn on) are kept; a count with other
drivers is always computed. Files are written to a temporary name and renamed, so a killed
build leaves no half-written result. Nothing here is executable: JSON and Parquet only.
Importing this module loads no pandas: `totalplace count` finds a kept screen without it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from totalplace import __version__
from totalplace.config import REFERENCE_DIR

if TYPE_CHECKING:
    import pandas as pd

    from totalplace.count.result import CountResult
    from totalplace.geography.places import Place
    from totalplace.ledger.store import Store

#: The results folder inside a workspace.
RESULTS_DIR = "results"
#: A kept count's screen summary (``totalplace.count.screen``), beside its frames.
SCREEN_FILE = "screen.json"


def reference_digest(reference_dir: Path = REFERENCE_DIR) -> str:
    """SHA-256 over every file of the reference data (relative path and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(reference_dir).rglob("*") if p.is_file()):
        digest.update(path.relative_to(reference_dir).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


#: The library's own folder, and the parts of it that compute the figures kept here: their
#: source is part of the results' key (the CLI, the adapters or the workshop are not).
PACKAGE_DIR = Path(__file__).resolve().parent
FIGURE_CODE = ("count", "geography", "ledger", "queries.py", "results.py", "config.py")


def code_digest(package_dir: Path = PACKAGE_DIR, parts: tuple[str, ...] = FIGURE_CODE) -> str:
    """SHA-256 over the source of the code that computes the kept figures: a change in how a
    figure is computed (a new release, a local edit) makes earlier results unreadable, not
    silently reused."""
    digest = hashlib.sha256()
    files = [p for part in parts for p in sorted((package_dir / part).glob("**/*.py"))]
    files += [package_dir / p for p in parts if p.endswith(".py")]
    for path in sorted(set(files)):
        if path.is_file():
            digest.update(path.relative_to(package_dir).as_posix().encode("utf-8") + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def place_digest(place: Place, year: str) -> str:
    """The name of a place's cached count: its definition (name, districts, note...) and year."""
    text = json.dumps([dataclasses.asdict(place), year], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Write ``target`` (a file or a folder) under a temporary name, then rename it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        staged = tmp / target.name
        write(staged)
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(staged, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_count(result: CountResult, folder: Path) -> None:
    import pandas as pd

    from totalplace.count.result import CountResult
    from totalplace.count.screen import screen_summary

    folder.mkdir()
    meta: dict[str, Any] = {}
    for f in dataclasses.fields(CountResult):
        value = getattr(result, f.name)
        if isinstance(value, pd.DataFrame):
            value.to_parquet(folder / f"{f.name}.parquet", index=False)
            meta[f.name] = {"frame": f"{f.name}.parquet"}
        elif isinstance(value, tuple):
            meta[f.name] = {"tuple": list(value)}
        else:
            meta[f.name] = {"value": value}
    (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    screen = json.dumps(screen_summary(result), ensure_ascii=False)
    (folder / SCREEN_FILE).write_text(screen, encoding="utf-8")


def _read_count(folder: Path) -> CountResult:
    import pandas as pd

    from totalplace.count.result import CountResult

    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(CountResult):
        if f.name not in meta:  # a field added since the cache was written: its default
            continue
        entry = meta[f.name]
        if "frame" in entry:
            kwargs[f.name] = pd.read_parquet(folder / Path(entry["frame"]).name)
        elif "tuple" in entry:
            kwargs[f.name] = tuple(entry["tuple"])
        else:
            kwargs[f.name] = entry["value"]
    return CountResult(**kwargs)


@dataclass(frozen=True)
class ResultCache:
    """The cached figures of one workspace state (``root`` = ``results/<key>``)."""

    root: Path

    @classmethod
    def for_store(
        cls, workspace: Path, store: Store, reference_dir: Path = REFERENCE_DIR
    ) -> ResultCache:
        """The cache for the store's current content and the current reference data."""
        digest = hashlib.sha256()
        parts = (store.fingerprint(), reference_digest(reference_dir), code_digest(), __version__)
        for part in parts:
            digest.update(part.encode("utf-8") + b"\0")
        return cls(Path(workspace) / RESULTS_DIR / digest.hexdigest()[:24])

    # -- counts -------------------------------------------------------------------------------
    def _count_dir(self, place: Place, year: str) -> Path:
        return self.root / "counts" / place_digest(place, year)

    def has_count(self, place: Place, year: str) -> bool:
        return (self._count_dir(place, year) / "meta.json").is_file()

    def count(self, place: Place, year: str) -> CountResult | None:
        """The place's default count for ``year``, if it was computed for this state."""
        return _read_count(self._count_dir(place, year)) if self.has_count(place, year) else None

    def screen(self, place: Place, year: str) -> dict[str, Any] | None:
        """What ``totalplace count`` prints for the place's default count for ``year``
        (``totalplace.count.screen.screen_summary``), if it was computed for this state."""
        path = self._count_dir(place, year) / SCREEN_FILE
        return dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else None

    def put_count(self, place: Place, year: str, result: CountResult) -> None:
        """Keep the count (its frames, its other fields and its screen summary) in one go."""
        _write_atomically(self._count_dir(place, year), lambda p: _write_count(result, p))

    # -- England's spend by district ------------------------------------------------------------
    def _spend_file(self, year: str) -> Path:
        return self.root / "district_spend" / f"{year}.parquet"

    def district_spend(self, year: str) -> pd.DataFrame | None:
        """``queries.district_spend(store, year)`` as computed at build time, if it was."""
        import pandas as pd

        path = self._spend_file(year)
        return pd.read_parquet(path) if path.is_file() else None

    def put_district_spend(self, year: str, frame: pd.DataFrame) -> None:
        _write_atomically(self._spend_file(year), lambda p: frame.to_parquet(p, index=False))

    # -- housekeeping ---------------------------------------------------------------------------
    def prune(self) -> int:
        """Remove the results of other (older) workspace states; returns how many."""
        removed = 0
        if self.root.parent.is_dir():
            for other in self.root.parent.iterdir():
                if other != self.root and other.is_dir():
                    shutil.rmtree(other, ignore_errors=True)
                    removed += 1
        return removed


@dataclass(frozen=True)
class PrecomputeReport:
    counts: int
    district_spend_years: int
    seconds: float
    already: int


def precompute(
    store: Store,
    cache: ResultCache,
    places: Iterable[Place],
    years: Iterable[str],
    progress: Callable[[str], None] = lambda _msg: None,
) -> PrecomputeReport:
    """Compute and keep the default count of every place for every year, and England's spend
    by district for every year; what the cache already holds is left as it is."""
    from totalplace.count.engine import count_place
    from totalplace.queries import district_spend

    start = time.perf_counter()
    counts = spend_years = already = 0
    years = list(years)
    for year in years:
        if cache.district_spend(year) is None:
            progress(f"England's spend by district, {year}")
            cache.put_district_spend(year, district_spend(store, year))
            spend_years += 1
        else:
            already += 1
    for place in places:
        progress(f"count: {place.name}")
        for year in years:
            if cache.has_count(place, year):
                already += 1
                continue
            cache.put_count(place, year, count_place(store, place, year))
            counts += 1
    cache.prune()
    return PrecomputeReport(counts, spend_years, time.perf_counter() - start, already)
