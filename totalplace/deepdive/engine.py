"""Apply a theme's rules to a count's lines: the deep dive for one place, year and theme.

Every theme figure is a sum of *allocations*: one row per (rule, count line) holding the line's
amount and the rule's share of it, so any total can be taken apart into rules and ledger lines
(file and row). A share of a line is truncated toward zero in whole pence, so a rule never
assigns more than its share and rules whose shares sum to at most 100% never assign more than
the line; the remainders (under a penny per rule and line) stay unallocated.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from typing import Any, TypeAlias, TypeVar

import numpy as np
import pandas as pd

from totalplace.count.drivers import builtin_drivers
from totalplace.count.engine import (
    CountOptions,
    apportioned_rows,
    best_mid_year,
    count_place,
)
from totalplace.count.result import CountResult
from totalplace.deepdive.rules import LineText, Rule, Theme, ThemeError
from totalplace.geography.places import Place
from totalplace.ledger.store import Store

#: Count-line columns carried into the allocations (where the count has them).
LINE_COLUMNS = (
    "area_code",
    "area_name",
    "agency",
    "agency_type",
    "function_code",
    "function",
    "subfunction",
    "service_line",
    "spend_kind",
    "description",
    "basis",
    "driver",
    "source_id",
    "file",
    "row",
)
RULE_COLUMNS = ("rule", "mode", "control", "service_type")
#: Columns of ``ThemeBreakdown.by_rule()``.
BY_RULE_COLUMNS = [
    "rule",
    "label",
    "lines",
    "source_rows",
    "source_pence",
    "share",
    "amount_pence",
    "mode",
    "control",
    "service_type",
    "evidence",
]
_T = TypeVar("_T")


@dataclass(frozen=True)
class RuleShare:
    """A rule's share resolved for one place and year, with how it was reached."""

    rule: Rule
    share: Fraction
    text: str
    problem: str | None = None


@dataclass(frozen=True)
class Overlap:
    """Rules that together assign more than 100% of the same lines."""

    rules: tuple[str, ...]
    share: Fraction
    lines: int
    example: str

    def message(self) -> str:
        return (
            f"rules {' + '.join(self.rules)} together assign {float(self.share):.1%} of "
            f"{self.lines:,} line(s), more than 100%; e.g. {self.example}"
        )


