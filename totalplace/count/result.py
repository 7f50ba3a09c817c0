"""What a count returns: figures with their basis, driver and source, ready for any output."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: Columns of CountResult.rows (one row per agency type x function x basis x driver x source).
COUNT_ROW_COLUMNS = (
    "agency_type",
    "function_code",
    "function",
    "basis",
    "driver",
    "source_id",
    "release",
    "amount_pence",
)
#: What tells one count row from another (the engine groups the count's lines by these).
ROW_KEY = (*(c for c in COUNT_ROW_COLUMNS if c != "amount_pence"), "confidence")
#: Columns of CountResult.districts (the place's districts with their share of the count).
DISTRICT_COLUMNS = ("area_code", "area_name", "region_code", "population", "amount_pence")


def row_id(values: dict[str, Any]) -> str:
    """A count row's id: a digest of its ``ROW_KEY`` values (stable across runs and caches), by
    which its source lines are asked for (``totalplace.count.provenance``)."""
    key = [None if is_missing(values.get(c)) else str(values.get(c)) for c in ROW_KEY]
    return hashlib.sha256(json.dumps(key).encode("utf-8")).hexdigest()[:12]


def row_ids(frame: pd.DataFrame) -> pd.Series:
    """The row id of every row of ``frame``: count rows, or count lines (same key columns)."""
    cols = [c for c in ROW_KEY if c in frame.columns]
    records = frame[cols].astype("object").to_dict("records")
    return pd.Series([row_id(r) for r in records], index=frame.index, dtype="object")


def is_missing(value: Any) -> bool:
    """None or NaN/NA (a blank cell), but not an empty string."""
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


@dataclass
class CountResult:
    """A high-level count for one place and year.

    ``rows``: the count by agency type and function (amounts in pence, exact).
    ``districts``: the count by district of the place (same total).
    ``reported_by_councils``: councils' own outturn (RS) for the place, shown beside the count
    ("of which reported by councils"); ``None`` where the year has no outturn in the store.
    ``caveats``: sentences a person must read with the figures (missing data, driver years).
    """

    place_name: str
    place_codes: tuple[str, ...]
    year: str
    population: int
    population_year: int
    release: str
    rows: pd.DataFrame
    districts: pd.DataFrame
    reported_by_councils: pd.DataFrame | None = None
    #: How the population (and so per head) was obtained, in words.
    population_basis: str = ""
    #: Real terms (base_year, factor, total_gbp, per_head_gbp, source) when deflators are loaded.
    real_terms: dict[str, Any] | None = None
    caveats: list[str] = field(default_factory=list)
    #: CRA lines that councils' own outturn replaced (agency_type, function, amount_pence).
    replaced: pd.DataFrame | None = None
    #: The count's detail: one row per source line and district, with provenance.
    lines: pd.DataFrame | None = None
    #: Transfers between bodies in the count, eliminated so money is counted once
    #: (payer, payee, function_code, amount_pence, reason, source).
    eliminated: pd.DataFrame | None = None
    #: The place's CRA lines as apportioned, before councils' outturn or agencies' returns
    #: replaced any (what a deep dive's share-of-CRA rules measure against); ``None`` when
    #: nothing was replaced (then they are the apportioned ``lines``).
    cra_lines: pd.DataFrame | None = None

    @property
    def total_pence(self) -> int:
        return int(self.rows["amount_pence"].sum()) if len(self.rows) else 0

    @property
    def total_gbp(self) -> float:
        return self.total_pence / 100

    @property
    def per_head_gbp(self) -> float | None:
        return self.total_gbp / self.population if self.population else None

    def by(self, column: str) -> pd.DataFrame:
        """Totals by one column of ``rows`` (e.g. 'agency_type'), largest first."""
        out = self.rows.groupby(column, dropna=False, as_index=False)["amount_pence"].sum()
        return out.sort_values("amount_pence", ascending=False, ignore_index=True)

    def to_json(self) -> dict[str, Any]:
        """One JSON-able object (the CLI's ``--format json``)."""
        rows = [
            {
                "row_id": rid,
                "agency_type": r.agency_type,
                "function_code": r.function_code,
                "function": r.function,
                "basis": r.basis,
                "driver": r.driver,
                "source_id": r.source_id,
                "release": r.release,
                "amount_gbp": r.amount_pence / 100,
            }
            for r, rid in zip(self.rows.itertuples(), row_ids(self.rows), strict=True)
        ]
        councils = None
        if self.reported_by_councils is not None:
            councils = {
                "total_gbp": int(self.reported_by_councils["amount_pence"].sum()) / 100,
                "rows": [
                    {
                        ("amount_gbp" if k == "amount_pence" else k): (
                            v / 100 if k == "amount_pence" else v
                        )
                        for k, v in r.items()
                    }
                    for r in self.reported_by_councils.to_dict("records")
                ],
            }
        return {
            "place": self.place_name,
            "districts": list(self.place_codes),
            "year": self.year,
            "release": self.release,
            "population": self.population,
            "population_year": self.population_year,
            "population_basis": self.population_basis,
            "real_terms": self.real_terms,
            "total_gbp": self.total_gbp,
            "per_head_gbp": self.per_head_gbp,
            "rows": rows,
            "reported_by_councils": councils,
            "eliminated": None
            if self.eliminated is None
            else [
                {k: v for k, v in r.items() if k != "amount_pence"}
                | {"amount_gbp": r["amount_pence"] / 100}
                for r in self.eliminated.to_dict("records")
            ],
            "caveats": self.caveats,
        }
