"""Scenario figures are pure: trace types, totals and labels of baseline vs scenario, without a
browser. Also the workshop bridge's reading of amounts typed by people ('£1.25m')."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboards.data_workshop import parse_percent, parse_pounds
from dashboards.figures.scenario import baseline_vs_scenario, changed_cells, scenario_waterfall
from totalplace.workshop import scenarios as sc
from totalplace.workshop.models import WorkshopError

BASELINE = pd.DataFrame(
    {
        "agency_type": ["NHS and health", "Councils", "Councils", "Police"],
        "function": ["7. Health", "10. Social protection", "9. Education", "3. Public order"],
        "amount_pence": [190_000_000_00, 98_765_432_10, 123_456_789_01, 22_000_000_00],
    }
)


def _comparison(*changes: sc.Change) -> pd.DataFrame:
    frame, _ = sc.apply(BASELINE, list(changes))
    return sc.compare(BASELINE, frame)


def _cell(agency: str, function: str) -> sc.CellRef:
    return sc.CellRef(agency, function)


NHS = _cell("NHS and health", "7. Health")
CARE = _cell("Councils", "10. Social protection")
POLICE = _cell("Police", "3. Public order")


def test_unchanged_scenario_says_so() -> None:
    comparison = _comparison()
    for fig in (
        baseline_vs_scenario(comparison, "Plan A"),
        scenario_waterfall(comparison, "Plan A"),
    ):
        assert fig.layout.meta["empty"] is True
        assert "Plan A changes nothing yet" in fig.layout.annotations[0].text
    assert changed_cells(comparison).empty


def test_grouped_bars_show_only_the_agency_types_changed() -> None:
    comparison = _comparison(sc.Move(NHS, CARE, amount_pence=10_000_000_00))
    fig = baseline_vs_scenario(comparison, "Prevention")
    assert fig.layout.barmode == "group"
    scen, base = fig.data  # the baseline drawn above the scenario in each group
    assert isinstance(base, go.Bar) and isinstance(scen, go.Bar)
    assert (base.name, scen.name) == ("Baseline", "Prevention")
    assert sorted(base.y) == ["Councils", "NHS and health"]  # not Police: unchanged
    nhs = list(base.y).index("NHS and health")
    assert base.x[nhs] == pytest.approx(190_000_000)
    assert scen.x[nhs] == pytest.approx(180_000_000)
    assert scen.text[nhs] == "£180m"
    # a move conserves the total: both totals in the title
    assert fig.layout.meta["baseline_gbp"] == fig.layout.meta["scenario_gbp"]
    assert fig.layout.meta["baseline_gbp"] == pytest.approx(434_222_221.11)
    assert fig.layout.legend.traceorder == "reversed"  # Baseline listed first


def test_waterfall_goes_from_baseline_through_each_change_to_the_scenario() -> None:
    invest = sc.InvestToSave(
        invest_cell=CARE,
        saving_cell=NHS,
        amount_pence=1_000_000_00,
        ratio=Decimal(2),
        years=3,
        recurring=True,
    )
    comparison = _comparison(sc.Move(POLICE, CARE, percent=Decimal(10)), invest)
    fig = scenario_waterfall(comparison, "Invest")
    (trace,) = fig.data
    assert isinstance(trace, go.Waterfall)
    assert trace.measure[0] == "absolute" and trace.measure[-1] == "total"
    assert trace.y[0] == "Baseline" and trace.y[-1] == "Invest"
    steps = dict(zip(trace.y[1:-1], trace.x[1:-1], strict=True))
    assert steps == {
        "NHS and health × 7. Health": pytest.approx(-2_000_000),
        "Councils × 10. Social protection": pytest.approx(3_200_000),
        "Police × 3. Public order": pytest.approx(-2_200_000),
    }
    assert fig.layout.meta["scenario_gbp"] - fig.layout.meta["baseline_gbp"] == pytest.approx(
        -1_000_000
    )
    assert "-£1m" in fig.layout.title.text
    # largest change first
    assert list(trace.text[1:-1]) == ["+£3.2m", "-£2.2m", "-£2m"]


def test_many_small_changes_are_summed_into_one_step() -> None:
    rows = [(f"Agency {i}", "1. General", 1_000_00) for i in range(20)]
    base = pd.DataFrame(rows, columns=["agency_type", "function", "amount_pence"])
    scen = base.assign(amount_pence=base["amount_pence"] + pd.Series(range(1, 21)))
    fig = scenario_waterfall(sc.compare(base, scen), max_steps=5)
    (trace,) = fig.data
    assert len(trace.y) == 7  # baseline, 4 largest, '16 other cells', scenario
    assert trace.y[-2] == "16 other cells"
    assert sum(trace.x[1:-1]) == pytest.approx(sum(range(1, 21)) / 100)


@pytest.mark.parametrize(
    ("typed", "pence"),
    [
        ("1,250,000", 125_000_000),
        ("£1.25m", 125_000_000),
        ("750k", 75_000_000),
        ("2bn", 200_000_000_000),
        ("£ 12.34", 1_234),
        ("0", 0),
    ],
)
def test_amounts_are_read_as_people_type_them(typed: str, pence: int) -> None:
    assert parse_pounds(typed) == pence


@pytest.mark.parametrize("typed", ["", "-5", "12,3O4", "£", "1.2.3m", None])
def test_what_is_not_an_amount_is_refused_in_words(typed: str | None) -> None:
    with pytest.raises(WorkshopError, match="not an amount in pounds"):
        parse_pounds(typed)


def test_percentages() -> None:
    assert parse_percent("12.5%") == Decimal("12.5")
    with pytest.raises(WorkshopError, match="between 0 and 100"):
        parse_percent("150")
    with pytest.raises(WorkshopError, match="not a percentage"):
        parse_percent("lots")
