"""The published basis: a count regrouped as the pilots counted (pure functions on hand-made
lines), and the reconciliation's published-basis columns on the real mirror."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from totalplace.count.published_basis import (
    BasisRule,
    Component,
    amount_of,
    attribute_gap,
    basis_groups,
    basis_rules,
    regroup,
)
from totalplace.errors import TotalPlaceError

DWP = "Benefits and employment (DWP)"
RULES = basis_rules()


def _lines(rows: list[tuple[str, str | None, str | None, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["agency_type", "subfunction", "description", "amount_pence"])


SAMPLE = _lines(
    [
        # CRA 2010: no sub-function for DWP benefits, only the programme
        (DWP, None, "P37 S120101 Retirement pensions - basic element", 1_000),
        (DWP, None, "P37 S120915 JOBSEEKERS ALLOWANCE INCOME BASED", 200),
        (DWP, None, "P37 S120912 NON-PENSIONER INCOME SUPPORT", 150),
        (DWP, None, "P37 S120808 DISABILITY LIVING ALLOWANCE", 90),
        (DWP, "4. Economic affairs - of which: employment policies", "P37 S121214 New Deal", 40),
        (
            DWP,
            "4. Economic affairs - of which: employment policies",
            "P37 S121252 Health and Safety Executive",
            7,
        ),
        # CRA 2014: sub-functions
        (DWP, "10.2 Old age", "S032A044-STATE PENSION", 3_000),
        (DWP, "10.1 Sickness and disability", "S032A052-INCAPACITY BENEFIT", 300),
        (DWP, "10.1 Sickness and disability", "S032A036-ATTENDANCE ALLOWANCE", 100),
        (
            DWP,
            "4.1 General economic, commercial and labour affairs",
            "S032A001-EMPLOYMENT PROGRAMMES",
            60,
        ),
        (DWP, "10.9 Social protection n.e.c.", "S032A012-BENEFIT DELIVERY-CORPORATE", 25),
        ("Councils", "9.1 Pre-primary and primary education", None, 5_000),
        ("Police and fire (local government)", None, None, 400),
        ("HMRC (tax credits and child benefit)", None, None, 700),
        ("Councils", None, "eliminated transfer", -123),
    ]
)


def test_each_line_goes_to_the_pilots_group() -> None:
    groups = list(basis_groups(SAMPLE, RULES))
    assert groups == [
        "DWP: pensions and pensioner benefits",
        "Jobcentre Plus: working-age benefits",
        "Jobcentre Plus: working-age benefits",  # "non-pensioner" is not a pension
        "DWP: disability and carers benefits",
        "Jobcentre Plus: employment programmes",
        "DWP: other",  # HSE is a DWP body, not Jobcentre Plus
        "DWP: pensions and pensioner benefits",
        "Jobcentre Plus: working-age benefits",  # incapacity benefit before 10.1 disability
        "DWP: disability and carers benefits",
        "Jobcentre Plus: employment programmes",
        "DWP: other",
        "Councils",
        "Police and fire authorities",
        "HMRC (tax credits and child benefit)",  # no rule: its agency type
        "Councils",
    ]


def test_regrouping_conserves_the_total_to_the_penny() -> None:
    out = regroup(SAMPLE, RULES)
    assert int(out["amount_pence"].sum()) == int(SAMPLE["amount_pence"].sum())
    assert amount_of(out, ["Jobcentre Plus: working-age benefits"]) == 200 + 150 + 300
    assert amount_of(out, ["*"]) == int(SAMPLE["amount_pence"].sum())
    assert list(out["amount_pence"]) == sorted(out["amount_pence"], reverse=True)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([DWP, "Councils", "NHS and health", "Other central government"]),
            st.sampled_from([None, "10.2 Old age", "4.1 General", "employment policies"]),
            st.sampled_from([None, "JOBSEEKER", "pension credit", "Carer's allowance", "x"]),
            st.integers(min_value=-(10**12), max_value=10**12),
        ),
        max_size=40,
    )
)
def test_regrouping_conserves_any_lines(
    rows: list[tuple[str, str | None, str | None, int]],
) -> None:
    lines = _lines(rows)
    out = regroup(lines, RULES)
    assert int(out["amount_pence"].sum()) == sum(r[3] for r in rows)
    assert out["group"].is_unique


def test_first_matching_rule_wins() -> None:
    rules = [BasisRule("A", "", "x", "first"), BasisRule("A", "", "", "second")]
    lines = _lines([("A", None, "x y", 1), ("A", None, "z", 2), ("B", None, "x", 3)])
    assert list(basis_groups(lines, rules)) == ["first", "second", "B"]


def test_gap_names_what_the_published_figure_leaves_out() -> None:
    out = regroup(SAMPLE, RULES)
    jcp = ["Jobcentre Plus: working-age benefits", "Jobcentre Plus: employment programmes"]
    apart = ["DWP: pensions and pensioner benefits", "DWP: disability and carers benefits"]
    lines = attribute_gap(out, jcp, published_pence=1_000, named_apart=apart)
    assert [(g.kind, g.amount_pence) for g in lines] == [
        ("not in published", 4_000),
        ("not in published", 190),
        ("unexplained", 750 - 1_000),
    ]
    assert lines[0].line.startswith("DWP: pensions and pensioner benefits (not in")


def test_a_totals_gap_is_split_by_its_published_parts() -> None:
    out = regroup(SAMPLE, RULES)
    parts = [Component("council", 6_000, ("Councils",))]
    lines = attribute_gap(out, ["*"], published_pence=10_000, components=parts)
    total = int(SAMPLE["amount_pence"].sum())
    assert [g.kind for g in lines] == ["component", "rest"]
    assert lines[0].amount_pence == 5_000 - 123 - 6_000
    assert sum(g.amount_pence for g in lines) == total - 10_000  # nothing left unexplained


def test_a_bad_rule_names_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "codes").mkdir()
    (tmp_path / "codes" / "published_basis.csv").write_text(
        "# comment\nagency_type,subfunction,description,group,reasoning\n"
        "A,,x,g,fine\nA,,(unclosed,g,bad\n",
        encoding="utf-8",
    )
    with pytest.raises(TotalPlaceError, match=r"published_basis.csv line 4: bad pattern"):
        basis_rules(tmp_path)


# --- the real mirror ------------------------------------------------------------------------


@pytest.mark.mirror
def test_birmingham_regrouped_is_its_count_to_the_penny(workspace) -> None:  # type: ignore[no-untyped-def]
    count = workspace.count("Birmingham", "2008-09")
    out = regroup(count.lines, RULES)
    assert int(out["amount_pence"].sum()) == count.total_pence
    dwp = int(count.rows.loc[count.rows["agency_type"] == DWP, "amount_pence"].sum())
    dwp_groups = out[out["group"].str.contains("DWP|Jobcentre")]
    assert int(dwp_groups["amount_pence"].sum()) == dwp
    pensions = amount_of(out, ["DWP: pensions and pensioner benefits"])
    assert pensions > dwp / 2  # CRA's DWP line is mostly pensions


@pytest.mark.mirror
def test_reconcile_sets_the_published_basis_beside_each_figure(workspace, mirror: Path) -> None:  # type: ignore[no-untyped-def]
    from totalplace.count.reconcile import reconcile

    rec = reconcile(
        workspace, pd.read_csv(mirror / "total_place/total_place_published_figures.csv")
    )
    jcp = rec[rec["measure"].str.startswith("Jobcentre Plus")].iloc[0]
    basis = jcp["published_basis"]
    regrouped = {g["group"]: g["amount_gbp"] for g in basis["regrouped"]}
    want = regrouped["Jobcentre Plus: working-age benefits"]
    want += regrouped["Jobcentre Plus: employment programmes"]
    assert jcp["tool_published_basis_gbp"] == pytest.approx(want, abs=0.01)
    assert jcp["tool_published_basis_gbp"] < jcp["tool_gbp"]
    pensions = next(g for g in basis["gap_lines"] if g["line"].startswith("DWP: pensions"))
    assert pensions["kind"] == "not in published"
    assert pensions["amount_gbp"] == pytest.approx(
        regrouped["DWP: pensions and pensioner benefits"]
    )
    unexplained = basis["gap_lines"][-1]
    assert unexplained["kind"] == "unexplained"
    assert unexplained["amount_gbp"] == pytest.approx(jcp["published_basis_gap_gbp"])
    # a total with published parts: its gap is attributed to them, nothing left over
    total = rec[(rec["scope"] == "Birmingham") & rec["measure"].str.startswith("total")].iloc[0]
    lines = total["published_basis"]["gap_lines"]
    assert [g["kind"] for g in lines] == ["component"] * 3 + ["rest"]
    assert sum(g["amount_gbp"] for g in lines) == pytest.approx(total["difference_gbp"], abs=0.05)
    # what has no comparable year still says so
    assert rec.loc[rec["tool_gbp"].isna(), "tool_published_basis_gbp"].isna().all()


@pytest.mark.mirror
def test_cli_reconcile_json_and_table_show_the_published_basis(built_settings) -> None:  # type: ignore[no-untyped-def]
    from totalplace.cli import app

    ws = ["--workspace", str(built_settings.workspace), "--mirror", str(built_settings.mirror)]
    res = CliRunner().invoke(app, ["reconcile", *ws, "--format", "json"])
    assert res.exit_code == 0, res.output
    records = json.loads(res.output)
    jcp = next(r for r in records if r["measure"].startswith("Jobcentre Plus"))
    assert "not in the published figure" in jcp["gap_attribution"]
    table = CliRunner().invoke(app, ["reconcile", *ws])
    assert table.exit_code == 0 and "On the published basis" in table.output
