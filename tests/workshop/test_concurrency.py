"""Two people saving the same scenario: real threads, separate engines and connections, on SQLite
and PostgreSQL. The first save wins; the second is told (StaleVersion, with the saved state) and
can merge; nothing is ever overwritten silently."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from totalplace.workshop.scenarios import CellRef
from totalplace.workshop.service import ScenarioInfo, StaleVersion, WorkshopService

from .conftest import Room

NHS_H = CellRef("NHS and health", "7. Health")
COUNCIL_H = CellRef("Councils", "7. Health")
COUNCIL_SP = CellRef("Councils", "10. Social protection")


def move(pence: int, to: CellRef = COUNCIL_H) -> dict[str, Any]:
    return {
        "kind": "move",
        "from_cell": NHS_H.to_dict(),
        "to_cell": to.to_dict(),
        "amount_pence": pence,
        "allow_negative": False,
        "percent": None,
        "note": "",
    }


def run_threads(*targets: Callable[[], Any]) -> list[Any]:
    """Run each target in its own thread; return each one's result or exception."""
    results: list[Any] = [None] * len(targets)

    def wrap(i: int, fn: Callable[[], Any]) -> None:
        try:
            results[i] = fn()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=wrap, args=(i, t)) for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a writer hung"
    return results


@pytest.mark.parametrize("round_", range(3))
def test_two_writers_from_the_same_version_one_wins_one_is_told(
    room: Room, make_service: Callable[[], WorkshopService], round_: int
) -> None:
    sid = room.svc.create_scenario(room.partner, "Shared").id
    # the scenario's owner and a facilitator (the only others who may edit it)
    other = room.svc.issue_token(room.facilitator, "facilitator", "Co-facilitator").token
    svc_a, svc_b = make_service(), make_service()
    barrier = threading.Barrier(2, timeout=30)

    def writer(svc: WorkshopService, token: str, changes: list[dict[str, Any]]) -> ScenarioInfo:
        loaded = svc.get_scenario(token, sid)
        barrier.wait()  # both have loaded version 1 before either saves
        return svc.update_scenario(token, sid, loaded.version, changes)

    mine, theirs = [move(100 + round_)], [move(200 + round_, COUNCIL_SP)]
    results = run_threads(
        lambda: writer(svc_a, room.partner, mine), lambda: writer(svc_b, other, theirs)
    )
    winners = [r for r in results if isinstance(r, ScenarioInfo)]
    losers = [r for r in results if isinstance(r, StaleVersion)]
    assert len(winners) == 1 and len(losers) == 1, results
    final = room.svc.get_scenario(room.observer, sid)
    assert final.version == 2 and list(final.changes) == list(winners[0].changes)
    stale = losers[0]
    assert stale.expected_version == 1 and stale.current == final
    assert "not saved" in str(stale)
    # the loser merges the saved changes with theirs and saves on top of version 2
    loser_changes = theirs if list(winners[0].changes) == mine else mine
    merged = room.svc.update_scenario(
        room.partner, sid, stale.current.version, [*stale.current.changes, *loser_changes]
    )
    assert merged.version == 3 and len(merged.changes) == 2
    updates = room.svc.audit(room.facilitator, target=f"scenario:{sid}")
    assert [e.payload.get("version") for e in updates] == [1, 2, 3]


