"""Deep dives on the real mirror data: Dorset, Poole and Bournemouth (older people) and
Birmingham (worklessness and benefits), with every built-in theme checked on two pilots."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from totalplace.build import build_workspace
from totalplace.config import Settings
from totalplace.count.engine import CountOptions, apportioned_rows, best_mid_year, population_of
from totalplace.count.result import CountResult
from totalplace.deepdive.cli import app
from totalplace.deepdive.engine import ThemeBreakdown, _cra_lines, deep_dive, part
from totalplace.deepdive.rules import load_theme, theme_ids
from totalplace.workspace import Workspace

DORSET = "Dorset, Poole and Bournemouth"
BIRMINGHAM = "Birmingham"
pytestmark = pytest.mark.mirror


@pytest.fixture(scope="session")
def built(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(workspace=tmp_path_factory.mktemp("ws"), mirror=mirror)
    build_workspace(settings)
    return settings


@pytest.fixture(scope="session")
def ws(built: Settings) -> Workspace:
    return Workspace(built)


class Counts(dict[tuple[str, str], CountResult]):
    """Counts computed once per (place, year) and shared by the tests."""

    def __init__(self, ws: Workspace) -> None:
        super().__init__()
        self.ws = ws

    def __missing__(self, key: tuple[str, str]) -> CountResult:
        self[key] = self.ws.count(*key)
        return self[key]


@pytest.fixture(scope="session")
def counts(ws: Workspace) -> Counts:
    return Counts(ws)


def dive(ws: Workspace, counts: Counts, place: str, year: str, theme: str) -> ThemeBreakdown:
    return deep_dive(ws.store, ws.place(place), year, load_theme(theme), count=counts[place, year])


def assert_adds_up(b: ThemeBreakdown) -> None:
    total = b.total_pence
    for view in (b.by_agency(), b.by_function(), b.split("mode"), b.split("control")):
        assert int(view["amount_pence"].sum()) == total
    assert int(b.pooling()["amount_pence"].sum()) == total
    explained = b.explain(n=10_000)
    assert sum(r["amount_pence"] for r in explained) == total
    for r in explained:
        assert sum(t["amount_pence"] for t in r["top_lines"]) == r["amount_pence"]


def test_dorset_older_people_2010_11(ws: Workspace, counts: Counts) -> None:
    count = counts[DORSET, "2010-11"]
    b = dive(ws, counts, DORSET, "2010-11", "older_people")
    assert b.errors == []
    assert 0 < b.total_pence <= count.total_pence
    assert b.count_total_pence == count.total_pence
    assert_adds_up(b)

    # population: people aged 65+ in the pilot's districts, from the store
    mid_year = best_mid_year(ws.store, "2010-11")
    districts = list(ws.place(DORSET).districts)
    assert b.population == population_of(ws.store, districts, mid_year, 65, 90)
    assert b.population_total == population_of(ws.store, districts, mid_year)
    assert b.per_head_gbp == pytest.approx(b.total_pence / 100 / b.population)
    assert b.shares["nhs"].share == Fraction(b.population, b.population_total)

    # councils' social care outturn: the older people's part is a ratio measured on CRA
    care = b.shares["council_social_care_outturn"]
    assert care.problem is None and Fraction(1, 5) < care.share < Fraction(4, 5)
    lines = count.lines
    assert lines is not None
    social_care = lines[lines["service_line"] == "Social care"]
    assert len(social_care) >= 3  # Dorset CC, Bournemouth, Poole
    rules = b.by_rule().set_index("rule")
    assert rules.loc["council_social_care_outturn", "source_pence"] == int(
        social_care["amount_pence"].sum()
    )
    assert rules.loc["council_social_care_outturn", "amount_pence"] == sum(
        part(int(a), care.share) for a in social_care["amount_pence"]
    )

    # pensions dominate; Winter Fuel Payment is the preventative part
    assert rules.loc["state_pension", "amount_pence"] == rules["amount_pence"].max()
    mode = b.split("mode").set_index("mode")["amount_pence"]
    assert mode["preventative"] == rules.loc["winter_fuel", "amount_pence"]
    control = b.split("control").set_index("control")["amount_pence"]
    assert control["national"] > control["local"] > 0

    # every allocation points at a ledger line (file and row)
    a = b.allocations
    assert a["file"].notna().all() and (a["row"] > 0).all()
    assert set(a["file"]) <= {
        "cra2014_combined_db.xlsx",
        "revenue_outturn_summary_RS_2010-11_by_LA.xls",
    }
    pool = b.pooling()
    care_pool = pool[pool["service_type"] == "care and support"]
    assert {"Councils", "Benefits and employment (DWP)"} <= set(care_pool["agency_type"])
    assert care_pool["candidate"].all()
    assert b.unallocated_share is not None and 0 < b.unallocated_share < 1


def test_split_social_care_lines_from_2011_12_have_their_own_rules(
    ws: Workspace, counts: Counts
) -> None:
    """RS 2011-12 on splits social care: children's goes wholly to the children's theme, adults'
    to older people by a CRA ratio that leaves children's 10.4 out."""
    year = "2012-13"
    lines = counts[DORSET, year].lines
    assert lines is not None
    adults = lines[lines["service_line"] == "Adult Social Care"]
    children = lines[lines["service_line"] == "Children Social Care"]
    assert len(adults) >= 3 and len(children) >= 3  # Dorset CC, Bournemouth, Poole
    old = dive(ws, counts, DORSET, year, "older_people")
    assert old.errors == []
    care = old.shares["council_adult_social_care_outturn"]
    assert care.problem is None and Fraction(1, 3) < care.share < 1
    rules = old.by_rule().set_index("rule")
    assert rules.loc["council_adult_social_care_outturn", "amount_pence"] == sum(
        part(int(a), care.share) for a in adults["amount_pence"]
    )
    young = dive(ws, counts, DORSET, year, "children_early_years")
    assert young.errors == []
    rules = young.by_rule().set_index("rule")
    assert rules.loc["council_childrens_social_care_outturn", "amount_pence"] == int(
        children["amount_pence"].sum()
    )


