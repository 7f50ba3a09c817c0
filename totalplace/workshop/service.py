"""The workshop operations: each takes the caller's token, resolves the role on the server side,
refuses what the role may not do, and writes its audit event in the same transaction as its change.

Reads (``get_*``, ``list_*``, ``history``, ``audit``, ``run_scenario``) write no event; refused
actions by a valid token are recorded as ``denied`` events. Results are plain frozen records, so
callers (CLI, dashboard) never hold a database session. Snapshots have no update or delete here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from totalplace.count.result import CountResult
from totalplace.errors import TotalPlaceError
from totalplace.workshop import access, db, plausibility
from totalplace.workshop import scenarios as sc
from totalplace.workshop import snapshot as snap
from totalplace.workshop.access import Action, Caller
from totalplace.workshop.models import (
    AccessToken,
    Challenge,
    ChallengeStatus,
    Event,
    Role,
    Scenario,
    Snapshot,
    Workshop,
    WorkshopError,
    utcnow,
)

ACCEPTED_SCENARIO = "Accepted challenges"
T = TypeVar("T")
#: (place, year) -> the count by agency_type, function, amount_pence (to judge proposed amounts)
FiguresSource = Callable[[str, str], pd.DataFrame]
COMMENT_LIMIT = 10_000


class NotFound(WorkshopError):
    """No such challenge, scenario, snapshot or token in the caller's workshop."""


class Conflict(WorkshopError):
    """The request clashes with the current state (name taken, challenge already decided...)."""


class StaleVersion(WorkshopError):
    """Someone saved the scenario since you loaded it: ``current`` is what is saved now."""

    def __init__(self, current: ScenarioInfo, expected_version: int) -> None:
        self.current = current
        self.expected_version = expected_version
        super().__init__(
            f"scenario {current.name!r} is at version {current.version} (saved by "
            f"{current.updated_by} at {current.updated_at:%H:%M:%S} UTC), not {expected_version}: "
            "your changes were not saved; merge them into the current version and save again"
        )


# -- records returned to callers ----------------------------------------------------------------
@dataclass(frozen=True)
class FigureCell:
    """A figure a challenge is pinned to: place, year, agency type and a function or a theme."""

    place: str
    year: str
    agency_type: str
    function: str | None = None
    theme: str | None = None

    def __post_init__(self) -> None:
        if (self.function is None) == (self.theme is None):
            raise WorkshopError("a figure cell has either a function or a theme (exactly one)")
        for name in ("place", "year", "agency_type", "function", "theme"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, str) or not v.strip()):
                raise WorkshopError(f"a figure cell needs a non-empty {name}")

    @property
    def column(self) -> str:
        """The baseline's ``function`` value for this cell (the theme in a deep dive)."""
        return self.function if self.function is not None else str(self.theme)

    @property
    def label(self) -> str:
        return f"{self.place} {self.year}: {self.agency_type} × {self.column}"


@dataclass(frozen=True)
class WorkshopInfo:
    id: int
    place_name: str
    place_codes: tuple[str, ...]
    year: str
    theme: str | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class IssuedToken:
    """A new token: ``token`` is the only time the plain token is available."""

    token: str
    token_id: int
    workshop_id: int
    role: Role
    display_name: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenInfo:
    id: int
    role: Role
    display_name: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None


@dataclass(frozen=True)
class ChallengeInfo:
    id: int
    workshop_id: int
    cell: FigureCell
    text: str
    proposed_amount_pence: int | None
    proposed_driver: str | None
    author: str
    status: ChallengeStatus
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    scenario_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class ScenarioInfo:
    id: int
    workshop_id: int
    name: str
    changes: tuple[dict[str, Any], ...]
    version: int
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    owner_token_id: int | None = None

    def parsed(self) -> list[sc.Change]:
        return sc.parse_changes(self.changes)


@dataclass(frozen=True)
class SnapshotInfo:
    id: int
    workshop_id: int
    content_hash: str
    label: str
    frozen_by: str
    frozen_at: datetime
    content: dict[str, Any] | None = None
    reused: bool = False


@dataclass(frozen=True)
class EventInfo:
    id: int
    workshop_id: int
    actor: str
    role: str
    at: datetime
    action: str
    target: str
    payload: dict[str, Any]
    why: str | None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": self.at.isoformat()}


@dataclass(frozen=True)
class ChallengeHistory:
    challenge: ChallengeInfo
    events: tuple[EventInfo, ...]


@dataclass(frozen=True)
class CellHistory:
    cell: FigureCell
    challenges: tuple[ChallengeHistory, ...]


