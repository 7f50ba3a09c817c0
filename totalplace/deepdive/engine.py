"""Apply a theme's rules to a count's lines: the deep dive for one place, year and theme.

Every theme figure is a sum of *allocations*: one row per (rule, count line) holding the line's
amount and the rule's share of it, so any total can be taken apart into rules and ledger lines
(file and row). A share of a line is truncated toward zero in whole pence, so a rule never
assigns more than its share and rules whose shares sum to at most 100% never assign more than
the line; the remainders (under a penny per rule and line) stay unallocated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pandas as pd

from totalplace.count.drivers import builtin_drivers
from totalplace.count.engine import (
    CountOptions,
    apportioned_rows,
    best_mid_year,
    count_place,
    population_of,
)
from totalplace.count.result import CountResult
from totalplace.deepdive.rules import Rule, Theme, ThemeError
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

    # -- headline figures ---------------------------------------------------------------
    @property
    def total_pence(self) -> int:
        return int(self.allocations["amount_pence"].sum()) if len(self.allocations) else 0

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
        return self._group(["agency_type", "agency"])

    def by_function(self) -> pd.DataFrame:
        """function, line (service line, else sub-function), amount_pence, share."""
        a = self.allocations
        line = a["service_line"].where(a["service_line"].notna(), a["subfunction"])
        a = a.assign(line=line.where(line.notna(), "(no finer function)"))
        out = _sum(a, ["function", "line"])
        out["share"] = out["amount_pence"] / self.total_pence if self.total_pence else 0.0
        return out

    def split(self, column: str) -> pd.DataFrame:
        """Theme spend by 'mode' (reactive / preventative) or 'control' (local / national)."""
        return self._group([column])

    def by_rule(self) -> pd.DataFrame:
        """Per rule: lines matched, source rows, source amount, share, theme amount, evidence."""
        a = self.allocations
        rows = []
        for rid, rs in self.shares.items():
            sel = a[a["rule"] == rid]
            rows.append(
                {
                    "rule": rid,
                    "label": rs.rule.label,
                    "lines": len(sel),
                    "source_rows": len(sel[["file", "row"]].drop_duplicates()),
                    "source_pence": int(sel["source_pence"].sum()),
                    "share": rs.text,
                    "amount_pence": int(sel["amount_pence"].sum()),
                    "mode": rs.rule.mode,
                    "control": rs.rule.control,
                    "service_type": rs.rule.service_type,
                    "evidence": rs.rule.evidence,
                }
            )
        return pd.DataFrame(
            rows,
            columns=[
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
            ],
        )

    def top_lines(self, rule_id: str, n: int = 5) -> pd.DataFrame:
        """A rule's largest source lines (summed over the place's districts), file and row."""
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
        a = self.allocations
        out = a.groupby(["service_type", "agency_type"], as_index=False).agg(
            amount_pence=("amount_pence", "sum"),
            agencies=("agency", lambda s: "; ".join(sorted(set(map(str, s))))),
        )
        n_types = out.groupby("service_type")["agency_type"].transform("nunique")
        out["candidate"] = n_types >= 2
        size = out.groupby("service_type")["amount_pence"].transform("sum")
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


def _sum(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``amount_pence`` summed by ``keys`` (missing values kept as a group), largest first."""
    out = frame.groupby(keys, dropna=False, as_index=False).agg(
        amount_pence=("amount_pence", "sum")
    )
    return out.sort_values("amount_pence", ascending=False, ignore_index=True)


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


def resolve_share(rule: Rule, populations: Mapping[str, int], reference: pd.DataFrame) -> RuleShare:
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
    num = int(reference.loc[s.numerator.mask(reference), "amount_pence"].sum())
    den = int(reference.loc[s.denominator.mask(reference), "amount_pence"].sum())
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


def allocate(
    lines: pd.DataFrame,
    theme: Theme,
    populations: Mapping[str, int],
    reference: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, RuleShare], list[Overlap]]:
    """Allocations (one row per rule and matched line), resolved shares and overlaps.

    ``lines`` is a count's detail (``CountResult.lines``); ``populations`` maps driver names
    (and 'population') to persons in the place; ``reference`` holds the lines ``share_ratio``
    rules are measured on (default: ``lines``).
    """
    lines = _conform(lines)
    ref = lines if reference is None else reference
    cols = list(LINE_COLUMNS)
    frames = []
    shares: dict[str, RuleShare] = {}
    for rule in theme.rules:
        mask = rule.match.mask(lines)
        needs_share = bool(mask.any()) or rule.share.kind != "ratio"
        rs = (
            resolve_share(rule, populations, ref)
            if needs_share
            else RuleShare(rule, Fraction(0), "not needed: no line matched")
        )
        shares[rule.id] = rs
        sel = lines.loc[mask, cols].copy()
        amounts = [int(a) for a in lines.loc[mask, "amount_pence"]]
        sel["line_id"] = sel.index
        sel["source_pence"] = pd.array(amounts, dtype="int64")
        sel["amount_pence"] = pd.array([part(a, rs.share) for a in amounts], dtype="int64")
        for c in RULE_COLUMNS:
            sel[c] = rule.id if c == "rule" else getattr(rule, c)
        frames.append(sel)
    alloc = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    if alloc.empty:
        alloc = pd.DataFrame(
            {c: pd.Series(dtype=object) for c in [*cols, "line_id", *RULE_COLUMNS]}
        ).assign(source_pence=pd.Series(dtype="int64"), amount_pence=pd.Series(dtype="int64"))
    return alloc, shares, overlaps(alloc, shares, lines)


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
    reference: pd.DataFrame | None = None,
    count_total_pence: int | None = None,
    release: str = "",
    districts: tuple[str, ...] = (),
    caveats: list[str] | None = None,
) -> ThemeBreakdown:
    """The deep dive from count lines (pure: no store). See ``deep_dive`` for a place."""
    lines = _conform(lines)
    alloc, shares, found = allocate(lines, theme, populations, reference)
    relevant = theme.relevant_mask(lines)
    per_line = alloc.groupby("line_id")["amount_pence"].sum()
    relevant_ids = lines.index[relevant]
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
        relevant_allocated_pence=int(per_line.reindex(relevant_ids).fillna(0).sum()),
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
    """Persons in ``districts`` for each built-in driver in ``names`` (and 'population')."""
    known = builtin_drivers()
    out = {"population": population_of(store, districts, mid_year)}
    for name in names - {"population"}:
        d = known[name]
        out[name] = population_of(
            store, districts, mid_year, d.age_min or 0, d.age_max if d.age_max is not None else 999
        )
    return out


def _drivers_of(theme: Theme) -> set[str]:
    return {theme.population} | {r.share.driver for r in theme.rules if r.share.driver}


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
    mid_year = opts.mid_year or best_mid_year(store, year)
    districts = list(place.districts)
    populations = driver_populations(store, districts, mid_year, _drivers_of(theme))
    reference = None
    if any(r.share.kind == "ratio" for r in theme.rules):
        reference = _cra_lines(store, year, lines, districts, opts)
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
    )


def _cra_lines(
    store: Store, year: str, lines: pd.DataFrame, districts: list[str], opts: CountOptions
) -> pd.DataFrame:
    """The place's CRA lines before councils' outturn replaced any (for ``share_ratio``)."""
    if not (lines["basis"] == "actual").any():
        return lines
    regions = sorted({str(r) for r in lines["region_code"].dropna()})
    cra = apportioned_rows(store, year, regions=regions, options=opts)
    return cra[cra["area_code"].isin(districts)]
