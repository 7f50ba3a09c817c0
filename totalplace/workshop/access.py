"""Who may do what in a workshop: per-workshop tokens, their roles, and the permission table.

A token is ``secrets.token_urlsafe(32)``, shown once when issued; the database keeps only its
SHA-256. Every service call resolves the caller from the token on the server side (expired and
revoked tokens are refused) and checks the role against ``PERMISSIONS``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from totalplace.workshop.models import AccessToken, Role, WorkshopError

DEFAULT_TTL = timedelta(days=30)
MAX_TTL = timedelta(days=366)


class PermissionDenied(WorkshopError):
    """The caller's token does not allow this action (or is unknown, expired or revoked)."""


class TokenRefused(PermissionDenied):
    """The token is unknown, expired or revoked."""


class Refused(PermissionDenied):
    """A valid token was refused an action; the service records it as a ``denied`` event with
    ``details`` (what was refused, beyond the action)."""

    def __init__(
        self, caller: Caller, action: Action, message: str, details: dict[str, object] | None = None
    ) -> None:
        self.caller = caller
        self.action = action
        self.details = dict(details or {})
        super().__init__(message)


class RoleRefused(Refused):
    """The token is valid but its role does not allow the action."""

    def __init__(self, caller: Caller, action: Action) -> None:
        allowed = ", ".join(sorted(r.value for r in PERMISSIONS[action]))
        super().__init__(
            caller,
            action,
            f"{caller.display_name} ({caller.role.value}) may not {action.describe}: "
            f"only {allowed} may",
        )


class OwnershipRefused(Refused):
    """The role may edit scenarios, but not this one: it belongs to someone else."""

    def __init__(self, caller: Caller, scenario_id: int, name: str, owner: str) -> None:
        super().__init__(
            caller,
            Action.PROPOSE_SCENARIO,
            f"{caller.display_name} ({caller.role.value}) may not change the scenario "
            f"{name!r}: it belongs to {owner}, and only its owner or a facilitator may edit it. "
            "Copy it to make your own version, or comment on it",
            {"scenario_id": scenario_id, "refused": "not the scenario's owner"},
        )


class Action(StrEnum):
    READ = "read"
    CHALLENGE = "challenge"
    PROPOSE_SCENARIO = "propose_scenario"
    COMMENT = "comment"
    DECIDE_CHALLENGE = "decide_challenge"
    FREEZE_SNAPSHOT = "freeze_snapshot"
    MANAGE_TOKENS = "manage_tokens"

    @property
    def describe(self) -> str:
        return {
            "read": "read the workshop",
            "challenge": "create challenges",
            "propose_scenario": "create or change scenarios",
            "comment": "comment on scenarios",
            "decide_challenge": "accept or reject challenges",
            "freeze_snapshot": "freeze snapshots",
            "manage_tokens": "issue, list or revoke tokens",
        }[self.value]


_F, _P, _O = Role.FACILITATOR, Role.PARTNER, Role.OBSERVER
#: The one permission table. The facilitator may also raise challenges and edit scenarios
#: (to record what is said in the room); partners cannot decide, freeze or manage tokens.
#: Scenarios also have an owner (``may_edit``): a partner changes only their own.
PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.READ: frozenset({_F, _P, _O}),
    Action.CHALLENGE: frozenset({_F, _P}),
    Action.PROPOSE_SCENARIO: frozenset({_F, _P}),
    Action.COMMENT: frozenset({_F, _P}),
    Action.DECIDE_CHALLENGE: frozenset({_F}),
    Action.FREEZE_SNAPSHOT: frozenset({_F}),
    Action.MANAGE_TOKENS: frozenset({_F}),
}


def allowed(role: Role, action: Action) -> bool:
    return role in PERMISSIONS[action]


@dataclass(frozen=True)
class Caller:
    """The person behind a token, as resolved by the server."""

    token_id: int
    workshop_id: int
    role: Role
    display_name: str


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def resolve(session: Session, token: str, now: datetime) -> Caller:
    """The caller behind ``token``; TokenRefused if it is unknown, expired or revoked."""
    if not isinstance(token, str) or not token:
        raise TokenRefused("no token given: join the workshop with the token you were sent")
    row = session.scalars(
        select(AccessToken).where(AccessToken.token_hash == hash_token(token))
    ).one_or_none()
    if row is None:
        raise TokenRefused("token not recognised: ask the facilitator for a new one")
    if row.revoked_at is not None:
        raise TokenRefused(f"the token of {row.display_name} was revoked: ask the facilitator")
    if row.expires_at <= now:
        raise TokenRefused(
            f"the token of {row.display_name} expired on {row.expires_at:%Y-%m-%d %H:%M} UTC: "
            "ask the facilitator for a new one"
        )
    return Caller(row.id, row.workshop_id, Role(row.role), row.display_name)


def require(caller: Caller, action: Action) -> None:
    if not allowed(caller.role, action):
        raise RoleRefused(caller, action)


def may_edit(caller: Caller, owner_token_id: int | None) -> bool:
    """True when ``caller`` may change a scenario owned by ``owner_token_id``: its owner, or any
    facilitator. A scenario with no recorded owner (made before owners were kept) is the
    facilitators' alone."""
    if not allowed(caller.role, Action.PROPOSE_SCENARIO):
        return False
    return caller.role is Role.FACILITATOR or (
        owner_token_id is not None and owner_token_id == caller.token_id
    )


def issue(
    session: Session,
    workshop_id: int,
    role: Role,
    display_name: str,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> tuple[AccessToken, str]:
    """A new token row (flushed, so it has an id) and the plain token to hand over once."""
    name = display_name.strip() if isinstance(display_name, str) else ""
    if not name or len(name) > 100:
        raise WorkshopError("a token needs the display name (1-100 characters) of its holder")
    if not timedelta(0) < ttl <= MAX_TTL:
        raise WorkshopError(f"a token must expire after now and within {MAX_TTL.days} days")
    plain = new_token()
    row = AccessToken(
        workshop_id=workshop_id,
        token_hash=hash_token(plain),
        role=Role(role).value,
        display_name=name,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    session.flush()
    return row, plain
