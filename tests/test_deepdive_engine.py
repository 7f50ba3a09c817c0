"""The rules engine on small hand-made ledgers: exact pence, explainable totals, overlaps,
unallocated relevant spend, splits and the pooling view."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from tests.test_deepdive_rules import per_row_mask
from totalplace.deepdive.cli import long_table, write_xlsx
from totalplace.deepdive.engine import (
    LINE_COLUMNS,
    RULE_COLUMNS,
    allocate,
    breakdown,
    part,
    parts,
)
from totalplace.deepdive.rules import Theme, theme_from_dict

POPULATIONS = {"population": 1000, "age_65_plus": 250, "age_0_17": 200}


def line(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "area_code": "E06000001",
        "area_name": "Somewhere",
        "region_code": "E12000001",
        "agency": "Department for Work and Pensions",
        "agency_type": "Benefits and employment (DWP)",
        "function_code": "10",
        "function": "10. Social protection",
        "subfunction": None,
        "service_line": None,
        "spend_kind": "current",
        "description": None,
        "basis": "apportioned",
        "driver": "population",
        "confidence": "apportioned",
        "source_id": "cra_2014",
        "file": "cra.xlsx",
        "row": 1,
        "amount_pence": 0,
    }
    base.update(fields)
    return base


def ledger() -> pd.DataFrame:
    """Six lines: pensions, JSA, council care (outturn), NHS, a police line, a credit."""
    return pd.DataFrame(
        [
            line(description="S032A044-STATE PENSION", row=10, amount_pence=1_000_001),
            line(description="S032A058-JOBSEEKER'S ALLOWANCE", row=11, amount_pence=300_000),
            line(
                agency="Dorset",
                agency_type="Councils",
                service_line="Social care",
                basis="actual",
                source_id="rs_2010_11",
                file="rs.xls",
                row=73,
                amount_pence=500_003,
            ),
            line(
                agency="Department of Health",
                agency_type="NHS and health",
                function_code="7",
                function="7. Health",
                description="S0333001-NHS TRUSTS",
                row=12,
                amount_pence=2_000_007,
            ),
            line(agency_type="Police", function_code="3", row=13, amount_pence=400_000),
            line(
                agency="National Health Service Pension Scheme",
                agency_type="Other central government",
                subfunction="10.2 Old age",
                description="S903A001-NHS PENSION SCHEME",
                row=14,
                amount_pence=-99_999,
            ),
        ]
    )


def rule(rid: str, match: dict[str, Any], **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rid,
        "label": rid.replace("_", " "),
        "match": match,
        "mode": "reactive",
        "control": "national",
        "service_type": "income",
        "source": "a published source",
    }
    if not any(k in extra for k in ("share", "share_by", "share_ratio")):
        out["share"] = 1.0
    out.update(extra)
    return out


def theme(*rules: dict[str, Any], relevant: list[dict[str, Any]] | None = None) -> Theme:
    return theme_from_dict(
        {
            "id": "test",
            "name": "Test theme",
            "population": "age_65_plus",
            "relevant": relevant or [{"function_code": ["10", "7"]}],
            "rule": list(rules),
        },
        "test.toml",
    )


OLDER = theme(
    rule("pension", {"description": "STATE PENSION"}),
    rule(
        "care",
        {"service_line": ["Social care"]},
        share=0.55,
        control="local",
        service_type="care and support",
    ),
    rule(
        "nhs",
        {"agency_type": ["NHS and health"]},
        share_by="age_65_plus",
        control="local",
        service_type="care and support",
        source=None,
        assumption="fallback: population share",
    ),
    rule("prevent", {"description": "JOBSEEKER"}, share=0.1, mode="preventative"),
    rule("ps_pensions", {"subfunction": ["10.2"]}),
)


def run(t: Theme = OLDER, lines: pd.DataFrame | None = None, **kw: Any) -> Any:
    return breakdown(
        ledger() if lines is None else lines,
        t,
        POPULATIONS,
        place_name="Somewhere",
        year="2010-11",
        population_year=2019,
        **kw,
    )


# -- exact pence ------------------------------------------------------------------------------


def test_part_truncates_toward_zero() -> None:
    assert part(1_000_003, Fraction(1, 2)) == 500_001
    assert part(-1_000_003, Fraction(1, 2)) == -500_001
    assert part(7, Fraction(1)) == 7


def test_fixed_population_and_credit_shares_in_exact_pence() -> None:
    b = run()
    by_rule = b.by_rule().set_index("rule")["amount_pence"]
    assert by_rule["pension"] == 1_000_001
    assert by_rule["care"] == 500_003 * 55 // 100  # 275_001, the half-penny stays unallocated
    assert by_rule["nhs"] == 2_000_007 * 250 // 1000
    assert by_rule["prevent"] == 30_000
    assert by_rule["ps_pensions"] == -99_999
    assert b.total_pence == int(by_rule.sum())
    assert b.shares["nhs"].share == Fraction(1, 4)
    assert "people aged 65+: 250 of 1,000" in b.shares["nhs"].text


def test_every_view_adds_up_to_the_total_exactly() -> None:
    b = run()
    total = b.total_pence
    assert int(b.allocations["amount_pence"].sum()) == total
    for view in (b.by_agency(), b.by_function(), b.split("mode"), b.split("control")):
        assert int(view["amount_pence"].sum()) == total
    assert int(b.pooling()["amount_pence"].sum()) == total
    assert int(b.by_rule()["amount_pence"].sum()) == total
    explained = b.explain(n=100)
    assert sum(r["amount_pence"] for r in explained) == total
    for r in explained:
        assert sum(t["amount_pence"] for t in r["top_lines"]) == r["amount_pence"]
        assert sum(t["source_pence"] for t in r["top_lines"]) == r["source_pence"]
    assert b.explain(n=1)[0]["top_lines"][0]["file"] == "cra.xlsx"
    assert b.explain(n=1)[0]["top_lines"][0]["row"] == 10


def test_per_head_is_per_person_of_the_theme_population() -> None:
    b = run()
    assert b.population == 250
    assert b.per_head_gbp == pytest.approx(b.total_pence / 100 / 250)


# -- splits and pooling ------------------------------------------------------------------------


def test_reactive_preventative_and_local_national_splits() -> None:
    b = run()
    mode = b.split("mode").set_index("mode")["amount_pence"]
    assert mode["preventative"] == 30_000
    assert mode["reactive"] == b.total_pence - 30_000
    control = b.split("control").set_index("control")["amount_pence"]
    by_rule = b.by_rule().set_index("rule")["amount_pence"]
    assert control["local"] == by_rule["care"] + by_rule["nhs"]
    assert b.split("mode")["share"].sum() == pytest.approx(1.0)


def test_pooling_flags_service_types_with_two_agency_types() -> None:
    pool = b_pool = run().pooling()
    care = pool[pool["service_type"] == "care and support"]
    assert set(care["agency_type"]) == {"Councils", "NHS and health"}
    assert care["candidate"].all()
    income = b_pool[b_pool["service_type"] == "income"]
    assert set(income["agency_type"]) == {
        "Benefits and employment (DWP)",
        "Other central government",
    }
    assert income["candidate"].all()
    assert list(pool["candidate"]) == sorted(pool["candidate"], reverse=True)


def test_no_pooling_candidate_with_one_agency_type() -> None:
    b = run(theme(rule("pension", {"description": "STATE PENSION"})))
    assert not b.pooling()["candidate"].any()


# -- checks ------------------------------------------------------------------------------------


def test_overlapping_rules_beyond_100_percent_are_errors_naming_rules_and_line() -> None:
    t = theme(
        rule("a", {"agency_type": ["NHS and health"]}, share=0.6),
        rule("b", {"function_code": ["7"]}, share=0.5),
        rule("c", {"description": "PENSION"}, share=0.5),
    )
    b = run(t)
    assert len(b.overlaps) == 1
    o = b.overlaps[0]
    assert o.rules == ("a", "b")
    assert o.share == Fraction(11, 10)
    assert o.lines == 1
    msg = b.errors[0]
    assert "a + b" in msg and "110.0%" in msg
    assert "cra.xlsx row 12" in msg and "NHS TRUSTS" in msg


def test_rules_summing_to_100_percent_are_fine_and_never_exceed_the_line() -> None:
    t = theme(
        rule("half_a", {"agency_type": ["NHS and health"]}, share=0.5),
        rule("half_b", {"function_code": ["7"]}, share=0.5),
    )
    lines = pd.DataFrame([line(agency_type="NHS and health", function_code="7", amount_pence=3)])
    b = run(t, lines)
    assert b.errors == []
    assert b.total_pence == 2  # 1 + 1: each rule truncates, the last penny stays unallocated
    assert b.unallocated_pence == 1


def test_unallocated_relevant_spend_and_its_share() -> None:
    b = run()
    # relevant: functions 10 and 7 = every line but police
    relevant = 1_000_001 + 300_000 + 500_003 + 2_000_007 - 99_999
    assert b.relevant_pence == relevant
    assert b.unallocated_pence == relevant - b.total_pence
    assert b.unallocated_share == pytest.approx(b.unallocated_pence / relevant)
    assert b.outside_relevant_pence == 0


def test_theme_spend_outside_relevant_is_reported() -> None:
    t = theme(rule("police", {"agency_type": ["Police"]}), relevant=[{"function_code": ["10"]}])
    b = run(t)
    assert b.total_pence == 400_000
    assert b.outside_relevant_pence == 400_000
    assert b.relevant_allocated_pence == 0


# -- ratio shares ------------------------------------------------------------------------------


RATIO = {
    "numerator": {"subfunction": ["10.2"]},
    "denominator": {"subfunction": ["10.1", "10.2"]},
}


def test_share_ratio_is_measured_on_the_reference_lines() -> None:
    t = theme(rule("care", {"service_line": ["Social care"]}, share_ratio=RATIO))
    reference = pd.DataFrame(
        [
            line(agency_type="Councils", subfunction="10.1 Sickness", amount_pence=600),
            line(agency_type="Councils", subfunction="10.2 Old age", amount_pence=400),
        ]
    )
    b = run(t, reference=reference)
    assert b.shares["care"].share == Fraction(2, 5)
    assert b.total_pence == 500_003 * 2 // 5
    assert "40.0%" in b.shares["care"].text


def test_share_ratio_without_a_denominator_is_a_reported_problem() -> None:
    none = {"numerator": {"subfunction": ["10.4"]}, "denominator": {"subfunction": ["10.1"]}}
    t = theme(rule("care", {"service_line": ["Social care"]}, share_ratio=none))
    b = run(t)  # the ledger has no 10.1 or 10.4 lines
    assert b.total_pence == 0
    assert any("share_ratio cannot be used" in e for e in b.errors)


def test_share_ratio_is_not_needed_when_nothing_matches() -> None:
    t = theme(rule("care", {"service_line": ["Nothing"]}, share_ratio=RATIO))
    assert run(t).errors == []


# -- outputs -----------------------------------------------------------------------------------


def test_json_is_serialisable_and_consistent() -> None:
    b = run()
    data = json.loads(json.dumps(b.to_json(explain=True)))
    assert data["total_pence"] == b.total_pence
    assert sum(r["amount_pence"] for r in data["rules"]) == b.total_pence
    assert data["rules"][0]["top_lines"][0]["file"] == "cra.xlsx"
    assert {r["mode"] for r in data["splits"]["mode"]} == {"reactive", "preventative"}


def test_long_table_holds_every_summary_table() -> None:
    b = run()
    table = long_table(b)
    assert set(table["table"]) >= {"total", "by_agency", "by_function", "mode", "control"}
    for name in ("by_agency", "by_function", "mode", "control", "rules", "pooling"):
        assert int(table.loc[table["table"] == name, "amount_pence"].sum()) == b.total_pence


def test_xlsx_neutralises_formula_like_text(tmp_path: Path) -> None:
    lines = ledger()
    lines.loc[0, "agency"] = '=HYPERLINK("http://evil.example","x")'
    lines.loc[0, "description"] = "-STATE PENSION"
    lines.loc[1, "agency"] = "@SUM(A1)"
    b = run(lines=lines)
    path = write_xlsx(b, tmp_path / "dd.xlsx")
    book = load_workbook(path)
    assert {"summary", "by_agency", "rules", "lines", "pooling", "checks"} <= set(book.sheetnames)
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str):
                    assert c.data_type != "f", (ws.title, c.coordinate, c.value)
                    assert not c.value.startswith(("=", "+", "-", "@")), c.value
    values = [c.value for row in book["by_agency"].iter_rows() for c in row]
    assert '\'=HYPERLINK("http://evil.example","x")' in values
    amounts = [c.value for c in book["lines"]["A"]]  # numbers stay numbers
    assert amounts[0] is not None
    num_col = [c.value for c in next(book["lines"].iter_rows(min_row=1, max_row=1))]
    col = num_col.index("amount_pence")
    first = book["lines"].cell(row=2, column=col + 1).value
    assert isinstance(first, int)


# -- property: shares that sum to at most 100% never assign more than the line ----------------


@settings(max_examples=60, deadline=None)
@given(
    amounts=st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=20),
    shares=st.lists(st.integers(1, 100), min_size=1, max_size=4).filter(lambda s: sum(s) <= 100),
)
def test_allocations_never_exceed_a_line(amounts: list[int], shares: list[int]) -> None:
    rules = [
        rule(f"r{i}", {"agency_type": ["NHS and health"]}, share=s / 100)
        for i, s in enumerate(shares)
    ]
    lines = pd.DataFrame(
        [line(agency_type="NHS and health", row=i, amount_pence=a) for i, a in enumerate(amounts)]
    )
    b = run(theme(*rules), lines)
    assert b.errors == []
    per_line = b.allocations.groupby("line_id")["amount_pence"].sum()
    for i, a in enumerate(amounts):
        got = int(per_line.get(i, 0))
        assert abs(got) <= abs(a)
        assert got == 0 or (got > 0) == (a > 0)
        assert abs(a) * sum(shares) / 100 - abs(got) < len(shares)
    assert int(b.by_rule()["amount_pence"].sum()) == b.total_pence


def test_lines_without_optional_columns_still_work() -> None:
    lines = ledger().drop(columns=["service_line", "subfunction", "description"])
    b = run(theme(rule("police", {"agency_type": ["Police"]})), lines)
    assert b.total_pence == 400_000
    assert b.by_function()["line"].tolist() == ["(no finer function)"]


# -- fast allocation: the same allocations as the straightforward per-row evaluation ----------


def per_row_allocations(lines: pd.DataFrame, t: Theme, shares: dict[str, Any]) -> pd.DataFrame:
    """Allocations as first written: every rule's mask evaluated row by row, its matched lines
    copied and concatenated, each theme amount taken with ``part``, one line at a time."""
    cols = list(LINE_COLUMNS)
    frames = []
    for r in t.rules:
        mask = per_row_mask(r.match, lines)
        sel = lines.loc[mask, cols].copy()
        amounts = [int(a) for a in lines.loc[mask, "amount_pence"]]
        sel["line_id"] = sel.index
        sel["source_pence"] = pd.array(amounts, dtype="int64")
        sel["amount_pence"] = pd.array([part(a, shares[r.id].share) for a in amounts], "int64")
        for c in RULE_COLUMNS:
            sel[c] = r.id if c == "rule" else getattr(r, c)
        frames.append(sel)
    return pd.concat(frames, ignore_index=True)


def repetitive_ledger() -> pd.DataFrame:
    """The six-line ledger, each line in three districts (as count lines are), shuffled, with
    a line so large that its products with a population share's numerator pass int64."""
    big = line(agency_type="NHS and health", function_code="7", row=99, amount_pence=9 * 10**15)
    base = pd.concat([ledger(), pd.DataFrame([big])], ignore_index=True)
    out = pd.concat([base.assign(area_code=f"E0600000{i}") for i in range(3)], ignore_index=True)
    return out.sample(frac=1.0, random_state=3).reset_index(drop=True)