@pytest.mark.parametrize("year", ["2008-09", "2010-11"])
def test_birmingham_worklessness_is_mostly_benefits(
    ws: Workspace, counts: Counts, year: str
) -> None:
    b = dive(ws, counts, BIRMINGHAM, year, "worklessness_benefits")
    assert b.errors == []
    assert_adds_up(b)
    a = b.allocations
    benefits = int(a.loc[a["service_type"] == "out-of-work benefits", "amount_pence"].sum())
    into_work = int(a.loc[a["service_type"] == "help into work", "amount_pence"].sum())
    assert benefits + into_work == b.total_pence
    benefit_share = benefits / b.total_pence
    mode = b.split("mode").set_index("mode")["share"]
    assert mode["reactive"] == pytest.approx(benefit_share)
    # Birmingham's deep dive found 93% benefits, under 7% into work; top-down data agree
    # that benefits dominate, with a computed share
    assert 0.75 < benefit_share < 0.97
    assert into_work > 0
    assert (b.split("control")["control"] == "national").all()
    assert b.population == population_of(
        ws.store, ["E08000025"], best_mid_year(ws.store, year), 18, 64
    )


@pytest.mark.parametrize("theme", theme_ids())
@pytest.mark.parametrize(
    ("place", "year"), [(DORSET, "2010-11"), (DORSET, "2013-14"), (BIRMINGHAM, "2008-09")]
)
def test_every_theme_runs_without_overlaps(
    ws: Workspace, counts: Counts, theme: str, place: str, year: str
) -> None:
    b = dive(ws, counts, place, year, theme)
    assert b.errors == [], b.errors
    assert 0 < b.total_pence <= b.count_total_pence
    assert b.relevant_pence > 0
    assert b.unallocated_share is not None and -0.01 <= b.unallocated_share <= 1
    assert_adds_up(b)


