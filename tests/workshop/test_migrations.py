"""The schema comes only from Alembic: from empty to head, matching the models, reversible."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from totalplace.workshop import db
from totalplace.workshop.models import Base
from totalplace.workshop.service import WorkshopService

TABLES = {"workshops", "tokens", "challenges", "scenarios", "snapshots", "events"}


def test_upgrade_from_empty_matches_the_models(empty_db_url: str) -> None:
    engine = db.make_engine(empty_db_url)
    try:
        assert db.current_revision(engine) is None
        assert not set(inspect(engine).get_table_names()) & TABLES
        db.upgrade(empty_db_url)
        assert db.current_revision(engine) == db.head_revision()
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
        db.upgrade(empty_db_url)  # again: nothing to do
        db.downgrade(empty_db_url)
        assert not set(inspect(engine).get_table_names()) & TABLES
        db.upgrade(empty_db_url)
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()


def test_service_can_migrate_on_open(empty_db_url: str) -> None:
    svc = WorkshopService.from_url(empty_db_url, migrate=True)
    try:
        issued = svc.create_workshop("Kent", ["E10000016"], "2010-11", "Older people", "Kim")
        assert svc.get_workshop(issued.token).theme == "Older people"
    finally:
        svc.close()


def test_production_code_never_calls_create_all() -> None:
    package = Path(db.__file__).parent
    for path in package.rglob("*.py"):
        assert "create_all" not in path.read_text(encoding="utf-8"), path


def test_postgres_urls_use_psycopg() -> None:
    assert db.normalise_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.normalise_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_folder_is_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'deeper' / 'workshop.db'}"
    db.upgrade(url)
    assert (tmp_path / "new" / "deeper" / "workshop.db").exists()
