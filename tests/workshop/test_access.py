"""Roles are enforced on the server side: every operation, tried by every role, on both databases.

Forbidden actions are refused with PermissionDenied, change nothing, and leave a ``denied`` event;
allowed ones write exactly one audit event when they change state and none when they only read.
Expired, revoked, unknown and other workshops' tokens are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from totalplace.workshop import access
from totalplace.workshop.access import PERMISSIONS, Action, PermissionDenied, TokenRefused
from totalplace.workshop.models import Role
from totalplace.workshop.scenarios import CellRef, Move
from totalplace.workshop.service import NotFound

from .conftest import Room

MOVE = Move(
    CellRef("NHS and health", "7. Health"), CellRef("Councils", "7. Health"), amount_pence=1_00
)


def _challenge(r: Room) -> int:
    return r.svc.create_challenge(r.partner, r.cell(), "PCT spend is missing", amount_pence=1).id


def _scenario(r: Room) -> int:
    return r.svc.create_scenario(r.partner, "Shift to prevention").id


def _snapshot(r: Room) -> int:
    return r.svc.freeze_snapshot(r.facilitator, r.baseline).id


# name: (action, writes an event?, setup run by the facilitator/partner, the call as `token`)
Op = tuple[Action, bool, Callable[[Room], Any], Callable[[Room, str, Any], Any]]
OPS: dict[str, Op] = {
    "whoami": (Action.READ, False, lambda r: None, lambda r, t, _: r.svc.whoami(t)),
    "get_workshop": (Action.READ, False, lambda r: None, lambda r, t, _: r.svc.get_workshop(t)),
    "list_challenges": (Action.READ, False, _challenge, lambda r, t, _: r.svc.list_challenges(t)),
    "history": (Action.READ, False, _challenge, lambda r, t, _: r.svc.history(t, r.cell())),
    "list_scenarios": (Action.READ, False, _scenario, lambda r, t, _: r.svc.list_scenarios(t)),
    "run_scenario": (
        Action.READ,
        False,
        _scenario,
        lambda r, t, sid: r.svc.run_scenario(t, sid, r.baseline),
    ),
    "list_snapshots": (Action.READ, False, _snapshot, lambda r, t, _: r.svc.list_snapshots(t)),
    "export_pack": (
        Action.READ,
        True,
        _snapshot,
        lambda r, t, sid: r.svc.export_pack(t, sid, r.tmp / t[:8]),
    ),
    "audit": (Action.READ, False, lambda r: None, lambda r, t, _: r.svc.audit(t)),
    "create_challenge": (
        Action.CHALLENGE,
        True,
        lambda r: None,
        lambda r, t, _: r.svc.create_challenge(t, r.cell(), "too low"),
    ),
    "create_scenario": (
        Action.PROPOSE_SCENARIO,
        True,
        lambda r: None,
        lambda r, t, _: r.svc.create_scenario(t, "Mine", [MOVE]),
    ),
    "update_scenario": (
        Action.PROPOSE_SCENARIO,
        True,
        _scenario,
        lambda r, t, sid: r.svc.update_scenario(t, sid, 1, [MOVE]),
    ),
    "copy_scenario": (
        Action.PROPOSE_SCENARIO,
        True,
        _scenario,
        lambda r, t, sid: r.svc.copy_scenario(t, sid, f"Copy by {t[:6]}"),
    ),
    "comment_scenario": (
        Action.COMMENT,
        True,
        _scenario,
        lambda r, t, sid: r.svc.comment_scenario(t, sid, "what about the pooled budget?"),
    ),
    "scenario_comments": (
        Action.READ,
        False,
        _scenario,
        lambda r, t, sid: r.svc.scenario_comments(t, sid),
    ),
    "accept_challenge": (
        Action.DECIDE_CHALLENGE,
        True,
        _challenge,
        lambda r, t, cid: r.svc.accept_challenge(t, cid, "agreed"),
    ),
    "reject_challenge": (
        Action.DECIDE_CHALLENGE,
        True,
        _challenge,
        lambda r, t, cid: r.svc.reject_challenge(t, cid, "double counted"),
    ),
    "freeze_snapshot": (
        Action.FREEZE_SNAPSHOT,
        True,
        lambda r: None,
        lambda r, t, _: r.svc.freeze_snapshot(t, r.baseline),
    ),
    "issue_token": (
        Action.MANAGE_TOKENS,
        True,
        lambda r: None,
        lambda r, t, _: r.svc.issue_token(t, "partner", "Priya (police)"),
    ),
    "revoke_token": (
        Action.MANAGE_TOKENS,
        True,
        lambda r: r.observer_token_id,
        lambda r, t, tid: r.svc.revoke_token(t, tid, why="left the room"),
    ),
    "list_tokens": (
        Action.MANAGE_TOKENS,
        False,
        lambda r: None,
        lambda r, t, _: r.svc.list_tokens(t),
    ),
}
ROLES = [r.value for r in Role]


def test_every_action_is_in_the_permission_table() -> None:
    assert set(PERMISSIONS) == set(Action)
    assert {op[0] for op in OPS.values()} == set(Action)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(OPS))
def test_each_role_can_do_exactly_what_it_may(room: Room, role: str, name: str) -> None:
    r = room
    action, writes, setup, call = OPS[name]
    arg = setup(r)
    before, denied_before = r.event_count(), r.event_count(denied=True)
    if access.allowed(Role(role), action):
        call(r, r.token(role), arg)
        assert r.event_count() == before + (1 if writes else 0)
        assert r.event_count(denied=True) == denied_before
    else:
        with pytest.raises(PermissionDenied, match=f"\\({role}\\) may not"):
            call(r, r.token(role), arg)
        assert r.event_count() == before  # nothing happened...
        denied = [e for e in r.svc.audit(r.facilitator) if e.action == "denied"]
        assert len(denied) == denied_before + 1  # ...but the attempt is on record
        assert denied[-1].role == role and denied[-1].payload == {"action": action.value}


@pytest.mark.parametrize("name", list(OPS))
def test_an_expired_token_is_refused_everywhere(room: Room, clock, name: str) -> None:
    r = room
    _, _, setup, call = OPS[name]
    arg = setup(r)
    clock.advance(days=access.DEFAULT_TTL.days, seconds=1)
    with pytest.raises(TokenRefused, match="expired"):
        call(r, r.facilitator, arg)


def test_a_revoked_token_is_refused_at_once(room: Room) -> None:
    issued = room.svc.issue_token(room.facilitator, "partner", "Dev (DWP)", ttl=timedelta(hours=3))
    assert room.svc.whoami(issued.token).display_name == "Dev (DWP)"
    room.svc.revoke_token(room.facilitator, issued.token_id, why="wrong person")
    with pytest.raises(TokenRefused, match="revoked"):
        room.svc.create_challenge(issued.token, room.cell(), "late challenge")
    with pytest.raises(TokenRefused, match="revoked"):
        room.svc.list_challenges(issued.token)
    assert room.svc.list_challenges(room.partner) == []
    events = room.svc.audit(room.facilitator, target=f"token:{issued.token_id}")
    assert [e.action for e in events] == ["token.issue", "token.revoke"]
    assert events[-1].why == "wrong person"


def test_short_lived_token_expires_on_time(room: Room, clock) -> None:
    issued = room.svc.issue_token(room.facilitator, "observer", "Guest", ttl=timedelta(hours=2))
    clock.advance(hours=1, minutes=59)
    assert room.svc.whoami(issued.token).role is Role.OBSERVER
    clock.advance(minutes=2)
    with pytest.raises(TokenRefused, match="expired"):
        room.svc.whoami(issued.token)


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 43])
def test_unknown_tokens_are_refused(room: Room, token: str) -> None:
    with pytest.raises(TokenRefused):
        room.svc.list_challenges(token)


def test_tokens_are_stored_only_as_hashes(room: Room) -> None:
    from sqlalchemy import select

    from totalplace.workshop.models import AccessToken

    with room.svc._sessions() as s:
        stored = set(s.scalars(select(AccessToken.token_hash)))
    for plain in (room.facilitator, room.partner, room.observer):
        assert len(plain) >= 43 and plain not in stored
        assert access.hash_token(plain) in stored
    listed = room.svc.list_tokens(room.facilitator)
    assert {t.role for t in listed} == set(Role)
    assert not any(hasattr(t, "token") or hasattr(t, "token_hash") for t in listed)


def test_a_token_reaches_only_its_own_workshop(room: Room) -> None:
    other = room.svc.create_workshop("Bradford", ["E08000032"], "2010-11", None, "Bo")
    cid = room.svc.create_challenge(room.partner, room.cell(), "check PCT share").id
    sid = room.svc.create_scenario(room.partner, "Mine").id
    with pytest.raises(NotFound):
        room.svc.accept_challenge(other.token, cid, "taking over")
    with pytest.raises(NotFound):
        room.svc.get_scenario(other.token, sid)
    with pytest.raises(NotFound):
        room.svc.revoke_token(other.token, room.observer_token_id)
    assert room.svc.list_challenges(other.token) == []
    assert [c.status.value for c in room.svc.list_challenges(room.partner)] == ["open"]


def test_the_last_facilitator_token_cannot_be_revoked(room: Room) -> None:
    from totalplace.workshop.service import Conflict

    me = room.svc.whoami(room.facilitator)
    with pytest.raises(Conflict, match="last facilitator"):
        room.svc.revoke_token(room.facilitator, me.token_id)
    co = room.svc.issue_token(room.facilitator, "facilitator", "Co-facilitator")
    room.svc.revoke_token(co.token, me.token_id, why="handing over")
    with pytest.raises(TokenRefused):
        room.svc.whoami(room.facilitator)