def _workshop_info(w: Workshop) -> WorkshopInfo:
    return WorkshopInfo(
        w.id, w.place_name, tuple(w.place_codes), w.year, w.theme, w.created_by, w.created_at
    )


def _token_info(t: AccessToken) -> TokenInfo:
    return TokenInfo(
        t.id, Role(t.role), t.display_name, t.created_at, t.expires_at, t.revoked_at, t.revoked_by
    )


def _challenge_info(c: Challenge) -> ChallengeInfo:
    cell = FigureCell(c.place, c.year, c.agency_type, c.function, c.theme)
    return ChallengeInfo(
        c.id,
        c.workshop_id,
        cell,
        c.text,
        c.proposed_amount_pence,
        c.proposed_driver,
        c.author,
        ChallengeStatus(c.status),
        c.reason,
        c.decided_by,
        c.decided_at,
        c.scenario_id,
        c.created_at,
    )


def _scenario_info(s: Scenario) -> ScenarioInfo:
    return ScenarioInfo(
        s.id,
        s.workshop_id,
        s.name,
        tuple(s.changes),
        s.version,
        s.created_by,
        s.created_at,
        s.updated_by,
        s.updated_at,
        s.owner_token_id,
    )


def _snapshot_info(s: Snapshot, *, content: bool = False, reused: bool = False) -> SnapshotInfo:
    return SnapshotInfo(
        s.id,
        s.workshop_id,
        s.content_hash,
        s.label,
        s.frozen_by,
        s.frozen_at,
        json.loads(s.content) if content else None,
        reused,
    )


def _event_info(e: Event) -> EventInfo:
    return EventInfo(
        e.id, e.workshop_id, e.actor, e.role, e.at, e.action, e.target, dict(e.payload), e.why
    )