def test_cli_json_csv_and_xlsx(built: Settings, ws: Workspace, counts: Counts, tmp_path: Path):
    runner = CliRunner()
    common = ["--place", BIRMINGHAM, "--year", "2010-11", "--theme", "worklessness_benefits"]
    common += ["--workspace", str(built.workspace)]
    res = runner.invoke(app, ["deepdive", *common, "--format", "json", "--explain"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    b = dive(ws, counts, BIRMINGHAM, "2010-11", "worklessness_benefits")
    assert data["total_pence"] == b.total_pence
    assert sum(r["amount_pence"] for r in data["rules"]) == b.total_pence
    assert all("top_lines" in r for r in data["rules"])

    res = runner.invoke(app, ["deepdive", *common, "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("table,group,item,amount_pence,amount_gbp,share")

    out = tmp_path / "dd.xlsx"
    res = runner.invoke(app, ["deepdive", *common, "--format", "xlsx", "--output", str(out)])
    assert res.exit_code == 0, res.output
    book = load_workbook(out)
    assert "lines" in book.sheetnames and book["lines"].max_row == len(b.allocations) + 1

    res = runner.invoke(app, ["deepdive", *common, "--explain"])
    assert res.exit_code == 0, res.output
    assert "jobseekers_allowance" in res.stdout and "cra2014_combined_db.xlsx row" in res.stdout

    res = runner.invoke(app, ["deepdive", *common[:4], "--theme", "nope", *common[6:]])
    assert res.exit_code == 1


def test_the_places_cra_lines_are_the_regions_apportionment_kept_for_the_count(
    ws: Workspace, counts: Counts
) -> None:
    place = ws.place(DORSET)
    count = counts[DORSET, "2010-11"]
    assert count.lines is not None
    opts = CountOptions()
    cra = _cra_lines(ws.store, "2010-11", count.lines, list(place.districts), opts)
    regions = sorted({str(r) for r in count.lines["region_code"].dropna()})
    whole = apportioned_rows(ws.store, "2010-11", regions=regions, options=opts)
    expected = whole[whole["area_code"].isin(place.districts)]

    def in_order(frame: pd.DataFrame) -> pd.DataFrame:  # the SQL returns rows in any order
        return frame.sort_values(["rid", "area_code"], ignore_index=True)

    pd.testing.assert_frame_equal(in_order(cra), in_order(expected), check_exact=True)
    # every theme of the same count shares them; a new count computes them again
    assert _cra_lines(ws.store, "2010-11", count.lines, list(place.districts), opts) is cra
    fresh = count.lines.copy()
    assert _cra_lines(ws.store, "2010-11", fresh, list(place.districts), opts) is not cra


def test_the_count_keeps_its_cra_lines_and_the_deep_dive_uses_them(
    ws: Workspace, counts: Counts
) -> None:
    """The count keeps the CRA lines outturn replaced beside those it kept: together they are
    the region's apportionment for the place, and a deep dive using them is the same as one
    that apportions the region again."""
    import dataclasses

    place = ws.place(DORSET)
    count = counts[DORSET, "2010-11"]
    assert count.lines is not None and count.cra_lines is not None
    districts = list(place.districts)
    recomputed = _cra_lines(ws.store, "2010-11", count.lines, districts, CountOptions())
    kept = count.cra_lines[count.cra_lines["area_code"].isin(districts)]
    cols = [c for c in kept.columns if c in recomputed.columns]
    key = ["rid", "area_code"]
    pd.testing.assert_frame_equal(
        kept[cols].sort_values(key, ignore_index=True),
        recomputed[cols].sort_values(key, ignore_index=True),
        check_dtype=False,
    )
    theme = load_theme("older_people")  # has share-of-CRA (ratio) rules
    assert any(r.share.kind == "ratio" for r in theme.rules)
    fast = deep_dive(ws.store, place, "2010-11", theme, count=count)
    slow = deep_dive(
        ws.store, place, "2010-11", theme, count=dataclasses.replace(count, cra_lines=None)
    )
    pd.testing.assert_frame_equal(fast.allocations, slow.allocations, check_exact=True)
    assert fast.to_json(explain=True) == slow.to_json(explain=True)
