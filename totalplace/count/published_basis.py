"""The published basis: a count's lines regrouped as the Total Place pilots counted them
(Jobcentre Plus = DWP working-age benefits and employment programmes, pensions apart, the
council apart from police and fire...), so a published figure can be set beside the part of the
count it names and the rest of the gap attributed to named lines.

The groups come from ``data/codes/published_basis.csv``; every line falls in exactly one group,
so the regrouped total is the count's total to the penny. Nothing here is fitted to the
published figures: what the groups cannot match is reported as unexplained.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from totalplace.config import REFERENCE_DIR
from totalplace.errors import TotalPlaceError

BASIS_FILE = Path("codes") / "published_basis.csv"


@dataclass(frozen=True)
class BasisRule:
    """One row of published_basis.csv: lines of ``agency_type`` whose sub-function and
    description match (empty pattern = any) go to ``group``."""

    agency_type: str
    subfunction: str
    description: str
    group: str
    reasoning: str = ""

    def matches(self, agency_type: str, subfunction: str, description: str) -> bool:
        return (
            agency_type == self.agency_type
            and (not self.subfunction or re.search(self.subfunction, subfunction, re.I) is not None)
            and (not self.description or re.search(self.description, description, re.I) is not None)
        )


@lru_cache(maxsize=4)
def basis_rules(reference_dir: Path = REFERENCE_DIR) -> tuple[BasisRule, ...]:
    """The rules of ``data/codes/published_basis.csv``, in order; errors name file and line."""
    path = Path(reference_dir) / BASIS_FILE
    with path.open(encoding="utf-8") as fh:
        lines = [(i, text) for i, text in enumerate(fh, start=1) if not text.startswith("#")]
    reader = csv.DictReader(text for _, text in lines)
    rules = []
    for (number, _), row in zip(lines[1:], reader, strict=False):
        for pattern in (row["subfunction"], row["description"]):
            try:
                re.compile(pattern or "")
            except re.error as exc:
                raise TotalPlaceError(f"{path.name} line {number}: bad pattern ({exc})") from exc
        if not row["agency_type"] or not row["group"]:
            raise TotalPlaceError(f"{path.name} line {number}: a rule needs agency_type and group")
        rules.append(
            BasisRule(
                row["agency_type"],
                row["subfunction"] or "",
                row["description"] or "",
                row["group"],
                row.get("reasoning") or "",
            )
        )
    return tuple(rules)


def _text(values: pd.Series) -> list[str]:
    return ["" if pd.isna(v) else str(v) for v in values]


def basis_groups(lines: pd.DataFrame, rules: Sequence[BasisRule]) -> pd.Series:
    """Each line's published-basis group (the first matching rule's, else its agency type)."""
    names = ("agency_type", "subfunction", "description")
    cols = {c: _text(lines[c]) if c in lines else [""] * len(lines) for c in names}
    memo: dict[tuple[str, str, str], str] = {}
    out = []
    for key in zip(cols["agency_type"], cols["subfunction"], cols["description"], strict=True):
        if key not in memo:
            memo[key] = next((r.group for r in rules if r.matches(*key)), key[0])
        out.append(memo[key])
    return pd.Series(out, index=lines.index, dtype="object")


def regroup(lines: pd.DataFrame, rules: Sequence[BasisRule]) -> pd.DataFrame:
    """The lines' amounts by published-basis group (group, amount_pence), largest first. The
    amounts sum to the lines' total exactly."""
    if lines.empty:
        return pd.DataFrame({"group": pd.Series(dtype="object"), "amount_pence": []})
    frame = pd.DataFrame(
        {"group": basis_groups(lines, rules), "amount_pence": lines["amount_pence"].astype("int64")}
    )
    out = frame.groupby("group", as_index=False)["amount_pence"].sum()
    return out.sort_values(["amount_pence", "group"], ascending=[False, True], ignore_index=True)


