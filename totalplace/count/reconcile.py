"""Reconciliation: the tool's count beside the figures the pilots published, with the gap
explained by agency type, and the same count on the published basis (regrouped as the pilots
counted: ``published_basis``) with the remaining gap attributed to named lines. The method is
never tuned to hit the published numbers: what cannot be matched is reported as unexplained."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from totalplace.config import REFERENCE_DIR
from totalplace.count.published_basis import (
    Component,
    amount_of,
    attribute_gap,
    basis_rules,
    gap_text,
    regroup,
)
from totalplace.errors import TotalPlaceError
from totalplace.workspace import Workspace

#: Columns the reconciliation adds for the published basis.
BASIS_COLUMNS = ("basis_groups", "tool_published_basis_gbp", "published_basis_gap_gbp",
                 "gap_attribution", "published_basis")  # fmt: skip


def _measures(reference_dir: Path = REFERENCE_DIR) -> list[dict[str, str]]:
    with (reference_dir / "codes" / "published_measures.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


def _year(text: str) -> str | None:
    t = str(text).strip().removeprefix("c.")
    return t[:7] if len(t) >= 7 and t[4] == "-" else None


def _rule(measure: object) -> dict[str, str] | None:
    return next(
        (m for m in _measures() if m["measure_contains"].lower() in str(measure).lower()), None
    )


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(t for t in (text or "").split("|") if t)


def _components(money: pd.DataFrame, scope: str, year_text: str) -> list[Component]:
    """The published parts of a scope's published total (same scope and year, not a total)."""
    out = []
    for fig in money.itertuples():
        rule = _rule(fig.measure)
        if str(fig.pilot_or_scope) != scope or str(fig.financial_year) != year_text or not rule:
            continue
        groups = _split(rule.get("basis_groups"))
        if groups and groups != ("*",):
            out.append(Component(str(fig.measure), round(float(fig.value) * 100), groups))
    return out


def _basis(
    lines: pd.DataFrame, rule: dict[str, str], published_pence: int, components: list[Component]
) -> dict[str, object]:
    """The published-basis columns of one reconciliation row."""
    regrouped = regroup(lines, basis_rules())
    groups = _split(rule.get("basis_groups")) or ("*",)
    tool = amount_of(regrouped, groups)
    gap = attribute_gap(
        regrouped,
        groups,
        published_pence,
        named_apart=_split(rule.get("named_apart")),
        components=components if groups == ("*",) else (),
    )
    return {
        "basis_groups": " | ".join(groups),
        "tool_published_basis_gbp": tool / 100,
        "published_basis_gap_gbp": (tool - published_pence) / 100,
        "gap_attribution": gap_text(gap),
        "published_basis": {
            "groups": list(groups),
            "tool_gbp": tool / 100,
            "gap_gbp": (tool - published_pence) / 100,
            "gap_lines": [g.to_json() for g in gap],
            "regrouped": [
                {"group": r.group, "amount_gbp": r.amount_pence / 100}
                for r in regrouped.itertuples()
            ],
        },
    }


def reconcile(ws: Workspace, published: pd.DataFrame) -> pd.DataFrame:
    """One row per published money figure: published, tool, difference, and what explains it;
    then the same on the published basis (``BASIS_COLUMNS``): the count regrouped as the pilots
    counted, the gap beside the published figure and its attribution to named lines.

    ``published`` is the mirror's total_place_published_figures.csv.
    """
    pilots = ws.pilots()
    years = set(ws.years())
    rows = []
    money = published[published["unit"] == "GBP"]
    none = dict.fromkeys(BASIS_COLUMNS)
    for fig in money.itertuples():
        scope = str(fig.pilot_or_scope)
        year = _year(str(fig.financial_year))
        rule = _rule(fig.measure)
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
                    **none,
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
                    **none,
                }
            )
            continue
        lines = pd.concat([c.rows for c in counts], ignore_index=True)
        detail = pd.concat([c.lines for c in counts if c.lines is not None], ignore_index=True)
        components = _components(money, scope, str(fig.financial_year))
        basis = _basis(detail, rule, round(float(fig.value) * 100), components)
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
                **basis,
            }
        )
    return pd.DataFrame(rows)