def test_fast_allocation_equals_the_per_row_evaluation() -> None:
    lines = repetitive_ledger()
    # a population share whose products with the large line pass int64
    odd = {**POPULATIONS, "population": 1_000_000, "age_65_plus": 123_457}
    t = OLDER
    alloc, shares, _ = allocate(lines, t, odd)
    expected = per_row_allocations(lines, t, shares)
    pd.testing.assert_frame_equal(alloc, expected, check_exact=True)
    b = breakdown(lines, t, odd, place_name="X", year="2010-11", population_year=2019)
    pd.testing.assert_frame_equal(b.allocations, expected, check_exact=True)
    relevant = per_row_mask(t.relevant[0], lines)
    for m in t.relevant[1:]:
        relevant |= per_row_mask(m, lines)
    assert b.relevant_pence == int(lines.loc[relevant, "amount_pence"].sum())
    per_line = expected.groupby("line_id")["amount_pence"].sum()
    assert b.relevant_allocated_pence == int(
        per_line.reindex(lines.index[relevant]).fillna(0).sum()
    )


@pytest.mark.parametrize(
    "share",
    [Fraction(1), Fraction(11, 20), Fraction(123_457, 1_000), Fraction(1, 10**20),
     Fraction(3_000_000_007, 7_000_000_019)],
)  # fmt: skip
def test_parts_are_part_of_each_amount(share: Fraction) -> None:
    amounts = [0, 1, -1, 1_000_003, -1_000_003, 9 * 10**15, -(9 * 10**15)]
    got = parts(np.array(amounts, dtype=np.int64), share)
    assert got.dtype == np.int64
    assert got.tolist() == [part(a, share) for a in amounts]


