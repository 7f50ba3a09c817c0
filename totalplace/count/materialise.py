"""Keep every year's count lines in the store (``totalplace.count.parts``), computed once by
the engine's own steps (``district_lines_on_demand`` over all England), when what they are
computed from has changed: at ``totalplace build`` and after ``totalplace ingest``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from totalplace.count import parts
from totalplace.count.engine import (
    available_years,
    best_mid_year,
    district_lines_on_demand,
    release_for_year,
)
from totalplace.ledger.store import Store


@dataclass(frozen=True)
class RefreshReport:
    years: tuple[str, ...]  # the years computed now
    current: tuple[str, ...]  # the years already current
    rows: int
    seconds: float


def refresh_parts(
    store: Store,
    progress: Callable[[str], None] = lambda _msg: None,
    years: list[str] | None = None,
) -> RefreshReport:
    """Compute and keep the count lines of every year (or of ``years``) whose kept lines are
    missing or stale."""
    start = time.perf_counter()
    done, current, rows = [], [], 0
    for year in available_years(store) if years is None else years:
        if parts.stored_key(store, year) is not None:
            current.append(year)
            continue
        progress(f"count lines of {year}, all England")
        key = parts.PartsKey(year, release_for_year(store, year), best_mid_year(store, year))
        lines, replaced = district_lines_on_demand(store, year)
        rows += parts.write(store, key, lines, replaced)
        done.append(year)
    parts.drop_stale(store)
    return RefreshReport(tuple(done), tuple(current), rows, time.perf_counter() - start)
