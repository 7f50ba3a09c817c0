"""Benchmarks at national scale: synthetic spend files, ingest, queries and dashboard load.

Run them all with ``make bench`` (``python benchmarks/run_all.py --scale small``); each script
also runs alone (``python benchmarks/generate.py --help``). Results go to ``BENCHMARKS.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Generated data stays out of the repository (``benchmarks/.data/`` is git-ignored).
DATA_DIR = ROOT / "benchmarks" / ".data"

#: Named scales: synthetic spend rows (the ledger also holds the demo workspace's ~126k rows).
SCALES: dict[str, int] = {
    "tiny": 20_000,
    "small": 200_000,
    "1m": 1_000_000,
    "5m": 5_000_000,
    "20m": 20_000_000,
}


def rows_for(scale: str) -> int:
    """Rows for a named scale, or a plain number (``250000``, ``2.5m``, ``300k``)."""
    s = scale.strip().lower().replace("_", "")
    if s in SCALES:
        return SCALES[s]
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1:], 1)
    return int(float(s[:-1] if mult > 1 else s) * mult)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def hot_functions(fn: Callable[[], object], top: int = 8) -> list[dict[str, Any]]:
    """Run ``fn()`` once under cProfile: the ``top`` functions of this project by cumulative
    time and the ``top`` functions of any code by own time (file:line function, seconds)."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    try:
        fn()
    finally:
        prof.disable()
    stats: dict[Any, Any] = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    rows: list[dict[str, Any]] = []
    for (path, line, func), (_cc, calls, own, cum, _callers) in stats.items():
        short = str(path).split("/site-packages/")[-1].split(f"{ROOT}/")[-1]
        rows.append({"where": f"{short}:{line} {func}", "calls": calls, "own_s": own, "cum_s": cum})
    ours = [r for r in rows if r["where"].startswith(("totalplace/", "dashboards/"))]
    by_cum = sorted(ours, key=lambda r: -r["cum_s"])[:top]
    by_own = sorted(rows, key=lambda r: -r["own_s"])[:top]
    return [{"kind": "cumulative (project)", **r} for r in by_cum] + [
        {"kind": "own time (any)", **r} for r in by_own
    ]
