"""Workshop state (SQLAlchemy 2.0 ORM): workshops, access tokens, challenges, scenarios,
snapshots and the append-only audit events.

The schema is created only by the Alembic migrations in ``migrations/`` (see ``db.upgrade``);
``Base.metadata`` is the reference those migrations are checked against. Snapshots and events
cannot be changed once written: ORM events here refuse it, and database triggers (created by the
migration) refuse it for any SQL too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column
from sqlalchemy.types import TypeDecorator

from totalplace.errors import TotalPlaceError

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class WorkshopError(TotalPlaceError):
    """A workshop request that cannot be carried out (the message says why)."""


class ImmutableRecord(WorkshopError):
    """A snapshot or an audit event was about to be changed or deleted."""


class Role(StrEnum):
    FACILITATOR = "facilitator"
    PARTNER = "partner"
    OBSERVER = "observer"


class ChallengeStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: workshop times must be timezone-aware (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Workshop(Base):
    """A workshop on one place, year and (optionally) theme."""

    __tablename__ = "workshops"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    place_name: Mapped[str] = mapped_column(String(200))
    place_codes: Mapped[list[str]] = mapped_column(JSON)
    year: Mapped[str] = mapped_column(String(20))
    theme: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AccessToken(Base):
    """A per-workshop token: only its SHA-256 is stored; the plain token is shown once."""

    __tablename__ = "tokens"
    __table_args__ = (CheckConstraint(_in("role", Role), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(100))


class Challenge(Base):
    """A partner's challenge to one figure cell, with an optional correction."""

    __tablename__ = "challenges"
    __table_args__ = (
        CheckConstraint(_in("status", ChallengeStatus), name="status"),
        CheckConstraint("(function IS NULL) <> (theme IS NULL)", name="function_or_theme"),
        CheckConstraint(
            "proposed_amount_pence IS NULL OR proposed_driver IS NULL", name="one_proposal"
        ),
        Index("ix_challenges_cell", "workshop_id", "agency_type", "function", "theme"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id"))
    place: Mapped[str] = mapped_column(String(200))
    year: Mapped[str] = mapped_column(String(20))
    agency_type: Mapped[str] = mapped_column(String(200))
    function: Mapped[str | None] = mapped_column(String(200))
    theme: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    proposed_amount_pence: Mapped[int | None] = mapped_column(BigInteger)
    proposed_driver: Mapped[str | None] = mapped_column(String(200))
    author: Mapped[str] = mapped_column(String(100))
    author_token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id"))
    status: Mapped[str] = mapped_column(String(20), default=ChallengeStatus.OPEN.value)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scenario_id: Mapped[int | None] = mapped_column(ForeignKey("scenarios.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Scenario(Base):
    """A named list of changes; ``version`` rises on every save (optimistic concurrency).

    ``owner_token_id`` is the token that created it: only that token or a facilitator may change
    it (others copy it, or comment). None for scenarios made before owners were recorded whose
    creator's token could not be told apart: those only a facilitator may change.
    """

    __tablename__ = "scenarios"
    __table_args__ = (UniqueConstraint("workshop_id", "name", name="uq_scenarios_workshop_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id"))
    name: Mapped[str] = mapped_column(String(100))
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    owner_token_id: Mapped[int | None] = mapped_column(ForeignKey("tokens.id"))
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # Every ORM UPDATE says "... WHERE id = ? AND version = <version loaded>": a concurrent save
    # makes it match no row, and SQLAlchemy raises StaleDataError instead of overwriting.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy's own attribute)


class Snapshot(Base):
    """Frozen workshop state: canonical JSON and its SHA-256; never updated or deleted."""

    __tablename__ = "snapshots"
    __table_args__ = (
        UniqueConstraint("workshop_id", "content_hash", name="uq_snapshots_workshop_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(200))
    frozen_by: Mapped[str] = mapped_column(String(100))
    frozen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Event(Base):
    """One audit event: who (name and role), when (UTC), what, on what, details and why."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_workshop_target", "workshop_id", "target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id"))
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    why: Mapped[str | None] = mapped_column(Text)


#: Tables whose rows are written once (guarded by the ORM events below and by DB triggers).
IMMUTABLE_TABLES = ("snapshots", "events")


def _refuse(verb: str) -> Any:
    def listener(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
        table = type(target).__tablename__
        raise ImmutableRecord(f"{table} are append-only: row {target.id} cannot be {verb}")

    return listener


for _cls in (Snapshot, Event):
    event.listen(_cls, "before_update", _refuse("updated"))
    event.listen(_cls, "before_delete", _refuse("deleted"))