def test_a_save_that_lands_while_you_are_inside_your_transaction_is_not_overwritten(
    room: Room, make_service: Callable[[], WorkshopService], db_url: str
) -> None:
    """A loads and saves slowly; B loads during A's transaction and saves after A commits.

    PostgreSQL: B read version 1 too, so its UPDATE ... WHERE version = 1 matches no row once A
    commits (StaleDataError -> StaleVersion). SQLite: B's transaction cannot start until A's ends
    (BEGIN IMMEDIATE), so B sees version 2 and is refused before writing. Either way B is told.
    """
    sid = room.svc.create_scenario(room.partner, "Shared").id
    svc_a, svc_b = make_service(), make_service()
    a_read, b_read, a_wrote = threading.Event(), threading.Event(), threading.Event()
    postgres = db_url.startswith("postgresql")
    engine_a = svc_a._sessions.kw["bind"]
    real_get = WorkshopService._get

    def slow_get(self: WorkshopService, *args: Any, **kwargs: Any) -> Any:
        row = real_get(self, *args, **kwargs)
        if self is svc_a:
            a_read.set()
            b_read.wait(timeout=10 if postgres else 0.5)  # on SQLite B cannot read yet
        elif self is svc_b:
            b_read.set()
            assert a_wrote.wait(timeout=30)  # B writes only after A's UPDATE
        return row

    def after_flush(session: Session, _ctx: Any) -> None:
        if session.bind is engine_a:
            a_wrote.set()

    WorkshopService._get = slow_get  # type: ignore[method-assign]
    event.listen(Session, "after_flush", after_flush)
    try:

        def b() -> ScenarioInfo:
            assert a_read.wait(timeout=30)
            return svc_b.update_scenario(room.partner, sid, 1, [move(2)])

        res_a, res_b = run_threads(
            lambda: svc_a.update_scenario(room.partner, sid, 1, [move(1)]), b
        )
    finally:
        WorkshopService._get = real_get  # type: ignore[method-assign]
        event.remove(Session, "after_flush", after_flush)
    assert isinstance(res_a, ScenarioInfo) and res_a.version == 2
    assert isinstance(res_b, StaleVersion), res_b
    assert res_b.current.changes == res_a.changes
    if postgres:
        assert isinstance(res_b.__context__, StaleDataError)  # the database refused the UPDATE
    final = room.svc.get_scenario(room.observer, sid)
    assert final.version == 2 and final.changes[0]["amount_pence"] == 1


def test_many_writers_merging_on_conflict_lose_nothing(
    room: Room, make_service: Callable[[], WorkshopService]
) -> None:
    sid = room.svc.create_scenario(room.partner, "Busy").id
    writers, saves = 3, 4

    def writer(n: int) -> int:
        svc = make_service()
        conflicts = 0
        for k in range(saves):
            current = svc.get_scenario(room.partner, sid)
            while True:
                try:
                    svc.update_scenario(
                        room.partner, sid, current.version, [*current.changes, move(1000 * n + k)]
                    )
                    break
                except StaleVersion as stale:
                    conflicts += 1
                    current = stale.current  # merge: start again from what is saved
        return conflicts

    results = run_threads(*(lambda n=n: writer(n) for n in range(writers)))
    assert all(isinstance(r, int) for r in results), results
    final = room.svc.get_scenario(room.observer, sid)
    assert final.version == 1 + writers * saves
    assert sorted(c["amount_pence"] for c in final.changes) == sorted(
        1000 * n + k for n in range(writers) for k in range(saves)
    )
    versions = [
        e.payload["version"] for e in room.svc.audit(room.facilitator, target=f"scenario:{sid}")
    ]
    assert versions == list(range(1, 2 + writers * saves))


def test_freezing_the_same_state_at_the_same_moment_gives_one_snapshot(
    room: Room, make_service: Callable[[], WorkshopService]
) -> None:
    co = room.svc.issue_token(room.facilitator, "facilitator", "Co-facilitator").token
    svc_a, svc_b = make_service(), make_service()
    barrier = threading.Barrier(2, timeout=30)

    def freeze(svc: WorkshopService, token: str) -> Any:
        barrier.wait()
        return svc.freeze_snapshot(token, room.baseline)

    a, b = run_threads(lambda: freeze(svc_a, room.facilitator), lambda: freeze(svc_b, co))
    assert a.id == b.id and a.content_hash == b.content_hash, (a, b)
    assert sorted([a.reused, b.reused]) == [False, True]
    assert len(room.svc.list_snapshots(room.observer)) == 1