def test_derived_tables_are_computed_once_and_callers_get_copies() -> None:
    b = run()
    first = b.by_rule()
    first.loc[0, "amount_pence"] = -1  # a caller changing its copy changes nothing shared
    again = b.by_rule()
    assert again.loc[0, "amount_pence"] != -1
    pd.testing.assert_frame_equal(again, run().by_rule())
    assert b.pooling() is not b.pooling()
    assert set(b._memo) >= {("by_rule",), ("pooling",)}


def test_the_reference_is_computed_only_when_a_ratio_rule_matches() -> None:
    reference = pd.DataFrame(
        [
            line(agency_type="Councils", subfunction="10.1 Sickness", amount_pence=600),
            line(agency_type="Councils", subfunction="10.2 Old age", amount_pence=400),
        ]
    )
    calls: list[int] = []

    def lazy() -> pd.DataFrame:
        calls.append(1)
        return reference

    unmatched = theme(rule("care", {"service_line": ["Nothing"]}, share_ratio=RATIO))
    assert run(unmatched, reference=lazy).errors == [] and calls == []
    matched = theme(
        rule("care", {"service_line": ["Social care"]}, share_ratio=RATIO),
        rule("jobs", {"description": "JOBSEEKER"}, share_ratio=RATIO),
    )
    b = run(matched, reference=lazy)
    assert calls == [1]  # once for both ratio rules
    assert b.shares["care"].share == b.shares["jobs"].share == Fraction(2, 5)
