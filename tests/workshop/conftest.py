"""Workshop fixtures: every database test runs on SQLite (a temp file) and on a real PostgreSQL.

The PostgreSQL server is started by the fixture itself (initdb + pg_ctl in a temp dir, on a free
loopback port; as the ``postgres`` user when run as root), once per session, and is stopped and
deleted at the end. Without PostgreSQL binaries the PostgreSQL half is skipped with the reason,
except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from totalplace.devtools.postgres import PgServer, pg_bin, throwaway_postgres
from totalplace.workshop import db
from totalplace.workshop.service import FigureCell, WorkshopService

PLACE, YEAR = "Birmingham", "2010-11"


# -- PostgreSQL, started here (totalplace.devtools.postgres) -------------------------------
@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    bin_dir = pg_bin()
    if bin_dir is None:
        reason = "PostgreSQL binaries not found (apt-get install postgresql, or TOTALPLACE_PG_BIN)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must test PostgreSQL: {reason}")
        pytest.skip(reason)
    with throwaway_postgres(bin_dir) as server:
        yield server


# -- one fresh database per test, on each backend --------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no tables) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'workshop.db'}"
        return
    server: PgServer = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:16]}"
    server.admin(f'CREATE DATABASE "{name}"')
    try:
        yield server.url(name)
    finally:
        server.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated from empty once per session, copied by each test."""
    path = tmp_path_factory.mktemp("sqlite_template") / "workshop.db"
    db.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template(postgres_server: PgServer) -> str:
    """A PostgreSQL database migrated from empty once per session, cloned by each test."""
    name = "totalplace_template"
    postgres_server.admin(f'CREATE DATABASE "{name}"')
    db.upgrade(postgres_server.url(name))
    return name


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the latest revision (made by Alembic from empty, as in production)."""
    if request.param == "sqlite":
        path = tmp_path / "workshop.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server: PgServer = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("pg_template")
    name = f"t_{uuid.uuid4().hex[:16]}"
    server.admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield server.url(name)
    finally:
        server.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Clock:
    """The service's clock: real UTC time, moved forward by tests (token expiry)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **kwargs: float) -> None:
        self.offset += timedelta(**kwargs)


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def service(db_url: str, clock: Clock) -> Iterator[WorkshopService]:
    svc = WorkshopService.from_url(db_url, clock=clock)
    yield svc
    svc.close()


@pytest.fixture()
def baseline() -> pd.DataFrame:
    """A small count by agency type and function (pence)."""
    return pd.DataFrame(
        {
            "agency_type": [
                "Councils",
                "Councils",
                "NHS and health",
                "Benefits and employment (DWP)",
                "Police",
            ],
            "function": [
                "10. Social protection",
                "7. Health",
                "7. Health",
                "10. Social protection",
                "3. Public order and safety",
            ],
            "amount_pence": [
                360_000_000_00,
                20_000_000_00,
                190_000_000_00,
                69_900_000_00,
                25_000_000_00,
            ],
        }
    )


@dataclass
class Room:
    """A workshop with a facilitator, a partner and an observer (plain tokens)."""

    svc: WorkshopService
    workshop_id: int
    facilitator: str
    partner: str
    observer: str
    observer_token_id: int
    baseline: pd.DataFrame
    tmp: Path

    def cell(self, agency: str = "Councils", function: str = "7. Health") -> FigureCell:
        return FigureCell(PLACE, YEAR, agency, function)

    def token(self, role: str) -> str:
        return {
            "facilitator": self.facilitator,
            "partner": self.partner,
            "observer": self.observer,
        }[role]

    def event_count(self, *, denied: bool = False) -> int:
        events = self.svc.audit(self.facilitator)
        return sum(1 for e in events if (e.action == "denied") == denied)


@pytest.fixture()
def room(service: WorkshopService, baseline: pd.DataFrame, tmp_path: Path) -> Room:
    fac = service.create_workshop(PLACE, ["E08000025"], YEAR, None, "Fiona Facilitator")
    partner = service.issue_token(fac.token, "partner", "Pat (PCT)")
    observer = service.issue_token(fac.token, "observer", "Olu (press)")
    return Room(
        service,
        fac.workshop_id,
        fac.token,
        partner.token,
        observer.token,
        observer.token_id,
        baseline,
        tmp_path,
    )


@pytest.fixture()
def make_service(db_url: str, clock: Clock) -> Iterator[Callable[[], WorkshopService]]:
    """More services on the same database (each its own engine and connections)."""
    made: list[WorkshopService] = []

    def make() -> WorkshopService:
        made.append(WorkshopService.from_url(db_url, clock=clock))
        return made[-1]

    yield make
    for svc in made:
        svc.close()
