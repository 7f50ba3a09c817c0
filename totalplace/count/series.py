"""A place's count as a time series, with the breaks a reader must see.

The figures of different years are not all alike: HM Treasury's CRA comes in releases (CRA 2010
covers the earlier years, CRA 2014 the later ones, each with its own methods and revisions),
and for some years councils' own revenue outturn replaces CRA's local-government spend. A
series built here carries, for each year, the release used and whether outturn is in, and
``series_breaks`` names the years where either changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from totalplace.count.result import CountResult

#: Columns of ``count_series`` (amounts in cash; ``outturn``: councils' outturn in the count).
SERIES_COLUMNS = (
    "name",
    "year",
    "population",
    "population_year",
    "amount_pence",
    "amount_gbp",
    "per_head_gbp",
    "release",
    "outturn",
)
_RELEASE = re.compile(r"Country and Regional Analysis (\d{4})")


def release_short(label: str) -> str:
    """'HM Treasury: Country and Regional Analysis 2014 combined database' -> 'CRA 2014'."""
    m = _RELEASE.search(label)
    return f"CRA {m.group(1)}" if m else label


def count_series(counts: Iterable[CountResult]) -> pd.DataFrame:
    """One row per count (one place, one year each), oldest year first: SERIES_COLUMNS. The
    amounts are the counts' own totals, to the penny."""
    rows = [
        {
            "name": c.place_name,
            "year": c.year,
            "population": c.population,
            "population_year": c.population_year,
            "amount_pence": c.total_pence,
            "amount_gbp": c.total_pence / 100,
            "per_head_gbp": c.total_pence / 100 / c.population if c.population else None,
            "release": release_short(c.release),
            "outturn": c.reported_by_councils is not None,
        }
        for c in counts
    ]
    frame = pd.DataFrame(rows, columns=list(SERIES_COLUMNS))
    frame = frame.astype({"amount_pence": "int64", "per_head_gbp": "float64", "outturn": bool})
    return frame.sort_values("year", ignore_index=True)


@dataclass(frozen=True)
class SeriesBreak:
    """Between ``before`` and ``after`` (consecutive years) the basis of the figures changes."""

    kind: str  # 'release' | 'outturn'
    before: str
    after: str
    text: str


def series_breaks(series: pd.DataFrame) -> list[SeriesBreak]:
    """Where the CRA release changes and where councils' own outturn starts or stops
    replacing CRA, between consecutive years of ``series`` (one place's ``count_series``)."""
    s = series.sort_values("year", ignore_index=True)
    out: list[SeriesBreak] = []
    for prev, cur in zip(s.iloc[:-1].itertuples(), s.iloc[1:].itertuples(), strict=True):
        if prev.release != cur.release:
            out.append(
                SeriesBreak(
                    "release",
                    str(prev.year),
                    str(cur.year),
                    f"{prev.release} release to {prev.year}, {cur.release} from {cur.year}",
                )
            )
        if prev.outturn != cur.outturn:
            text = (
                f"councils' own outturn replaces CRA from {cur.year}"
                if cur.outturn
                else f"councils' own outturn replaces CRA to {prev.year} only"
            )
            out.append(SeriesBreak("outturn", str(prev.year), str(cur.year), text))
    return out