def amount_of(regrouped: pd.DataFrame, groups: Iterable[str]) -> int:
    """Pence in ``groups`` ('*' = all) of a ``regroup`` table."""
    wanted = list(groups)
    sel = regrouped if wanted == ["*"] else regrouped[regrouped["group"].isin(wanted)]
    return int(sel["amount_pence"].sum())


@dataclass(frozen=True)
class Component:
    """A published part of a published total (e.g. Birmingham's £3.6bn city council within its
    £7.3bn): its label, published pence and the groups it names."""

    label: str
    published_pence: int
    groups: tuple[str, ...]


@dataclass(frozen=True)
class GapLine:
    """One named line of a gap: ``kind`` is 'not in published' (a group the published figure
    leaves out, outside the gap), 'component' (a published part's own gap), 'rest' (the rest of
    the count beside the rest of a published total) or 'unexplained'."""

    line: str
    amount_pence: int
    kind: str

    def to_json(self) -> dict[str, object]:
        return {"line": self.line, "amount_gbp": self.amount_pence / 100, "kind": self.kind}


def attribute_gap(
    regrouped: pd.DataFrame,
    groups: Sequence[str],
    published_pence: int,
    named_apart: Sequence[str] = (),
    components: Sequence[Component] = (),
) -> list[GapLine]:
    """The gap between the count on the published basis (``groups`` of ``regrouped``) and a
    published figure, attributed to named lines.

    ``named_apart``: groups of the count the published figure leaves out, listed with their
    amounts (they are not in the gap). ``components``: published parts of a published total;
    each part's own gap is one line and the rest of the count is set beside the rest of the
    published total. Whatever the named lines do not explain is the last, 'unexplained' line,
    so the gap lines (all but 'not in published') always sum to the gap.
    """
    out = [
        GapLine(f"{g} (not in the published figure)", amount_of(regrouped, [g]), "not in published")
        for g in named_apart
        if amount_of(regrouped, [g])
    ]
    gap = amount_of(regrouped, groups) - published_pence
    explained = 0
    if components:
        used: set[str] = set()
        for c in components:
            part = amount_of(regrouped, c.groups)
            used |= set(c.groups)
            line = f"{c.label}: count {_bn(part)} vs published {_bn(c.published_pence)}"
            out.append(GapLine(line, part - c.published_pence, "component"))
        rest = regrouped[~regrouped["group"].isin(used)]
        if list(groups) != ["*"]:
            rest = rest[rest["group"].isin(groups)]
        rest_pence = int(rest["amount_pence"].sum())
        rest_pub = published_pence - sum(c.published_pence for c in components)
        largest = ", ".join(f"{r.group} {_bn(r.amount_pence)}" for r in rest.head(4).itertuples())
        line = (
            f"rest of the count {_bn(rest_pence)} ({largest}) vs rest of the published figure "
            f"{_bn(rest_pub)}"
        )
        out.append(GapLine(line, rest_pence - rest_pub, "rest"))
        explained = sum(x.amount_pence for x in out if x.kind != "not in published")
    if components or list(groups) != ["*"]:
        if gap - explained or not components:
            out.append(GapLine("unexplained", gap - explained, "unexplained"))
        return out
    largest = ", ".join(f"{r.group} {_bn(r.amount_pence)}" for r in regrouped.head(4).itertuples())
    line = f"unexplained: no published breakdown to set it against (largest lines: {largest})"
    out.append(GapLine(line, gap, "unexplained"))
    return out


def _bn(pence: int) -> str:
    gbp = pence / 100
    return f"£{gbp / 1e9:,.2f}bn" if abs(gbp) >= 1e9 else f"£{gbp / 1e6:,.0f}m"


def gap_text(lines: Sequence[GapLine]) -> str:
    """The attribution in one sentence (for tables)."""
    return "; ".join(f"{x.line}: {_bn(x.amount_pence)}" for x in lines)