@dataclass
class ThemeBreakdown:
    """The deep dive of one theme for a place and year (amounts in exact pence)."""

    theme: Theme
    place_name: str
    year: str
    population: int
    population_total: int
    population_year: int
    count_total_pence: int
    #: One row per (rule, count line): LINE_COLUMNS, RULE_COLUMNS, source_pence, amount_pence.
    allocations: pd.DataFrame
    shares: dict[str, RuleShare]
    relevant_pence: int
    relevant_allocated_pence: int
    overlaps: list[Overlap] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    release: str = ""
    districts: tuple[str, ...] = ()
    #: What has been derived from the allocations (tables, the total), by name: each is
    #: computed once, as the dashboard asks for the same ones on every callback. The breakdown
    #: is read-only once made.
    _memo: dict[tuple[Any, ...], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def _once(self, key: tuple[Any, ...], build: Callable[[], _T]) -> _T:
        """``build()``, computed on first use and kept."""
        if key not in self._memo:
            self._memo[key] = build()
        value: _T = self._memo[key]
        return value

    def _table(self, key: tuple[Any, ...], build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """A derived table, computed once; each caller gets its own copy to change freely."""
        return self._once(key, build).copy()

    # -- headline figures ---------------------------------------------------------------
    @property
    def total_pence(self) -> int:
        return self._once(("total_pence",), self._total_pence)

    def _total_pence(self) -> int:
        a = self.allocations
        return int(a["amount_pence"].sum()) if len(a) else 0

    @property
    def per_head_gbp(self) -> float | None:
        """Theme spend per person of the theme's population (e.g. per person aged 65+)."""
        return self.total_pence / 100 / self.population if self.population else None

    @property
    def unallocated_pence(self) -> int:
        """Relevant spend no rule assigned to the theme."""
        return self.relevant_pence - self.relevant_allocated_pence

    @property
    def unallocated_share(self) -> float | None:
        return self.unallocated_pence / self.relevant_pence if self.relevant_pence else None

    @property
    def outside_relevant_pence(self) -> int:
        """Theme spend from lines outside the theme's 'relevant' definition."""
        return self.total_pence - self.relevant_allocated_pence

    @property
    def errors(self) -> list[str]:
        return [o.message() for o in self.overlaps] + self.problems

    # -- tables -----------------------------------------------------------------------------
    def _group(self, keys: list[str]) -> pd.DataFrame:
        a = self.allocations
        out = _sum(a, keys)
        total = self.total_pence
        out["share"] = out["amount_pence"] / total if total else 0.0
        return out

    def by_agency(self) -> pd.DataFrame:
        """agency_type, agency, amount_pence, share (of the theme total)."""
        return self._table(("by_agency",), lambda: self._group(["agency_type", "agency"]))

    def by_function(self) -> pd.DataFrame:
        """function, line (service line, else sub-function), amount_pence, share."""
        return self._table(("by_function",), self._by_function)

    def _by_function(self) -> pd.DataFrame:
        a = self.allocations
        line = a["service_line"].where(a["service_line"].notna(), a["subfunction"])
        a = pd.DataFrame(
            {
                "function": a["function"],
                "line": line.where(line.notna(), "(no finer function)"),
                "amount_pence": a["amount_pence"],
            }
        )
        out = _sum(a, ["function", "line"])
        out["share"] = out["amount_pence"] / self.total_pence if self.total_pence else 0.0
        return out

    def split(self, column: str) -> pd.DataFrame:
        """Theme spend by 'mode' (reactive / preventative) or 'control' (local / national)."""
        return self._table(("split", column), lambda: self._group([column]))

    def by_rule(self) -> pd.DataFrame:
        """Per rule: lines matched, source rows, source amount, share, theme amount, evidence."""
        return self._table(("by_rule",), self._by_rule)

    def _by_rule(self) -> pd.DataFrame:
        """One pass over the allocations, per rule (rules in theme order; none matched: 0)."""
        counts = _per_rule(self.allocations)
        ids = list(self.shares)
        empty = _RuleCounts()
        per = [counts.get(rid, empty) for rid in ids]
        rules = [rs.rule for rs in self.shares.values()]
        return pd.DataFrame(
            {
                "rule": ids,
                "label": [r.label for r in rules],
                "lines": [c.lines for c in per],
                "source_rows": [len(c.source_rows) for c in per],
                "source_pence": [c.source_pence for c in per],
                "share": [rs.text for rs in self.shares.values()],
                "amount_pence": [c.amount_pence for c in per],
                "mode": [r.mode for r in rules],
                "control": [r.control for r in rules],
                "service_type": [r.service_type for r in rules],
                "evidence": [r.evidence for r in rules],
            },
            columns=BY_RULE_COLUMNS,
        )

    def top_lines(self, rule_id: str, n: int = 5) -> pd.DataFrame:
        """A rule's largest source lines (summed over the place's districts), file and row."""
        return self._table(("top_lines", rule_id, n), lambda: self._top_lines(rule_id, n))

    def _top_lines(self, rule_id: str, n: int) -> pd.DataFrame:
        sel = self.allocations[self.allocations["rule"] == rule_id]
        keys = ["file", "row", "agency", "agency_type", "description", "service_line"]
        out = sel.groupby(keys, dropna=False, as_index=False)[
            ["source_pence", "amount_pence"]
        ].sum()
        order = out["amount_pence"].abs().sort_values(ascending=False).index
        return out.loc[order].head(n).reset_index(drop=True)

    def pooling(self) -> pd.DataFrame:
        """Per service type and agency type: amount, agencies, and whether the service type is
        a pooling candidate (two or more agency types spend on it)."""
        return self._table(("pooling",), self._pooling)

    def _pooling(self) -> pd.DataFrame:
        a = self.allocations
        keys = ["service_type", "agency_type"]
        out = _group_sum(a, keys, dropna=True)
        names: dict[tuple[Any, Any], set[str]] = {}
        pairs = zip(a[keys[0]].tolist(), a[keys[1]].tolist(), strict=True)
        for key, agency in zip(pairs, a["agency"].tolist(), strict=True):
            names.setdefault(key, set()).add(str(agency))
        services, types = out[keys[0]].tolist(), out[keys[1]].tolist()
        out["agencies"] = ["; ".join(sorted(names[k])) for k in zip(services, types, strict=True)]
        types_of: dict[Any, set[Any]] = {}
        size_of: dict[Any, int] = {}
        for service, kind, amount in zip(services, types, out["amount_pence"], strict=True):
            types_of.setdefault(service, set()).add(kind)
            size_of[service] = size_of.get(service, 0) + int(amount)
        out["candidate"] = [len(types_of[s]) >= 2 for s in services]
        size = pd.array([size_of[s] for s in services], dtype="int64")
        return (
            out.assign(_size=size)
            .sort_values(["candidate", "_size", "amount_pence"], ascending=False, ignore_index=True)
            .drop(columns="_size")
        )

    def explain(self, n: int = 5) -> list[dict[str, Any]]:
        """Per rule: what it matched, its share, its theme amount and its top lines."""
        out: list[dict[str, Any]] = []
        for rec in self.by_rule().to_dict("records"):
            r = {str(k): v for k, v in rec.items()}
            top = self.top_lines(str(r["rule"]), n)
            r["top_lines"] = [
                {
                    "file": t["file"],
                    "row": int(t["row"]),
                    "agency": t["agency"],
                    "description": _opt(t["description"]),
                    "service_line": _opt(t["service_line"]),
                    "source_pence": int(t["source_pence"]),
                    "amount_pence": int(t["amount_pence"]),
                }
                for t in top.to_dict("records")
            ]
            r["match"] = self.theme.rule(str(r["rule"])).match.describe()
            problem = self.shares[str(r["rule"])].problem
            if problem:
                r["problem"] = problem
            out.append(r)
        return out

    def summary(self) -> dict[str, Any]:
        """Headline figures as plain values (pence as ints)."""
        return {
            "place": self.place_name,
            "year": self.year,
            "theme": self.theme.id,
            "theme_name": self.theme.name,
            "release": self.release,
            "total_pence": self.total_pence,
            "count_total_pence": self.count_total_pence,
            "share_of_count": (
                self.total_pence / self.count_total_pence if self.count_total_pence else None
            ),
            "population_driver": self.theme.population,
            "population": self.population,
            "population_total": self.population_total,
            "population_year": self.population_year,
            "per_head_gbp": self.per_head_gbp,
            "relevant": self.theme.relevant_text(),
            "relevant_pence": self.relevant_pence,
            "unallocated_pence": self.unallocated_pence,
            "unallocated_share": self.unallocated_share,
            "outside_relevant_pence": self.outside_relevant_pence,
        }

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the deep dive, by name (for CSV / XLSX output)."""
        checks = pd.DataFrame(
            {
                "kind": ["error"] * len(self.errors) + ["caveat"] * len(self.caveats),
                "message": self.errors + self.caveats,
            }
        )
        return {
            "summary": pd.DataFrame(list(self.summary().items()), columns=["item", "value"]),
            "by_agency": self.by_agency(),
            "by_function": self.by_function(),
            "mode": self.split("mode"),
            "control": self.split("control"),
            "pooling": self.pooling(),
            "rules": self.by_rule(),
            "checks": checks,
            "lines": self.allocations,
        }

    def to_json(self, explain: bool = False, top: int = 5) -> dict[str, Any]:
        """One JSON-able object; ``explain`` adds each rule's top lines."""

        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [{str(k): _jsonable(v) for k, v in r.items()} for r in df.to_dict("records")]

        out: dict[str, Any] = {
            **{k: _jsonable(v) for k, v in self.summary().items()},
            "total_gbp": self.total_pence / 100,
            "districts": list(self.districts),
            "by_agency": records(self.by_agency()),
            "by_function": records(self.by_function()),
            "splits": {
                "mode": records(self.split("mode")),
                "control": records(self.split("control")),
            },
            "pooling": records(self.pooling()),
            "rules": (
                [{k: _jsonable(v) for k, v in r.items()} for r in self.explain(top)]
                if explain
                else records(self.by_rule())
            ),
            "errors": self.errors,
            "caveats": self.caveats,
            "theme_sources": list(self.theme.sources),
        }
        return out


@dataclass
class _RuleCounts:
    """What one rule's allocations add up to (``ThemeBreakdown.by_rule``)."""

    lines: int = 0
    source_pence: int = 0
    amount_pence: int = 0
    source_rows: set[tuple[Any, Any]] = field(default_factory=set)


def _per_rule(alloc: pd.DataFrame) -> dict[str, _RuleCounts]:
    """Allocations counted per rule in one pass: lines, distinct source (file, row) pairs
    (missing file or row read as one value, as ``drop_duplicates`` does) and exact sums."""
    out: dict[str, _RuleCounts] = {}
    columns = [alloc[c].tolist() for c in ("rule", "file", "row", "source_pence", "amount_pence")]
    for rid, file, row, source, amount in zip(*columns, strict=True):
        c = out.setdefault(str(rid), _RuleCounts())
        c.lines += 1
        c.source_pence += int(source)
        c.amount_pence += int(amount)
        c.source_rows.add((None if _opt(file) is None else file, None if pd.isna(row) else row))
    return out


def _sum(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``amount_pence`` summed by ``keys`` (missing values kept as a group), largest first."""
    out = _group_sum(frame, keys, dropna=False)
    return out.sort_values("amount_pence", ascending=False, ignore_index=True)


def _group_sum(frame: pd.DataFrame, keys: list[str], dropna: bool) -> pd.DataFrame:
    """``frame.groupby(keys, dropna=dropna, as_index=False)["amount_pence"].sum()``.

    Groups come in key order, missing values last (or dropped). When the keys are text and
    the amounts int64 (as in allocations), the sums are taken in plain Python: the tables have
    a few hundred rows at most, where pandas' fixed cost per call is most of the time.
    """
    text_keys = all(isinstance(frame[k].dtype, pd.StringDtype) for k in keys)
    if frame.empty or not text_keys or frame["amount_pence"].dtype != np.int64:
        return frame.groupby(keys, dropna=dropna, as_index=False)["amount_pence"].sum()
    sums: dict[tuple[str | None, ...], int] = {}
    columns = [[v if isinstance(v, str) else None for v in frame[k].tolist()] for k in keys]
    for *key, amount in zip(*columns, frame["amount_pence"].tolist(), strict=True):
        if dropna and None in key:
            continue
        sums[tuple(key)] = sums.get(tuple(key), 0) + amount
    ordered = sorted(sums, key=lambda k: tuple((v is None, v or "") for v in k))
    out = {k: pd.array([g[i] for g in ordered], dtype=frame[k].dtype) for i, k in enumerate(keys)}
    return pd.DataFrame(out | {"amount_pence": pd.array([sums[g] for g in ordered], "int64")})


def _opt(v: Any) -> str | None:
    return None if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA else str(v)


def _jsonable(v: Any) -> Any:
    if isinstance(v, bool | str) or v is None:
        return v
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, int | float):
        return None if isinstance(v, float) and pd.isna(v) else v
    if hasattr(v, "item"):
        return v.item()
    return None if pd.isna(v) else str(v)


# -- applying rules --------------------------------------------------------------------------


def part(amount: int, share: Fraction) -> int:
    """``share`` of ``amount`` pence, truncated toward zero (never more than the share)."""
    whole = abs(amount) * share.numerator // share.denominator
    return whole if amount >= 0 else -whole


#: Largest magnitude int64 arithmetic holds; beyond it ``parts`` works in Python integers.
_INT64_MAX = int(np.iinfo(np.int64).max)


def parts(amounts: np.ndarray, share: Fraction) -> np.ndarray:
    """``part`` of every amount (int64 pence), vectorised; exact for any share.

    ``abs(amount) * numerator`` can pass int64 for a ratio share (a fraction of two sums of
    pence), so the products are checked first and taken in Python integers when they could.
    """
    amounts = np.asarray(amounts, dtype=np.int64)
    if not len(amounts):
        return amounts.copy()
    biggest = max(abs(int(amounts.max())), abs(int(amounts.min())))
    if biggest * share.numerator > _INT64_MAX or share.denominator > _INT64_MAX:
        return np.array([part(int(a), share) for a in amounts], dtype=np.int64)
    whole = np.abs(amounts) * share.numerator // share.denominator
    return np.where(amounts >= 0, whole, -whole)


def resolve_share(
    rule: Rule, populations: Mapping[str, int], reference: pd.DataFrame | LineText
) -> RuleShare:
    """The rule's share for this place: fixed, a population share, or a CRA ratio."""
    s = rule.share
    if s.fixed is not None:
        return RuleShare(rule, s.fixed, f"{float(s.fixed):.1%}")
    if s.driver is not None:
        n, total = populations.get(s.driver), populations.get("population")
        if n is None or not total:
            raise ThemeError(f"rule {rule.id!r}: no population for driver {s.driver!r}")
        label = builtin_drivers()[s.driver].population_label
        return RuleShare(rule, Fraction(n, total), f"{n / total:.1%} ({label}: {n:,} of {total:,})")
    assert s.numerator is not None and s.denominator is not None
    ref = reference if isinstance(reference, LineText) else LineText(reference)
    amounts = ref.frame["amount_pence"]
    num = int(amounts[s.numerator.hits(ref)].sum())
    den = int(amounts[s.denominator.hits(ref)].sum())
    text = f"£{num / 100:,.0f} / £{den / 100:,.0f} in the place's CRA lines"
    if den == 0 or not 0 <= Fraction(num, den) <= 1:
        return RuleShare(
            rule,
            Fraction(0),
            text,
            problem=(
                f"rule {rule.id!r}: share_ratio cannot be used here ({text}); nothing allocated"
            ),
        )
    share = Fraction(num, den)
    return RuleShare(rule, share, f"{float(share):.1%} ({text})")


#: The lines ``share_ratio`` rules are measured on, or a function giving them (called at most
#: once, and only when a ratio rule matched a line: they can be costly to compute).
Reference: TypeAlias = pd.DataFrame | Callable[[], pd.DataFrame] | None


class _LazyReference:
    """The reference lines' text, computed on first use."""

    def __init__(self, reference: Reference, lines: LineText) -> None:
        self._given = reference
        self._lines = lines
        self._text: LineText | None = None

    def text(self) -> LineText:
        if self._text is None:
            given = self._given
            if given is None:
                self._text = self._lines
            else:
                self._text = LineText(given if isinstance(given, pd.DataFrame) else given())
        return self._text


def allocate(
    lines: pd.DataFrame,
    theme: Theme,
    populations: Mapping[str, int],
    reference: Reference = None,
) -> tuple[pd.DataFrame, dict[str, RuleShare], list[Overlap]]:
    """Allocations (one row per rule and matched line), resolved shares and overlaps.

    ``lines`` is a count's detail (``CountResult.lines``); ``populations`` maps driver names
    (and 'population') to persons in the place; ``reference`` holds the lines ``share_ratio``
    rules are measured on (default: ``lines``), or a function returning them.
    """
    lines = _conform(lines)
    return _allocate(lines, LineText(lines), theme, populations, reference)


def _allocate(
    lines: pd.DataFrame,
    text: LineText,
    theme: Theme,
    populations: Mapping[str, int],
    reference: Reference,
) -> tuple[pd.DataFrame, dict[str, RuleShare], list[Overlap]]:
    """``allocate`` on conformed lines and their text (shared with the relevant mask).

    Each rule's matched rows are found on the shared text, then every rule's rows are taken
    from ``lines`` in one go (rule by rule, in line order, as one concatenation per rule would)
    and their theme amounts computed per rule with ``parts``.
    """
    ref = _LazyReference(reference, text)
    amounts = _pence(lines["amount_pence"])
    shares: dict[str, RuleShare] = {}
    ids: list[np.ndarray] = []
    theme_pence: list[np.ndarray] = []
    for rule in theme.rules:
        hit = rule.match.hits(text)
        needs_share = bool(hit.any()) or rule.share.kind != "ratio"
        rs = (
            resolve_share(rule, populations, ref.text() if rule.share.kind == "ratio" else text)
            if needs_share
            else RuleShare(rule, Fraction(0), "not needed: no line matched")
        )
        shares[rule.id] = rs
        matched = np.flatnonzero(hit)
        ids.append(matched)
        theme_pence.append(parts(amounts[matched], rs.share))
    alloc = _allocation_frame(lines, theme, ids, amounts, theme_pence)
    return alloc, shares, overlaps(alloc, shares, lines)


def _pence(amounts: pd.Series) -> np.ndarray:
    """Amounts as int64 pence (whole numbers, as ``int`` reads them)."""
    if pd.api.types.is_integer_dtype(amounts.dtype) and not amounts.isna().any():
        return amounts.to_numpy(dtype=np.int64)
    return np.array([int(a) for a in amounts], dtype=np.int64)


def _allocation_frame(
    lines: pd.DataFrame,
    theme: Theme,
    ids: list[np.ndarray],
    amounts: np.ndarray,
    theme_pence: list[np.ndarray],
) -> pd.DataFrame:
    """The allocations frame: LINE_COLUMNS, line_id, source_pence, amount_pence and
    RULE_COLUMNS, one row per (rule, matched line), rules in theme order."""
    cols = list(LINE_COLUMNS)
    every = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    if not len(every):
        return pd.DataFrame(
            {c: pd.Series(dtype=object) for c in [*cols, "line_id", *RULE_COLUMNS]}
        ).assign(source_pence=pd.Series(dtype="int64"), amount_pence=pd.Series(dtype="int64"))
    alloc = lines[cols].take(every).reset_index(drop=True)
    alloc["line_id"] = every.astype(np.int64)
    alloc["source_pence"] = pd.array(amounts[every], dtype="int64")
    alloc["amount_pence"] = pd.array(np.concatenate(theme_pence), dtype="int64")
    rule_of_row = np.repeat(np.arange(len(theme.rules)), [len(i) for i in ids])
    for c in RULE_COLUMNS:
        values = pd.array([r.id if c == "rule" else getattr(r, c) for r in theme.rules], dtype=str)
        alloc[c] = values.take(rule_of_row)
    return alloc


def _conform(lines: pd.DataFrame) -> pd.DataFrame:
    """``lines`` indexed 0..n-1 with every LINE_COLUMNS column (missing ones empty: a count
    without councils' outturn has no service_line, for example)."""
    out = lines.reset_index(drop=True)
    missing = [c for c in LINE_COLUMNS if c not in out.columns]
    return out.assign(**{c: None for c in missing}) if missing else out


def overlaps(
    alloc: pd.DataFrame, shares: Mapping[str, RuleShare], lines: pd.DataFrame
) -> list[Overlap]:
    """Groups of rules whose shares of the same line sum above 100%."""
    if alloc.empty:
        return []
    rules_of: dict[int, list[str]] = {}
    for line_id, rid in zip(alloc["line_id"], alloc["rule"], strict=True):
        rules_of.setdefault(int(line_id), []).append(str(rid))
    lines_of: dict[tuple[str, ...], list[int]] = {}
    for line_id, rids in rules_of.items():
        if len(rids) > 1:
            lines_of.setdefault(tuple(sorted(rids)), []).append(line_id)
    found = []
    for combo, ids in lines_of.items():
        total = sum((shares[r].share for r in combo), Fraction(0))
        if total > 1:
            found.append(Overlap(combo, total, len(ids), _line_text(lines.iloc[ids[0]])))
    return found


def _line_text(line: pd.Series) -> str:
    what = " / ".join(
        str(line[c])
        for c in ("agency", "description", "service_line")
        if c in line and _opt(line[c])
    )
    return f"{line.get('file')} row {line.get('row')}: {what} ({line.get('area_code')})"


def breakdown(
    lines: pd.DataFrame,
    theme: Theme,
    populations: Mapping[str, int],
    *,
    place_name: str,
    year: str,
    population_year: int,
    reference: Reference = None,
    count_total_pence: int | None = None,
    release: str = "",
    districts: tuple[str, ...] = (),
    caveats: list[str] | None = None,
    text: LineText | None = None,
) -> ThemeBreakdown:
    """The deep dive from count lines (pure: no store). See ``deep_dive`` for a place.

    ``text`` is ``LineText(lines)`` when the caller keeps it for several themes of the same
    lines (``deep_dive`` does, per count), so their text is read once.
    """
    lines = _conform(lines)
    text = text or LineText(lines)
    alloc, shares, found = _allocate(lines, text, theme, populations, reference)
    relevant = theme.relevant_mask(text).to_numpy()
    line_ids = alloc["line_id"].to_numpy(dtype=np.int64)
    relevant_allocated = alloc["amount_pence"].to_numpy(dtype=np.int64)[relevant[line_ids]]
    problems = [s.problem for s in shares.values() if s.problem]
    notes = list(caveats or [])
    notes.append(
        f"Theme population: {builtin_drivers()[theme.population].population_label} "
        f"in mid-{population_year}."
    )
    notes += list(theme.notes)
    return ThemeBreakdown(
        theme=theme,
        place_name=place_name,
        year=year,
        population=int(populations.get(theme.population, 0)),
        population_total=int(populations.get("population", 0)),
        population_year=population_year,
        count_total_pence=(
            int(lines["amount_pence"].sum()) if count_total_pence is None else count_total_pence
        ),
        allocations=alloc,
        shares=shares,
        relevant_pence=int(lines.loc[relevant, "amount_pence"].sum()),
        relevant_allocated_pence=int(relevant_allocated.sum()),
        overlaps=found,
        problems=problems,
        caveats=notes,
        release=release,
        districts=districts,
    )


# -- for a place, from the store -------------------------------------------------------------


def driver_populations(
    store: Store, districts: list[str], mid_year: int, names: set[str]
) -> dict[str, int]:
    """Persons in ``districts`` for each built-in driver in ``names`` (and 'population').

    One query for persons by single year of age, summed per driver's age band here (what
    ``population_of`` sums in SQL, without a query per driver).
    """
    known = builtin_drivers()
    by_age = store.query(
        "SELECT age, sum(persons)::BIGINT AS n FROM population "
        "WHERE mid_year = ? AND list_contains(?, area_code) GROUP BY age",
        [mid_year, districts],
    )
    ages = [int(a) for a in by_age["age"]]
    persons = [int(n) for n in by_age["n"]]

    def aged(lo: int, hi: int) -> int:
        return sum(n for a, n in zip(ages, persons, strict=True) if lo <= a <= hi)

    out = {"population": aged(0, 999)}
    for name in names - {"population"}:
        d = known[name]
        out[name] = aged(d.age_min or 0, d.age_max if d.age_max is not None else 999)
    return out


def _drivers_of(theme: Theme) -> set[str]:
    return {theme.population} | {r.share.driver for r in theme.rules if r.share.driver}


def breakdown_in_prices(result: ThemeBreakdown, factor: float, base_year: str) -> ThemeBreakdown:
    """``result`` with every amount multiplied by ``factor`` into ``base_year`` prices (whole
    pence; shares unchanged), a caveat saying so."""
    from totalplace.count.deflators import prices_caveat, scaled_copy

    out = scaled_copy(
        result,
        factor,
        ["allocations"],
        ["count_total_pence", "relevant_pence", "relevant_allocated_pence"],
    )
    out.caveats = [prices_caveat(result.year, factor, base_year), *result.caveats]
    return out


def deep_dive(
    store: Store,
    place: Place,
    year: str,
    theme: Theme,
    options: CountOptions | None = None,
    count: CountResult | None = None,
) -> ThemeBreakdown:
    """The deep dive of ``theme`` for ``place`` and ``year`` (reuses ``count`` if given)."""
    opts = options or CountOptions()
    result = count or count_place(store, place, year, opts)
    if result.lines is None:
        raise ThemeError("the count has no detail lines to apply theme rules to")
    lines = result.lines
    shared = _shared(lines)
    mid_year = opts.mid_year or _keep(
        shared, ("mid_year", year), partial(best_mid_year, store, year)
    )
    districts = list(place.districts)
    drivers = _drivers_of(theme)
    populations = _keep(
        shared,
        ("populations", mid_year, tuple(districts), frozenset(drivers)),
        partial(driver_populations, store, districts, mid_year, drivers),
    )
    reference: Reference = None
    if any(r.share.kind == "ratio" for r in theme.rules):
        if result.cra_lines is not None:  # kept by the count: nothing to recompute
            cra_lines = result.cra_lines
            reference = cra_lines[cra_lines["area_code"].isin(districts)].reset_index(drop=True)
        else:
            reference = partial(_cra_lines, store, year, lines, districts, opts)
    return breakdown(
        lines,
        theme,
        populations,
        place_name=place.name,
        year=year,
        population_year=mid_year,
        reference=reference,
        count_total_pence=result.total_pence,
        release=result.release,
        districts=tuple(districts),
        caveats=list(result.caveats),
        text=_keep(shared, ("text",), partial(LineText, lines)),
    )


#: What every theme of one count shares, per count: id of the count's lines -> (a weak
#: reference to those lines, a dict of what was derived from them). An entry goes when its
#: count's lines are garbage-collected. (Plain dict operations: atomic, so no lock, which a
#: weakref callback could not safely take.)
_PER_COUNT: dict[int, tuple[weakref.ref[pd.DataFrame], dict[Any, Any]]] = {}


def _shared(lines: pd.DataFrame) -> dict[Any, Any]:
    """A dict that lives as long as ``lines``, a count's detail: what was derived from the
    count (its lines' text, the population mid-year and populations, the place's CRA lines)
    depends only on what the count itself was computed from (store, place, year, options), so
    every theme of the count can share it."""
    key = id(lines)
    hit = _PER_COUNT.get(key)
    if hit is not None and hit[0]() is lines:
        return hit[1]
    kept: dict[Any, Any] = {}
    _PER_COUNT[key] = (weakref.ref(lines, partial(_forget, _PER_COUNT, key)), kept)
    return kept


def _keep(shared: dict[Any, Any], key: Any, build: Callable[[], _T]) -> _T:
    """``shared[key]``, built on first use."""
    if key not in shared:
        shared[key] = build()
    value: _T = shared[key]
    return value


def _forget(memo: dict[int, Any], key: int, _gone: object) -> None:
    """Drop a count's shared entry once its lines are gone (``memo`` is bound, not looked up:
    at interpreter exit the module's globals may already be gone)."""
    memo.pop(key, None)


def _cra_lines(
    store: Store, year: str, lines: pd.DataFrame, districts: list[str], opts: CountOptions
) -> pd.DataFrame:
    """The place's CRA lines before councils' outturn replaced any (for ``share_ratio``).

    The region's CRA is still shared among all its districts (the rounding needs them), but
    only the place's own districts' parts are returned (``keep``), and the answer is kept for
    the other themes of the same count.
    """
    if not (lines["basis"] == "actual").any():
        return lines

    def compute() -> pd.DataFrame:
        regions = sorted({str(r) for r in lines["region_code"].dropna()})
        cra = apportioned_rows(store, year, regions=regions, options=opts, keep=list(districts))
        return cra[cra["area_code"].isin(districts)].reset_index(drop=True)

    return _keep(_shared(lines), ("cra", year, tuple(districts), opts.key()), compute)