def _text(value: Any, what: str, limit: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > limit:
        raise WorkshopError(f"{what} must be 1 to {limit} characters")
    return text


def _challenge_dict(c: ChallengeInfo, scenario_names: Mapping[int, str]) -> dict[str, Any]:
    return {
        "id": c.id,
        "place": c.cell.place,
        "year": c.cell.year,
        "agency_type": c.cell.agency_type,
        "function": c.cell.function,
        "theme": c.cell.theme,
        "text": c.text,
        "proposed_amount_pence": c.proposed_amount_pence,
        "proposed_driver": c.proposed_driver,
        "author": c.author,
        "status": c.status.value,
        "reason": c.reason,
        "decided_by": c.decided_by,
        "decided_at": c.decided_at.isoformat() if c.decided_at else None,
        "created_at": c.created_at.isoformat(),
        "scenario": scenario_names.get(c.scenario_id) if c.scenario_id else None,
    }


# -- the service --------------------------------------------------------------------------------
class WorkshopService:
    """Workshop operations on one database. ``clock`` returns aware UTC times (tests move it);
    ``figures`` gives a place's count, against which proposed amounts are judged
    (``plausibility``; without it only the absolute ceiling applies)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        clock: Callable[[], datetime] = utcnow,
        figures: FiguresSource | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._figures = figures

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        migrate: bool = False,
        clock: Callable[[], datetime] = utcnow,
        figures: FiguresSource | None = None,
    ) -> WorkshopService:
        """A service on ``url``; ``migrate=True`` first brings the schema up to date."""
        if migrate:
            db.upgrade(url)
        return cls(db.session_factory(db.make_engine(url)), clock=clock, figures=figures)

    def close(self) -> None:
        bind = self._sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()

    # -- plumbing ------------------------------------------------------------------------------
    def _now(self) -> datetime:
        return self._clock()

    @contextmanager
    def _op(self, token: str, action: Action) -> Iterator[tuple[Session, Caller]]:
        """One transaction as the token's holder, if the role allows ``action``."""
        try:
            with self._sessions.begin() as s:
                caller = access.resolve(s, token, self._now())
                access.require(caller, action)
                yield s, caller
        except access.Refused as exc:
            self._record_denial(exc)
            raise

    def _record_denial(self, exc: access.Refused) -> None:
        with self._sessions.begin() as s:
            self._event(
                s,
                exc.caller,
                "denied",
                f"action:{exc.action.value}",
                {"action": exc.action.value, **exc.details},
            )

    def _event(
        self,
        s: Session,
        caller: Caller,
        action: str,
        target: str,
        payload: Mapping[str, Any],
        why: str | None = None,
    ) -> Event:
        ev = Event(
            workshop_id=caller.workshop_id,
            actor=caller.display_name,
            role=caller.role.value,
            at=self._now(),
            action=action,
            target=target,
            payload=dict(payload),
            why=why,
        )
        s.add(ev)
        s.flush()
        return ev

    def _get(
        self, s: Session, model: type[T], ident: int, caller: Caller, *, lock: bool = False
    ) -> T:
        stmt = select(model).where(model.id == ident)  # type: ignore[attr-defined]
        row = s.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
        if row is None or row.workshop_id != caller.workshop_id:  # type: ignore[attr-defined]
            raise NotFound(f"no {model.__name__.lower()} {ident} in this workshop")
        return row

    # -- workshops and tokens ------------------------------------------------------------------
    def create_workshop(
        self,
        place_name: str,
        place_codes: Sequence[str],
        year: str,
        theme: str | None,
        facilitator_name: str,
        *,
        ttl: timedelta = access.DEFAULT_TTL,
    ) -> IssuedToken:
        """A new workshop and its facilitator's token (the bootstrap: no token needed)."""
        codes = [c.strip() for c in place_codes if isinstance(c, str) and c.strip()]
        if not codes or len(codes) != len(place_codes):
            raise WorkshopError("a workshop place needs one or more district codes (text)")
        now = self._now()
        with self._sessions.begin() as s:
            w = Workshop(
                place_name=_text(place_name, "the place name", 200),
                place_codes=codes,
                year=_text(year, "the year", 20),
                theme=None if theme is None else _text(theme, "the theme", 200),
                created_by=_text(facilitator_name, "the facilitator's name", 100),
                created_at=now,
            )
            s.add(w)
            s.flush()
            row, plain = access.issue(s, w.id, Role.FACILITATOR, facilitator_name, now, ttl)
            caller = Caller(row.id, w.id, Role.FACILITATOR, row.display_name)
            self._event(
                s,
                caller,
                "workshop.create",
                f"workshop:{w.id}",
                {
                    "place_name": w.place_name,
                    "place_codes": codes,
                    "year": w.year,
                    "theme": w.theme,
                    "token_id": row.id,
                },
            )
            return IssuedToken(
                plain, row.id, w.id, Role.FACILITATOR, row.display_name, row.expires_at
            )

    def whoami(self, token: str) -> Caller:
        with self._op(token, Action.READ) as (_, caller):
            return caller

    def get_workshop(self, token: str) -> WorkshopInfo:
        with self._op(token, Action.READ) as (s, caller):
            return _workshop_info(s.get_one(Workshop, caller.workshop_id))

    def issue_token(
        self,
        token: str,
        role: Role | str,
        display_name: str,
        *,
        ttl: timedelta = access.DEFAULT_TTL,
        why: str | None = None,
    ) -> IssuedToken:
        """A token for a partner, observer or co-facilitator (facilitator only)."""
        with self._op(token, Action.MANAGE_TOKENS) as (s, caller):
            try:
                role = Role(role)
            except ValueError:
                raise WorkshopError(f"unknown role {role!r}: {', '.join(Role)}") from None
            row, plain = access.issue(s, caller.workshop_id, role, display_name, self._now(), ttl)
            self._event(
                s,
                caller,
                "token.issue",
                f"token:{row.id}",
                {
                    "role": role.value,
                    "display_name": row.display_name,
                    "expires_at": row.expires_at.isoformat(),
                },
                why,
            )
            return IssuedToken(
                plain, row.id, caller.workshop_id, role, row.display_name, row.expires_at
            )

    def revoke_token(self, token: str, token_id: int, *, why: str | None = None) -> TokenInfo:
        """Revoke a token at once (facilitator only); the last facilitator token cannot go."""
        with self._op(token, Action.MANAGE_TOKENS) as (s, caller):
            row = self._get(s, AccessToken, token_id, caller, lock=True)
            now = self._now()
            if row.revoked_at is not None:
                raise Conflict(f"token {token_id} ({row.display_name}) is already revoked")
            if row.role == Role.FACILITATOR.value:
                others = s.scalars(
                    select(AccessToken).where(
                        AccessToken.workshop_id == caller.workshop_id,
                        AccessToken.id != row.id,
                        AccessToken.role == Role.FACILITATOR.value,
                        AccessToken.revoked_at.is_(None),
                        AccessToken.expires_at > now,
                    )
                ).first()
                if others is None:
                    raise Conflict(
                        "that is the workshop's last facilitator token: issue another "
                        "facilitator token before revoking it"
                    )
            row.revoked_at, row.revoked_by = now, caller.display_name
            self._event(
                s,
                caller,
                "token.revoke",
                f"token:{row.id}",
                {"display_name": row.display_name, "role": row.role},
                why,
            )
            return _token_info(row)

    def list_tokens(self, token: str) -> list[TokenInfo]:
        with self._op(token, Action.MANAGE_TOKENS) as (s, caller):
            rows = s.scalars(
                select(AccessToken)
                .where(AccessToken.workshop_id == caller.workshop_id)
                .order_by(AccessToken.id)
            )
            return [_token_info(r) for r in rows]

    # -- challenges ----------------------------------------------------------------------------
    def create_challenge(
        self,
        token: str,
        cell: FigureCell,
        text: str,
        *,
        amount_pence: int | None = None,
        driver: str | None = None,
    ) -> ChallengeInfo:
        """Challenge a figure, optionally proposing an amount (pence) or a driver (not both)."""
        with self._op(token, Action.CHALLENGE) as (s, caller):
            if amount_pence is not None and driver is not None:
                raise WorkshopError("propose an amount or a driver, not both")
            if amount_pence is not None and (
                isinstance(amount_pence, bool)
                or not isinstance(amount_pence, int)
                or amount_pence < 0
            ):
                raise WorkshopError(
                    f"a proposed amount is whole pence, 0 or more, not {amount_pence!r}"
                )
            w = s.get_one(Workshop, caller.workshop_id)
            if (cell.place, cell.year) != (w.place_name, w.year):
                raise WorkshopError(
                    f"this workshop is on {w.place_name} {w.year}; the challenge "
                    f"names {cell.place} {cell.year}"
                )
            if amount_pence is not None:
                cell_pence, total_pence = self._cell_and_total(cell)
                plausibility.check_proposed_amount(
                    amount_pence, cell.label, cell_pence, total_pence
                )
            c = Challenge(
                workshop_id=w.id,
                place=cell.place,
                year=cell.year,
                agency_type=cell.agency_type,
                function=cell.function,
                theme=cell.theme,
                text=_text(text, "the challenge text", 10_000),
                proposed_amount_pence=amount_pence,
                proposed_driver=None if driver is None else _text(driver, "the driver", 200),
                author=caller.display_name,
                author_token_id=caller.token_id,
                status=ChallengeStatus.OPEN.value,
                created_at=self._now(),
            )
            s.add(c)
            s.flush()
            self._event(
                s,
                caller,
                "challenge.create",
                f"challenge:{c.id}",
                {"cell": asdict(cell), "amount_pence": amount_pence, "driver": c.proposed_driver},
            )
            return _challenge_info(c)

    def _cell_and_total(self, cell: FigureCell) -> tuple[int | None, int | None]:
        """The cell's current figure and the place's total, from the count (None: unknown)."""
        if self._figures is None:
            return None, None
        try:
            base = self._figures(cell.place, cell.year)
        except TotalPlaceError:  # no count for it here: the absolute ceiling still applies
            return None, None
        total = int(base["amount_pence"].sum())
        if cell.function is None:
            return None, total
        hit = base[(base["agency_type"] == cell.agency_type) & (base["function"] == cell.function)]
        return int(hit["amount_pence"].sum()), total

    def list_challenges(
        self, token: str, *, status: ChallengeStatus | str | None = None
    ) -> list[ChallengeInfo]:
        with self._op(token, Action.READ) as (s, caller):
            stmt = select(Challenge).where(Challenge.workshop_id == caller.workshop_id)
            if status is not None:
                stmt = stmt.where(Challenge.status == ChallengeStatus(status).value)
            return [_challenge_info(c) for c in s.scalars(stmt.order_by(Challenge.id))]

    def _open_challenge(self, s: Session, caller: Caller, challenge_id: int) -> Challenge:
        c = self._get(s, Challenge, challenge_id, caller, lock=True)
        if c.status != ChallengeStatus.OPEN.value:
            raise Conflict(f"challenge {c.id} was already {c.status} by {c.decided_by}: {c.reason}")
        return c

    def accept_challenge(
        self, token: str, challenge_id: int, reason: str, *, scenario_name: str = ACCEPTED_SCENARIO
    ) -> ChallengeInfo:
        """Accept (facilitator): its correction goes into ``scenario_name``, never the baseline."""
        for attempt in range(3):  # a concurrent save of the same scenario: try again
            try:
                return self._accept(token, challenge_id, reason, scenario_name)
            except (StaleDataError, IntegrityError):
                if attempt == 2:
                    raise Conflict(f"scenario {scenario_name!r} kept changing: try again") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _accept(
        self, token: str, challenge_id: int, reason: str, scenario_name: str
    ) -> ChallengeInfo:
        with self._op(token, Action.DECIDE_CHALLENGE) as (s, caller):
            why = _text(reason, "the reason", 10_000)
            name = _text(scenario_name, "the scenario name", 100)
            c = self._open_challenge(s, caller, challenge_id)
            now, payload = self._now(), {}
            change = self._correction(c)
            if change is not None:
                scen = s.scalars(
                    select(Scenario)
                    .where(Scenario.workshop_id == caller.workshop_id, Scenario.name == name)
                    .with_for_update()
                ).one_or_none()
                if scen is None:
                    scen = Scenario(
                        workshop_id=caller.workshop_id,
                        name=name,
                        changes=[],
                        created_by=caller.display_name,
                        created_at=now,
                        owner_token_id=caller.token_id,
                    )
                    s.add(scen)
                scen.changes = [*scen.changes, sc.change_to_dict(change)]
                scen.updated_by, scen.updated_at = caller.display_name, now
                s.flush()
                c.scenario_id = scen.id
                payload = {
                    "scenario_id": scen.id,
                    "scenario": scen.name,
                    "scenario_version": scen.version,
                    "change": scen.changes[-1],
                }
            c.status, c.reason = ChallengeStatus.ACCEPTED.value, why
            c.decided_by, c.decided_at = caller.display_name, now
            self._event(s, caller, "challenge.accept", f"challenge:{c.id}", payload, why)
            return _challenge_info(c)

    @staticmethod
    def _correction(c: Challenge) -> sc.Change | None:
        cell = sc.CellRef(c.agency_type, c.function if c.function is not None else str(c.theme))
        source = f"challenge {c.id} by {c.author}"
        if c.proposed_amount_pence is not None:
            return sc.SetAmount(cell=cell, amount_pence=c.proposed_amount_pence, source=source)
        if c.proposed_driver is not None:
            return sc.ChangeDriver(replacement=c.proposed_driver, cell=cell, source=source)
        return None

    def reject_challenge(self, token: str, challenge_id: int, reason: str) -> ChallengeInfo:
        with self._op(token, Action.DECIDE_CHALLENGE) as (s, caller):
            why = _text(reason, "the reason", 10_000)
            c = self._open_challenge(s, caller, challenge_id)
            c.status, c.reason = ChallengeStatus.REJECTED.value, why
            c.decided_by, c.decided_at = caller.display_name, self._now()
            self._event(s, caller, "challenge.reject", f"challenge:{c.id}", {}, why)
            return _challenge_info(c)

    def history(self, token: str, cell: FigureCell) -> CellHistory:
        """A figure's challenges, each with its audit events, oldest first."""
        with self._op(token, Action.READ) as (s, caller):
            rows = s.scalars(
                select(Challenge)
                .where(
                    Challenge.workshop_id == caller.workshop_id,
                    Challenge.place == cell.place,
                    Challenge.year == cell.year,
                    Challenge.agency_type == cell.agency_type,
                    Challenge.function.is_(None)
                    if cell.function is None
                    else Challenge.function == cell.function,
                    Challenge.theme.is_(None)
                    if cell.theme is None
                    else Challenge.theme == cell.theme,
                )
                .order_by(Challenge.id)
            ).all()
            out = []
            for c in rows:
                evs = s.scalars(
                    select(Event)
                    .where(
                        Event.workshop_id == caller.workshop_id, Event.target == f"challenge:{c.id}"
                    )
                    .order_by(Event.id)
                )
                out.append(ChallengeHistory(_challenge_info(c), tuple(_event_info(e) for e in evs)))
            return CellHistory(cell, tuple(out))

    # -- scenarios -----------------------------------------------------------------------------
    def create_scenario(
        self,
        token: str,
        name: str,
        changes: Sequence[sc.Change | Mapping[str, Any]] = (),
        *,
        why: str | None = None,
    ) -> ScenarioInfo:
        try:
            with self._op(token, Action.PROPOSE_SCENARIO) as (s, caller):
                name = _text(name, "the scenario name", 100)
                stored = [sc.change_to_dict(c) for c in sc.parse_changes(changes)]
                scen = self._new_scenario(s, caller, name, stored)
                self._event(
                    s,
                    caller,
                    "scenario.create",
                    f"scenario:{scen.id}",
                    {"name": name, "version": scen.version, "changes": stored},
                    why,
                )
                return _scenario_info(scen)
        except IntegrityError:
            raise Conflict(f"a scenario named {name!r} was just created by someone else") from None

    def _new_scenario(
        self, s: Session, caller: Caller, name: str, changes: list[dict[str, Any]]
    ) -> Scenario:
        """A new scenario named ``name`` (refused if the name is taken), owned by ``caller``."""
        self._refuse_taken_name(s, caller, name)
        now = self._now()
        scen = Scenario(
            workshop_id=caller.workshop_id,
            name=name,
            changes=changes,
            created_by=caller.display_name,
            created_at=now,
            owner_token_id=caller.token_id,
            updated_by=caller.display_name,
            updated_at=now,
        )
        s.add(scen)
        s.flush()
        return scen

    @staticmethod
    def _refuse_taken_name(s: Session, caller: Caller, name: str) -> None:
        taken = s.scalars(
            select(Scenario.id).where(
                Scenario.workshop_id == caller.workshop_id, Scenario.name == name
            )
        ).first()
        if taken is not None:
            raise Conflict(f"a scenario named {name!r} exists (id {taken})")

    def _editable(self, s: Session, caller: Caller, scenario_id: int) -> Scenario:
        """The scenario, if ``caller`` may change it (its owner or a facilitator)."""
        scen = self._get(s, Scenario, scenario_id, caller)
        if not access.may_edit(caller, scen.owner_token_id):
            raise access.OwnershipRefused(caller, scen.id, scen.name, scen.created_by)
        return scen

    def update_scenario(
        self,
        token: str,
        scenario_id: int,
        expected_version: int,
        changes: Sequence[sc.Change | Mapping[str, Any]],
        *,
        name: str | None = None,
        why: str | None = None,
    ) -> ScenarioInfo:
        """Replace a scenario's changes (and, given ``name``, its title) if it is still at
        ``expected_version``. Only its owner or a facilitator may (OwnershipRefused otherwise:
        others copy it or comment on it).

        Raises StaleVersion (carrying the saved state) when someone saved first: nothing is
        overwritten silently, on SQLite or PostgreSQL. The audit event says what changed.
        """
        try:
            with self._op(token, Action.PROPOSE_SCENARIO) as (s, caller):
                stored = [sc.change_to_dict(c) for c in sc.parse_changes(changes)]
                scen = self._editable(s, caller, scenario_id)
                if scen.version != expected_version:
                    raise StaleVersion(_scenario_info(scen), expected_version)
                old_name, old_changes = scen.name, list(scen.changes)
                if name is not None:
                    new_name = _text(name, "the scenario name", 100)
                    if new_name != old_name:
                        self._refuse_taken_name(s, caller, new_name)
                        scen.name = new_name
                scen.changes = stored
                scen.updated_by, scen.updated_at = caller.display_name, self._now()
                s.flush()  # UPDATE ... WHERE version = expected: StaleDataError if it moved
                summary = sc.describe_update(
                    old_changes, stored, old_name=old_name, new_name=scen.name
                )
                self._event(
                    s,
                    caller,
                    "scenario.update",
                    f"scenario:{scen.id}",
                    {
                        "from_version": expected_version,
                        "version": scen.version,
                        "name": scen.name,
                        "summary": summary,
                        "changes": stored,
                    },
                    why,
                )
                return _scenario_info(scen)
        except StaleDataError:
            raise StaleVersion(self.get_scenario(token, scenario_id), expected_version) from None
        except IntegrityError:
            raise Conflict(f"a scenario named {name!r} was just created by someone else") from None

    def copy_scenario(
        self, token: str, scenario_id: int, name: str | None = None, *, why: str | None = None
    ) -> ScenarioInfo:
        """A new scenario owned by the caller with the changes of ``scenario_id`` (anyone who
        may propose scenarios may copy any): the way to build on someone else's."""
        try:
            with self._op(token, Action.PROPOSE_SCENARIO) as (s, caller):
                source = self._get(s, Scenario, scenario_id, caller)
                if name is None:
                    taken = set(
                        s.scalars(
                            select(Scenario.name).where(Scenario.workshop_id == caller.workshop_id)
                        )
                    )
                    stem = f"{source.name} ({caller.display_name})"[:90]
                    name = next(
                        n
                        for n in (stem, *(f"{stem} {k}" for k in range(2, 1000)))
                        if n not in taken
                    )
                name = _text(name, "the scenario name", 100)
                scen = self._new_scenario(s, caller, name, list(source.changes))
                self._event(
                    s,
                    caller,
                    "scenario.copy",
                    f"scenario:{scen.id}",
                    {
                        "name": name,
                        "version": scen.version,
                        "from_scenario_id": source.id,
                        "from_name": source.name,
                        "from_version": source.version,
                        "summary": [f"copy of {source.name!r} version {source.version}"],
                        "changes": list(source.changes),
                    },
                    why,
                )
                return _scenario_info(scen)
        except IntegrityError:
            raise Conflict(f"a scenario named {name!r} was just created by someone else") from None

    def comment_scenario(self, token: str, scenario_id: int, text: str) -> EventInfo:
        """A comment on a scenario (anyone who may challenge): kept as an audit event."""
        with self._op(token, Action.COMMENT) as (s, caller):
            scen = self._get(s, Scenario, scenario_id, caller)
            body = _text(text, "the comment", COMMENT_LIMIT)
            ev = self._event(
                s,
                caller,
                "scenario.comment",
                f"scenario:{scen.id}",
                {"text": body, "version": scen.version},
            )
            return _event_info(ev)

    def scenario_comments(self, token: str, scenario_id: int) -> list[EventInfo]:
        """The comments on a scenario, oldest first."""
        with self._op(token, Action.READ) as (s, caller):
            scen = self._get(s, Scenario, scenario_id, caller)
            rows = s.scalars(
                select(Event)
                .where(
                    Event.workshop_id == caller.workshop_id,
                    Event.target == f"scenario:{scen.id}",
                    Event.action == "scenario.comment",
                )
                .order_by(Event.id)
            )
            return [_event_info(e) for e in rows]

    def may_edit_scenario(self, token: str, scenario_id: int) -> bool:
        """Whether the caller may change the scenario (for display: saving checks again)."""
        with self._op(token, Action.READ) as (s, caller):
            return access.may_edit(
                caller, self._get(s, Scenario, scenario_id, caller).owner_token_id
            )

    def get_scenario(self, token: str, scenario_id: int) -> ScenarioInfo:
        with self._op(token, Action.READ) as (s, caller):
            return _scenario_info(self._get(s, Scenario, scenario_id, caller))

    def list_scenarios(self, token: str) -> list[ScenarioInfo]:
        with self._op(token, Action.READ) as (s, caller):
            rows = s.scalars(
                select(Scenario)
                .where(Scenario.workshop_id == caller.workshop_id)
                .order_by(Scenario.id)
            )
            return [_scenario_info(r) for r in rows]

    def run_scenario(
        self,
        token: str,
        scenario_id: int,
        figures: pd.DataFrame | CountResult,
        alternatives: Mapping[str, pd.DataFrame] | None = None,
    ) -> tuple[pd.DataFrame, list[sc.LogEntry]]:
        """The scenario applied to the figures (nothing is stored)."""
        scen = self.get_scenario(token, scenario_id)
        base = sc.baseline_from_count(figures) if isinstance(figures, CountResult) else figures
        return sc.apply(base, scen.changes, alternatives)

    # -- snapshots and the audit trail ---------------------------------------------------------
    def freeze_snapshot(
        self,
        token: str,
        figures: pd.DataFrame | CountResult,
        *,
        label: str | None = None,
        alternatives: Mapping[str, pd.DataFrame] | None = None,
        why: str | None = None,
    ) -> SnapshotInfo:
        """Freeze figures + challenges + scenarios (with results); same state, same snapshot."""
        meta: dict[str, Any] | None = None
        if isinstance(figures, CountResult):
            meta = {
                "place": figures.place_name,
                "districts": list(figures.place_codes),
                "year": figures.year,
                "release": figures.release,
                "population": figures.population,
                "population_year": figures.population_year,
                "caveats": list(figures.caveats),
            }
            base = sc.baseline_from_count(figures)
        else:
            base = figures
        try:
            return self._freeze(token, base, meta, label, alternatives, why)
        except IntegrityError:  # the same state was frozen at the same moment by someone else
            return self._freeze(token, base, meta, label, alternatives, why)

    def _freeze(
        self,
        token: str,
        base: pd.DataFrame,
        meta: dict[str, Any] | None,
        label: str | None,
        alternatives: Mapping[str, pd.DataFrame] | None,
        why: str | None,
    ) -> SnapshotInfo:
        with self._op(token, Action.FREEZE_SNAPSHOT) as (s, caller):
            w = s.get_one(Workshop, caller.workshop_id)
            if meta is not None and meta["year"] != w.year:
                raise WorkshopError(
                    f"the count is for {meta['year']}; this workshop is on {w.year}"
                )
            scens = s.scalars(select(Scenario).where(Scenario.workshop_id == w.id)).all()
            names = {x.id: x.name for x in scens}
            chals = s.scalars(select(Challenge).where(Challenge.workshop_id == w.id)).all()
            content = snap.build_content(
                workshop={
                    "id": w.id,
                    "place_name": w.place_name,
                    "place_codes": list(w.place_codes),
                    "year": w.year,
                    "theme": w.theme,
                },
                figures=base,
                figures_meta=meta,
                alternatives=alternatives,
                challenges=[_challenge_dict(_challenge_info(c), names) for c in chals],
                scenarios=[
                    {"id": x.id, "name": x.name, "version": x.version, "changes": list(x.changes)}
                    for x in scens
                ],
            )
            digest = snap.content_hash(content)
            row = s.scalars(
                select(Snapshot).where(
                    Snapshot.workshop_id == w.id, Snapshot.content_hash == digest
                )
            ).one_or_none()
            reused = row is not None
            if row is None:
                row = Snapshot(
                    workshop_id=w.id,
                    content_hash=digest,
                    content=snap.canonical_json(content),
                    label=(label or f"{w.place_name} {w.year}").strip()[:200],
                    frozen_by=caller.display_name,
                    frozen_at=self._now(),
                )
                s.add(row)
                s.flush()
            self._event(
                s,
                caller,
                "snapshot.freeze",
                f"snapshot:{row.id}",
                {"content_hash": digest, "reused": reused},
                why,
            )
            return _snapshot_info(row, content=True, reused=reused)

    def get_snapshot(self, token: str, snapshot_id: int) -> SnapshotInfo:
        with self._op(token, Action.READ) as (s, caller):
            return _snapshot_info(self._get(s, Snapshot, snapshot_id, caller), content=True)

    def list_snapshots(self, token: str) -> list[SnapshotInfo]:
        with self._op(token, Action.READ) as (s, caller):
            rows = s.scalars(
                select(Snapshot)
                .where(Snapshot.workshop_id == caller.workshop_id)
                .order_by(Snapshot.id)
            )
            return [_snapshot_info(r) for r in rows]

    def verify_snapshot(self, token: str, snapshot_id: int) -> bool:
        """True when the stored content still hashes to the snapshot's name."""
        with self._op(token, Action.READ) as (s, caller):
            row = self._get(s, Snapshot, snapshot_id, caller)
            return snap.verify(row.content, row.content_hash)

    def export_pack(self, token: str, snapshot_id: int, out_dir: Path) -> snap.ExportPack:
        """Write the workshop pack (XLSX, HTML and a zip of CSVs) of a snapshot, with the audit
        trail up to it."""
        with self._op(token, Action.READ) as (s, caller):
            row = self._get(s, Snapshot, snapshot_id, caller)
            first = s.scalars(
                select(Event.id)
                .where(
                    Event.workshop_id == caller.workshop_id,
                    Event.action == "snapshot.freeze",
                    Event.target == f"snapshot:{row.id}",
                )
                .order_by(Event.id)
            ).first()
            evs = s.scalars(
                select(Event)
                .where(Event.workshop_id == caller.workshop_id, Event.id <= (first or 0))
                .order_by(Event.id)
            )
            events = [_event_info(e).to_dict() for e in evs]
            meta = {
                "snapshot": row.label,
                "SHA-256": row.content_hash,
                "frozen at (UTC)": row.frozen_at.isoformat(),
                "frozen by": row.frozen_by,
            }
            pack = snap.write_pack(
                json.loads(row.content),
                events,
                Path(out_dir),
                meta=meta,
                stem=f"workshop_{row.workshop_id}_snapshot_{row.id}",
            )
            self._event(
                s,
                caller,
                "snapshot.export",
                f"snapshot:{row.id}",
                {
                    "content_hash": row.content_hash,
                    "files": [pack.xlsx.name, pack.html.name, pack.csv.name],
                },
            )
            return pack

    def audit(self, token: str, *, target: str | None = None) -> list[EventInfo]:
        """The workshop's audit events, oldest first (optionally for one target)."""
        with self._op(token, Action.READ) as (s, caller):
            stmt = select(Event).where(Event.workshop_id == caller.workshop_id)
            if target is not None:
                stmt = stmt.where(Event.target == target)
            return [_event_info(e) for e in s.scalars(stmt.order_by(Event.id))]
