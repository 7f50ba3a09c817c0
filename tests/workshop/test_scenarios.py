"""The pure scenario engine: moves conserve the total to the penny, invalid changes are refused,
set amounts, driver changes, invest-to-save tables, comparison, the evidence library."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from totalplace.count.result import COUNT_ROW_COLUMNS, CountResult
from totalplace.workshop import scenarios as sc
from totalplace.workshop.scenarios import (
    CellRef,
    ChangeDriver,
    InvestToSave,
    Move,
    ScenarioError,
    SetAmount,
)

COUNCIL_SP = CellRef("Councils", "10. Social protection")
COUNCIL_H = CellRef("Councils", "7. Health")
NHS_H = CellRef("NHS and health", "7. Health")


def frame(cells: dict[CellRef, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "agency_type": [c.agency_type for c in cells],
            "function": [c.function for c in cells],
            "amount_pence": list(cells.values()),
        }
    )


def amounts(df: pd.DataFrame) -> dict[CellRef, int]:
    return {CellRef(a, f): int(v) for a, f, v in df.itertuples(index=False)}


BASE = frame({COUNCIL_SP: 1_000_00, COUNCIL_H: 200_00, NHS_H: 5_000_00})


def test_move_amount_and_percent_conserve_total_exactly() -> None:
    out, log = sc.apply(
        BASE,
        [
            Move(NHS_H, COUNCIL_H, amount_pence=1_000_00),
            Move(COUNCIL_SP, COUNCIL_H, percent=Decimal("33.333")),
        ],
    )
    got = amounts(out)
    assert got[NHS_H] == 4_000_00
    assert got[COUNCIL_SP] == 1_000_00 - 33_333  # 33.333% of £1,000 = £333.33, half-up
    assert int(out["amount_pence"].sum()) == int(BASE["amount_pence"].sum())
    assert [e.kind for e in log] == ["move", "move"]
    assert "33.333% of Councils × 10. Social protection (£333.33)" in log[1].message


def test_percent_rounds_half_up_to_the_penny() -> None:
    base = frame({COUNCIL_SP: 3, COUNCIL_H: 0})
    out, _ = sc.apply(base, [Move(COUNCIL_SP, COUNCIL_H, percent=50)])
    assert amounts(out) == {COUNCIL_SP: 1, COUNCIL_H: 2}


def test_baseline_is_not_changed() -> None:
    before = BASE.copy()
    sc.apply(BASE, [Move(NHS_H, COUNCIL_H, amount_pence=1)])
    pd.testing.assert_frame_equal(BASE, before)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda: Move(COUNCIL_H, NHS_H, amount_pence=200_02), "would be negative"),
        (lambda: Move(CellRef("Fire", "3. Public order"), NHS_H, amount_pence=1), "unknown cell"),
        (lambda: Move(NHS_H, CellRef("Fire", "3. Public order"), amount_pence=1), "unknown cell"),
        (lambda: SetAmount(CellRef("Fire", "x"), 5), "unknown cell"),
    ],
)
def test_invalid_changes_are_refused_with_a_clear_message(change, message: str) -> None:
    with pytest.raises(ScenarioError, match=message) as err:
        sc.apply(BASE, [Move(NHS_H, COUNCIL_H, amount_pence=1), change()])
    assert str(err.value).startswith("change 2")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"percent": -1},
        {"percent": 100.01},
        {"percent": "abc"},
        {"percent": float("nan")},
        {"percent": float("inf")},
        {"amount_pence": -5},
        {"amount_pence": 1.5},
        {"amount_pence": True},
        {"amount_pence": 5, "percent": 5},
        {},
    ],
)
def test_bad_moves_are_refused_when_made(kwargs: dict) -> None:
    with pytest.raises(ScenarioError):
        Move(COUNCIL_SP, COUNCIL_H, **kwargs)


def test_move_to_the_same_cell_is_refused() -> None:
    with pytest.raises(ScenarioError, match="same cell"):
        Move(COUNCIL_SP, COUNCIL_SP, amount_pence=1)


def test_percent_bounds_are_inclusive() -> None:
    out, _ = sc.apply(
        BASE, [Move(COUNCIL_H, NHS_H, percent=100), Move(NHS_H, COUNCIL_H, percent=0)]
    )
    assert amounts(out)[COUNCIL_H] == 0


def test_negative_allowed_only_when_asked() -> None:
    out, _ = sc.apply(BASE, [Move(COUNCIL_H, NHS_H, amount_pence=300_00, allow_negative=True)])
    assert amounts(out)[COUNCIL_H] == -100_00


def test_set_amount_changes_the_cell_and_says_so() -> None:
    out, log = sc.apply(BASE, [SetAmount(COUNCIL_H, 250_00, source="challenge 3 by Pat")])
    assert amounts(out)[COUNCIL_H] == 250_00
    assert log[0].message == (
        "set Councils × 7. Health from £200.00 to £250.00 (challenge 3 by Pat)"
    )
    assert log[0].deltas == ((COUNCIL_H, 50_00),)
    with pytest.raises(ScenarioError, match="negative"):
        SetAmount(COUNCIL_H, -1)


def test_driver_change_is_recorded_until_an_alternative_baseline_is_given() -> None:
    change = ChangeDriver("population aged 65+", current="population", cell=COUNCIL_SP)
    out, log = sc.apply(BASE, [change])
    assert amounts(out) == amounts(BASE)
    assert not log[0].applied and "recorded, not applied" in log[0].message
    alt = frame({COUNCIL_SP: 1_500_00, COUNCIL_H: 1, NHS_H: 1})
    out, log = sc.apply(BASE, [change], {"population aged 65+": alt})
    assert amounts(out) == {COUNCIL_SP: 1_500_00, COUNCIL_H: 200_00, NHS_H: 5_000_00}
    assert log[0].applied and log[0].deltas == ((COUNCIL_SP, 500_00),)


def test_whole_baseline_driver_change_applies_before_other_changes() -> None:
    alt = frame({COUNCIL_SP: 10, COUNCIL_H: 20, NHS_H: 30})
    out, log = sc.apply(
        BASE, [Move(NHS_H, COUNCIL_H, amount_pence=5), ChangeDriver("pupils")], {"pupils": alt}
    )
    assert amounts(out) == {COUNCIL_SP: 10, COUNCIL_H: 25, NHS_H: 25}
    assert [e.step for e in log] == [1, 2]
    with pytest.raises(ScenarioError, match="more than one driver change"):
        sc.apply(
            BASE,
            [ChangeDriver("pupils"), ChangeDriver("claimants")],
            {"pupils": alt, "claimants": alt},
        )


def test_adaptations_one_off_investment_table() -> None:
    """Audit Commission 2009: £2,000 of adaptations can save £6,000 a year of care."""
    ev = sc.load_evidence()["ac_adaptations"]
    change = sc.invest_from_evidence(ev, COUNCIL_H, COUNCIL_SP, 2_000_00, years=3)
    table = change.table()
    assert list(table.columns) == list(sc.INVEST_COLUMNS)
    assert table["cost_pence"].tolist() == [2_000_00, 0, 0]
    assert table["saving_pence"].tolist() == [6_000_00] * 3
    assert table["cumulative_net_pence"].tolist() == [4_000_00, 10_000_00, 16_000_00]
    out, log = sc.apply(frame({COUNCIL_SP: 10_000_00, COUNCIL_H: 0}), [change])
    assert amounts(out) == {COUNCIL_SP: 4_000_00, COUNCIL_H: 2_000_00}  # year 1
    assert log[0].table is not None and "[ac_adaptations]" in log[0].message


def test_recurring_housing_support_cashable_moves_money_between_agencies() -> None:
    """£1 of housing support saves nearly £2 (entered as 2): cashable in the NHS cell."""
    change = InvestToSave(
        COUNCIL_SP,
        NHS_H,
        amount_pence=100_00,
        ratio=Decimal(2),
        years=4,
        recurring=True,
        cashable=True,
        saving_from_year=2,
    )
    table = change.table()
    assert table["cost_pence"].tolist() == [100_00] * 4
    assert table["saving_pence"].tolist() == [0, 200_00, 200_00, 200_00]
    assert int(table["net_pence"].sum()) == 200_00
    out, _ = sc.apply(BASE, [change])  # year 1: cost only, saving starts in year 2
    assert amounts(out)[COUNCIL_SP] == 1_100_00 and amounts(out)[NHS_H] == 5_000_00
    out, _ = sc.apply(BASE, [InvestToSave(COUNCIL_SP, NHS_H, 100_00, Decimal(2), 4, True)])
    assert amounts(out) == {COUNCIL_SP: 1_100_00, COUNCIL_H: 200_00, NHS_H: 4_800_00}


def test_savings_that_are_not_cashable_leave_budgets_alone() -> None:
    change = InvestToSave(COUNCIL_SP, NHS_H, 100_00, Decimal(2), 2, cashable=False)
    out, log = sc.apply(BASE, [change])
    assert amounts(out)[NHS_H] == 5_000_00
    assert log[0].table is not None and log[0].table["cashable_saving_pence"].sum() == 0
    assert "not cashable" in log[0].message


def test_invest_to_save_refusals() -> None:
    with pytest.raises(ScenarioError, match="positive"):
        InvestToSave(COUNCIL_SP, NHS_H, 0, Decimal(2), 2)
    with pytest.raises(ScenarioError, match="years"):
        InvestToSave(COUNCIL_SP, NHS_H, 1, Decimal(2), 0)
    with pytest.raises(ScenarioError, match="ratio"):
        InvestToSave(COUNCIL_SP, NHS_H, 1, Decimal(-1), 2)
    with pytest.raises(ScenarioError, match="negative"):  # saving more than the cell holds
        sc.apply(BASE, [InvestToSave(COUNCIL_SP, COUNCIL_H, 1_000_00, Decimal(2), 1)])


def test_compare_side_by_side() -> None:
    out, _ = sc.apply(BASE, [Move(NHS_H, COUNCIL_H, amount_pence=200_00)])
    cmp = sc.compare(BASE, out)
    assert list(cmp.columns) == list(sc.COMPARE_COLUMNS)
    row = cmp.set_index(["agency_type", "function"]).loc[("Councils", "7. Health")]
    assert (row.baseline_pence, row.scenario_pence, row.difference_pence) == (
        200_00,
        400_00,
        200_00,
    )
    assert row.difference_pct == pytest.approx(100.0)
    assert int(cmp["difference_pence"].sum()) == 0


def test_changes_round_trip_through_json_dicts() -> None:
    changes = [
        Move(NHS_H, COUNCIL_H, percent=Decimal("12.5"), note="prevention"),
        SetAmount(COUNCIL_H, 7, source="challenge 1"),
        ChangeDriver("pupils", cell=COUNCIL_SP),
        InvestToSave(COUNCIL_SP, NHS_H, 100, Decimal("1.9"), 3, recurring=True, evidence_id="x"),
    ]
    dicts = [sc.change_to_dict(c) for c in changes]
    assert dicts[0]["percent"] == "12.5" and dicts[0]["from_cell"] == NHS_H.to_dict()
    assert sc.parse_changes(dicts) == changes
    with pytest.raises(ScenarioError, match="unknown change kind"):
        sc.parse_changes([{"kind": "teleport"}])
    with pytest.raises(ScenarioError, match="change 1: move: unknown field"):
        sc.parse_changes([{**dicts[0], "colour": "red"}])


def test_baseline_duplicates_are_summed_and_bad_amounts_refused() -> None:
    dup = pd.concat([BASE, BASE])
    assert amounts(sc.normalise(dup))[NHS_H] == 10_000_00
    bad = BASE.assign(amount_pence=[1.5, 2.0, 3.0])
    with pytest.raises(ScenarioError, match="baseline row 1"):
        sc.normalise(bad)
    with pytest.raises(ScenarioError, match="lacks column"):
        sc.normalise(BASE.drop(columns="function"))


def test_baseline_from_count_result() -> None:
    rows = pd.DataFrame(
        [
            ("Councils", "7", "7. Health", "apportioned", "pop", "cra_2014", "r", 5),
            ("Councils", "7", "7. Health", "actual", "", "rs", "r", 7),
        ],
        columns=list(COUNT_ROW_COLUMNS),
    )
    result = CountResult("P", ("E1",), "2010-11", 1, 2010, "r", rows, pd.DataFrame())
    assert amounts(sc.baseline_from_count(result)) == {COUNCIL_H: 12}


def test_evidence_library_names_its_sources() -> None:
    lib = sc.load_evidence()
    assert lib["ac_housing_support"].ratio == 2 and lib["ac_housing_support"].recurring
    assert lib["ac_adaptations"].ratio == 3 and not lib["ac_adaptations"].recurring
    for ev in lib.values():
        assert ev.ratio > 0 and ev.publisher and ev.title and ev.year and ev.quote
    assert "Building better lives" in lib["ac_adaptations"].citation


# -- properties --------------------------------------------------------------------------------
AGENCIES = ["Councils", "NHS and health", "Police"]
FUNCTIONS = ["7. Health", "10. Social protection"]
CELLS = [CellRef(a, f) for a in AGENCIES for f in FUNCTIONS]


@st.composite
def baselines(draw: st.DrawFn) -> dict[CellRef, int]:
    chosen = draw(st.lists(st.sampled_from(CELLS), min_size=2, max_size=len(CELLS), unique=True))
    return {c: draw(st.integers(0, 10**14)) for c in chosen}


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_sequence_of_valid_moves_conserves_the_total(data: st.DataObject) -> None:
    cells = data.draw(baselines())
    state = dict(cells)
    changes = []
    for _ in range(data.draw(st.integers(0, 12))):
        src, dst = data.draw(
            st.lists(st.sampled_from(sorted(cells)), min_size=2, max_size=2, unique=True)
        )
        if data.draw(st.booleans()):
            pct = data.draw(st.decimals(0, 100, places=3))
            move = Move(src, dst, percent=pct)
            amount = int((Decimal(state[src]) * pct / 100).quantize(Decimal(1), "ROUND_HALF_UP"))
        else:
            amount = data.draw(st.integers(0, state[src]))
            move = Move(src, dst, amount_pence=amount)
        state[src] -= amount
        state[dst] += amount
        changes.append(move)
    out, log = sc.apply(frame(cells), changes)
    assert int(out["amount_pence"].sum()) == sum(cells.values())
    assert amounts(out) == state
    assert (out["amount_pence"] >= 0).all()
    assert len(log) == len(changes)
    assert all(sum(d for _, d in e.deltas) == 0 for e in log)


@settings(max_examples=100)
@given(data=st.data())
def test_overdrawing_or_unknown_cells_always_raise(data: st.DataObject) -> None:
    cells = data.draw(baselines())
    src, dst = data.draw(
        st.lists(st.sampled_from(sorted(cells)), min_size=2, max_size=2, unique=True)
    )
    too_much = Move(src, dst, amount_pence=cells[src] + data.draw(st.integers(1, 10**6)))
    with pytest.raises(ScenarioError, match="would be negative"):
        sc.apply(frame(cells), [too_much])
    unknown = CellRef("Nobody", "0. Nothing")
    with pytest.raises(ScenarioError, match="unknown cell"):
        sc.apply(frame(cells), [Move(src, unknown, amount_pence=0)])


@given(
    st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True).filter(
            lambda d: not d.is_finite() or not 0 <= d <= 100
        ),
        st.floats().filter(lambda f: not 0 <= f <= 100),
    )
)
def test_percentages_outside_0_to_100_are_refused(pct: object) -> None:
    with pytest.raises(ScenarioError, match="percent"):
        Move(COUNCIL_SP, COUNCIL_H, percent=pct)  # type: ignore[arg-type]


def test_an_overdrawn_cell_says_how_much_can_come_out_not_an_option_the_page_lacks() -> None:
    with pytest.raises(ScenarioError) as refused:
        sc.apply(BASE, [Move(COUNCIL_H, NHS_H, amount_pence=300_00)])
    words = str(refused.value)
    assert "Councils × 7. Health would be negative (£200.00 → -£100.00)" in words
    assert "at most £200.00 can come out of it" in words and "allow negative" not in words


def test_describe_update_says_what_changed() -> None:
    move = sc.change_to_dict(Move(COUNCIL_SP, NHS_H, amount_pence=2_000_000_00))
    invest = sc.change_to_dict(InvestToSave(COUNCIL_H, NHS_H, 500_000_00, Decimal("1.5"), 5))
    flipped = {**invest, "cashable": False}
    assert sc.describe_update([], [move]) == [
        "added change 1: move £2.0m from Councils × 10. Social protection to NHS and health × "
        "7. Health"
    ]
    assert sc.describe_update([move, invest], [move, flipped], old_name="A", new_name="B") == [
        "title 'A'→'B'",
        "change 2 (invest £500k in Councils × 7. Health, non-cashable saving in NHS and health × "
        "7. Health): saving cashable→non-cashable",
    ]
    bigger = {**move, "amount_pence": 3_500_000_00}
    assert sc.describe_update([move], [bigger]) == [
        "change 1 (move £3.5m from Councils × 10. Social protection to NHS and health × "
        "7. Health): amount £2.0m→£3.5m"
    ]
    assert sc.describe_update([move, invest], [invest]) == [
        "removed change 1: move £2.0m from Councils × 10. Social protection to NHS and health × "
        "7. Health"
    ]
    assert sc.describe_update([move], [move], old_name="A", new_name="A") == ["nothing changed"]


def test_savings_split_cashable_and_not() -> None:
    cashable = InvestToSave(COUNCIL_H, NHS_H, 100_00, Decimal(2), 3)
    capacity = InvestToSave(COUNCIL_H, COUNCIL_SP, 100_00, Decimal(1), 2, cashable=False)
    _, log = sc.apply(BASE, [cashable, capacity])
    split = sc.savings(log)
    assert split.to_dict("records") == [
        {"step": 1, "label": "change 1", "cashable_pence": 600_00, "non_cashable_pence": 0},
        {"step": 2, "label": "change 2", "cashable_pence": 0, "non_cashable_pence": 200_00},
    ]
