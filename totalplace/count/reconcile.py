"""Reconciliation: the tool's count beside the figures the pilots published, with the gap
explained by agency type. The method is never tuned to hit the published numbers."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from totalplace.config import REFERENCE_DIR
from totalplace.errors import TotalPlaceError
from totalplace.workspace import Workspace


def _measures(reference_dir: Path = REFERENCE_DIR) -> list[dict[str, str]]:
    with (reference_dir / "codes" / "published_measures.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


def _year(text: str) -> str | None:
    t = str(text).strip().removeprefix("c.")
    return t[:7] if len(t) >= 7 and t[4] == "-" else None


def reconcile(ws: Workspace, published: pd.DataFrame) -> pd.DataFrame:
    """One row per published money figure: published, tool, difference, and what explains it.

    ``published`` is the mirror's total_place_published_figures.csv.
    """
    pilots = ws.pilots()
    years = set(ws.years())
    rows = []
    for fig in published[published["unit"] == "GBP"].itertuples():
        scope = str(fig.pilot_or_scope)
        year = _year(str(fig.financial_year))
        rule = next(
            (m for m in _measures() if m["measure_contains"].lower() in str(fig.measure).lower()),
            None,
        )
        base = {
            "scope": scope,
            "measure": fig.measure,
            "year": fig.financial_year,
            "published_gbp": float(fig.value),
            "status": fig.status,
            "source_url": fig.source_url,
        }
        if rule is None or year is None or year not in years:
            why = (
                "no comparable year in the store"
                if year not in years
                else "no rule maps this measure"
            )
            rows.append(
                {
                    **base,
                    "tool_gbp": None,
                    "difference_gbp": None,
                    "explanation": why,
                    "breakdown": "",
                }
            )
            continue
        names = list(pilots) if scope.startswith("All ") else [scope]
        try:
            counts = [ws.count(n, year) for n in names]
        except TotalPlaceError as exc:
            rows.append(
                {
                    **base,
                    "tool_gbp": None,
                    "difference_gbp": None,
                    "explanation": str(exc),
                    "breakdown": "",
                }
            )
            continue
        lines = pd.concat([c.rows for c in counts], ignore_index=True)
        types = rule["agency_types"].split("|")
        sel = lines if types == ["*"] else lines[lines["agency_type"].isin(types)]
        tool = int(sel["amount_pence"].sum()) / 100
        by_type = (
            sel.groupby("agency_type")["amount_pence"].sum().sort_values(ascending=False) / 100
        )
        breakdown = "; ".join(f"{k}: £{v / 1e6:,.0f}m" for k, v in by_type.head(6).items())
        rows.append(
            {
                **base,
                "tool_gbp": tool,
                "difference_gbp": tool - float(fig.value),
                "explanation": rule["note"],
                "breakdown": breakdown,
            }
        )
    return pd.DataFrame(rows)
