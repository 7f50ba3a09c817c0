"""Challenges, scenarios and the audit trail through the service, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from totalplace.workshop import ACCEPTED_SCENARIO, WorkshopError
from totalplace.workshop.models import ChallengeStatus
from totalplace.workshop.scenarios import CellRef, Move, ScenarioError
from totalplace.workshop.service import Conflict, FigureCell, WorkshopService

from .conftest import PLACE, YEAR, Room

NHS_H = CellRef("NHS and health", "7. Health")
COUNCIL_H = CellRef("Councils", "7. Health")


def test_challenge_is_pinned_to_a_figure_cell(room: Room) -> None:
    c = room.svc.create_challenge(
        room.partner, room.cell(), "Public health moved to councils", amount_pence=25_000_000_00
    )
    assert c.cell == FigureCell(PLACE, YEAR, "Councils", "7. Health")
    assert (c.author, c.status, c.reason) == ("Pat (PCT)", ChallengeStatus.OPEN, None)
    theme = FigureCell(PLACE, YEAR, "NHS and health", theme="Older people")
    t = room.svc.create_challenge(room.partner, theme, "use over-65s", driver="population 65+")
    assert (t.cell.theme, t.proposed_driver, t.proposed_amount_pence) == (
        "Older people",
        "population 65+",
        None,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"amount_pence": -1}, "whole pence"),
        ({"amount_pence": 1.5}, "whole pence"),
        ({"amount_pence": 1, "driver": "pupils"}, "not both"),
        ({"driver": "  "}, "driver"),
    ],
)
def test_bad_proposals_are_refused(room: Room, kwargs: dict, message: str) -> None:
    with pytest.raises(WorkshopError, match=message):
        room.svc.create_challenge(room.partner, room.cell(), "text", **kwargs)
    assert room.svc.list_challenges(room.partner) == []


def test_cells_must_be_this_workshops_place_and_year(room: Room) -> None:
    with pytest.raises(WorkshopError, match="this workshop is on Birmingham 2010-11"):
        room.svc.create_challenge(room.partner, FigureCell(PLACE, "2009-10", "Councils", "7"), "x")
    with pytest.raises(WorkshopError, match="either a function or a theme"):
        FigureCell(PLACE, YEAR, "Councils", "7. Health", "Older people")


def test_accepted_corrections_feed_a_scenario_never_the_baseline(room: Room) -> None:
    c1 = room.svc.create_challenge(room.partner, room.cell(), "too low", amount_pence=30_000_000_00)
    c2 = room.svc.create_challenge(
        room.partner, room.cell("NHS and health"), "pupils?", driver="registered patients"
    )
    room.svc.accept_challenge(room.facilitator, c1.id, "the PCT confirmed the transfer")
    accepted = room.svc.accept_challenge(
        room.facilitator, c2.id, "better driver", scenario_name="Drivers"
    )
    assert (
        accepted.status is ChallengeStatus.ACCEPTED and accepted.decided_by == "Fiona Facilitator"
    )
    scen = {s.name: s for s in room.svc.list_scenarios(room.observer)}
    assert set(scen) == {ACCEPTED_SCENARIO, "Drivers"}
    assert scen[ACCEPTED_SCENARIO].parsed()[0].amount_pence == 30_000_000_00  # type: ignore[union-attr]
    assert accepted.scenario_id == scen["Drivers"].id
    out, log = room.svc.run_scenario(room.observer, scen[ACCEPTED_SCENARIO].id, room.baseline)
    cell = out.set_index(["agency_type", "function"]).loc[("Councils", "7. Health")]
    assert cell.amount_pence == 30_000_000_00 and "challenge" in log[0].message
    assert room.baseline.loc[1, "amount_pence"] == 20_000_000_00  # baseline untouched
    _, log = room.svc.run_scenario(room.observer, scen["Drivers"].id, room.baseline)
    assert not log[0].applied  # a driver change is recorded until a recomputed baseline is given


def test_rejection_needs_a_reason_and_decisions_are_final(room: Room) -> None:
    c = room.svc.create_challenge(room.partner, room.cell(), "double counted?")
    with pytest.raises(WorkshopError, match="reason"):
        room.svc.reject_challenge(room.facilitator, c.id, "  ")
    rejected = room.svc.reject_challenge(room.facilitator, c.id, "grant counted once already")
    assert (rejected.status, rejected.reason) == (
        ChallengeStatus.REJECTED,
        "grant counted once already",
    )
    with pytest.raises(Conflict, match="already rejected"):
        room.svc.accept_challenge(room.facilitator, c.id, "changed my mind")
    assert room.svc.list_scenarios(room.facilitator) == []  # no correction, no scenario
    assert [x.id for x in room.svc.list_challenges(room.partner, status="rejected")] == [c.id]


def test_history_shows_a_figures_challenges_and_their_events(room: Room) -> None:
    a = room.svc.create_challenge(room.partner, room.cell(), "too low", amount_pence=1)
    room.svc.create_challenge(room.partner, room.cell("Police", "7. Health"), "elsewhere")
    b = room.svc.create_challenge(room.facilitator, room.cell(), "and this")
    room.svc.reject_challenge(room.facilitator, a.id, "no evidence")
    h = room.svc.history(room.observer, room.cell())
    assert [x.challenge.id for x in h.challenges] == [a.id, b.id]
    assert [e.action for e in h.challenges[0].events] == ["challenge.create", "challenge.reject"]
    assert h.challenges[0].events[1].why == "no evidence"
    assert h.challenges[0].events[1].role == "facilitator"
    assert h.challenges[0].events[0].at.tzinfo is not None


def test_every_change_writes_one_event_with_who_when_what_why(room: Room) -> None:
    sid = room.svc.create_scenario(
        room.partner, "Prevention", [Move(NHS_H, COUNCIL_H, percent=2)], why="test"
    ).id
    room.svc.update_scenario(room.partner, sid, 1, [], why="start again")
    events = room.svc.audit(room.observer, target=f"scenario:{sid}")
    assert [(e.actor, e.role, e.action, e.why) for e in events] == [
        ("Pat (PCT)", "partner", "scenario.create", "test"),
        ("Pat (PCT)", "partner", "scenario.update", "start again"),
    ]
    assert events[1].payload == {
        "from_version": 1,
        "version": 2,
        "name": "Prevention",
        "summary": [
            "removed change 1: move 2% from NHS and health × 7. Health to Councils × 7. Health"
        ],
        "changes": [],
    }
    assert events[0].at <= events[1].at and events[0].at.utcoffset().total_seconds() == 0


def test_the_event_is_in_the_same_transaction_as_the_change(room: Room, monkeypatch) -> None:
    """If anything fails after the event is written, neither the change nor the event stays."""
    before = room.svc.audit(room.facilitator)
    real = WorkshopService._event

    def event_then_fail(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise RuntimeError("crash after the audit event")

    monkeypatch.setattr(WorkshopService, "_event", event_then_fail)
    with pytest.raises(RuntimeError):
        room.svc.create_challenge(room.partner, room.cell(), "lost?")
    with pytest.raises(RuntimeError):
        room.svc.create_scenario(room.partner, "lost?")
    monkeypatch.undo()
    assert room.svc.list_challenges(room.partner) == []
    assert room.svc.list_scenarios(room.partner) == []
    assert room.svc.audit(room.facilitator) == before


def test_invalid_scenarios_are_refused_before_saving(room: Room) -> None:
    with pytest.raises(ScenarioError, match="percent"):
        room.svc.create_scenario(
            room.partner,
            "Bad",
            [
                {
                    "kind": "move",
                    "from_cell": NHS_H.to_dict(),
                    "to_cell": COUNCIL_H.to_dict(),
                    "percent": "120",
                }
            ],
        )
    room.svc.create_scenario(room.partner, "Good")
    with pytest.raises(Conflict, match="exists"):
        room.svc.create_scenario(room.facilitator, "Good")
    assert [s.name for s in room.svc.list_scenarios(room.partner)] == ["Good"]


def test_scenarios_with_unknown_cells_are_refused_when_run(room: Room) -> None:
    sid = room.svc.create_scenario(
        room.partner,
        "Ghost",
        [Move(CellRef("Ghost agency", "7. Health"), COUNCIL_H, amount_pence=1)],
    ).id
    with pytest.raises(ScenarioError, match="unknown cell Ghost agency"):
        room.svc.run_scenario(room.partner, sid, room.baseline)
