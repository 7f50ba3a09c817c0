"""Scenarios have owners: a partner changes only their own; others copy them (a new scenario
they own) or comment; a facilitator may change any. Enforced in the service, so the API and the
dashboard obey alike; refusals are clear and on the audit trail. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from totalplace.workshop import PermissionDenied, db
from totalplace.workshop.access import OwnershipRefused
from totalplace.workshop.scenarios import CellRef, InvestToSave, Move
from totalplace.workshop.service import Conflict, WorkshopService

from .conftest import Room

NHS_H = CellRef("NHS and health", "7. Health")
COUNCIL_H = CellRef("Councils", "7. Health")
MOVE = Move(NHS_H, COUNCIL_H, amount_pence=2_000_000_00)


def _second_partner(room: Room) -> str:
    return room.svc.issue_token(room.facilitator, "partner", "Quinn (police)").token


def test_partner_editing_another_partners_scenario_is_refused(room: Room) -> None:
    sid = room.svc.create_scenario(room.partner, "Pat's plan", [MOVE]).id
    quinn = _second_partner(room)
    with pytest.raises(OwnershipRefused) as refused:
        room.svc.update_scenario(quinn, sid, 1, [])
    words = str(refused.value)
    assert 'Quinn (police) (partner) may not change the scenario "Pat\'s plan"' in words
    assert "belongs to Pat (PCT)" in words and "Copy it" in words
    assert isinstance(refused.value, PermissionDenied)  # the API answers 403, the page "Refused"
    saved = room.svc.get_scenario(room.observer, sid)
    assert saved.version == 1 and len(saved.changes) == 1  # nothing was overwritten
    denied = [e for e in room.svc.audit(room.facilitator) if e.action == "denied"]
    assert denied[-1].actor == "Quinn (police)"
    assert denied[-1].payload == {
        "action": "propose_scenario",
        "scenario_id": sid,
        "refused": "not the scenario's owner",
    }
    assert not room.svc.may_edit_scenario(quinn, sid)
    assert room.svc.may_edit_scenario(room.partner, sid)


def test_a_partner_copies_another_partners_scenario_and_owns_the_copy(room: Room) -> None:
    sid = room.svc.create_scenario(room.partner, "Pat's plan", [MOVE]).id
    quinn = _second_partner(room)
    copy = room.svc.copy_scenario(quinn, sid)
    assert copy.id != sid and copy.name == "Pat's plan (Quinn (police))" and copy.version == 1
    assert copy.changes == room.svc.get_scenario(quinn, sid).changes
    assert room.svc.copy_scenario(quinn, sid).name == "Pat's plan (Quinn (police)) 2"
    edited = room.svc.update_scenario(quinn, copy.id, 1, [])
    assert edited.version == 2 and edited.changes == ()
    assert room.svc.get_scenario(quinn, sid).changes == copy.changes  # the original is intact
    with pytest.raises(OwnershipRefused):  # and Pat may not edit Quinn's copy
        room.svc.update_scenario(room.partner, copy.id, 2, [MOVE])
    with pytest.raises(Conflict, match="exists"):
        room.svc.copy_scenario(quinn, sid, "Pat's plan")
    event = room.svc.audit(room.facilitator, target=f"scenario:{copy.id}")[0]
    assert event.action == "scenario.copy" and event.actor == "Quinn (police)"
    assert event.payload["from_scenario_id"] == sid and event.payload["from_version"] == 1


def test_others_comment_on_a_scenario_they_cannot_edit(room: Room) -> None:
    sid = room.svc.create_scenario(room.partner, "Pat's plan", [MOVE]).id
    quinn = _second_partner(room)
    room.svc.comment_scenario(quinn, sid, "The police share looks high")
    room.svc.comment_scenario(room.facilitator, sid, "Let's discuss after lunch")
    comments = room.svc.scenario_comments(room.observer, sid)
    assert [(c.actor, c.payload["text"]) for c in comments] == [
        ("Quinn (police)", "The police share looks high"),
        ("Fiona Facilitator", "Let's discuss after lunch"),
    ]
    with pytest.raises(PermissionDenied, match="may not comment"):
        room.svc.comment_scenario(room.observer, sid, "press comment")
    with pytest.raises(Exception, match="1 to 10000 characters"):
        room.svc.comment_scenario(quinn, sid, "  ")
    assert room.svc.get_scenario(room.observer, sid).version == 1  # comments change nothing


def test_the_facilitator_may_edit_any_scenario(room: Room) -> None:
    sid = room.svc.create_scenario(room.partner, "Pat's plan", [MOVE]).id
    saved = room.svc.update_scenario(room.facilitator, sid, 1, [], name="Pat's plan, trimmed")
    assert saved.version == 2 and saved.name == "Pat's plan, trimmed"
    assert saved.owner_token_id == room.svc.whoami(room.partner).token_id  # still Pat's
    assert room.svc.may_edit_scenario(room.facilitator, sid)
    again = room.svc.update_scenario(room.partner, sid, 2, [MOVE])  # the owner still may
    assert again.version == 3


def test_the_audit_of_an_update_says_what_changed(room: Room) -> None:
    invest = InvestToSave(COUNCIL_H, NHS_H, amount_pence=1_000_000_00, ratio=2, years=3)
    sid = room.svc.create_scenario(room.partner, "Prevention", [invest]).id
    room.svc.update_scenario(
        room.partner,
        sid,
        1,
        [InvestToSave(COUNCIL_H, NHS_H, 1_000_000_00, 2, 3, cashable=False), MOVE],
        name="Prevention first",
    )
    update = room.svc.audit(room.facilitator, target=f"scenario:{sid}")[-1]
    assert update.payload["summary"] == [
        "title 'Prevention'→'Prevention first'",
        "change 1 (invest £1.0m in Councils × 7. Health, non-cashable saving in NHS and health "
        "× 7. Health): saving cashable→non-cashable",
        "added change 2: move £2.0m from NHS and health × 7. Health to Councils × 7. Health",
    ]


def test_scenarios_made_before_owners_get_their_creators_token(empty_db_url: str) -> None:
    """Migration 0002 fills the owner where one token of the workshop has the creator's name."""
    db.upgrade(empty_db_url, "0001_initial")
    engine = db.make_engine(empty_db_url)
    stamp = "'2026-11-01 10:00:00'"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO workshops (id, place_name, place_codes, year, created_by, created_at) "
                f"VALUES (1, 'Kent', '[\"E07000105\"]', '2010-11', 'Fay', {stamp})"
            )
        )
        for tid, role, name in (
            (1, "facilitator", "Fay"),
            (2, "partner", "Pat"),
            (3, "partner", "Sam"),
            (4, "partner", "Sam"),
        ):
            conn.execute(
                text(
                    "INSERT INTO tokens (id, workshop_id, token_hash, role, display_name, "
                    f"created_at, expires_at) VALUES ({tid}, 1, 'h{tid}', '{role}', '{name}', "
                    f"{stamp}, '2027-01-01 00:00:00')"
                )
            )
        for sid, by in ((1, "Pat"), (2, "Sam")):
            conn.execute(
                text(
                    "INSERT INTO scenarios (id, workshop_id, name, changes, version, created_by, "
                    f"created_at, updated_by, updated_at) VALUES ({sid}, 1, 's{sid}', '[]', 1, "
                    f"'{by}', {stamp}, '{by}', {stamp})"
                )
            )
    engine.dispose()
    db.upgrade(empty_db_url)
    svc = WorkshopService.from_url(empty_db_url)
    try:
        with svc._sessions() as s:
            owners = dict(s.execute(text("SELECT id, owner_token_id FROM scenarios")).all())
    finally:
        svc.close()
    assert owners == {1: 2, 2: None}  # two tokens named Sam: only a facilitator may edit s2
