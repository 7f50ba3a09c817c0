"""`totalplace build` on the real mirror: every adapter source loads, a rebuild is idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest

from totalplace.build import adapter_sources, build_workspace
from totalplace.config import Settings
from totalplace.ledger.store import Store

pytestmark = pytest.mark.mirror


def test_build_loads_every_catalogue_source_with_an_adapter(workspace) -> None:  # type: ignore[no-untyped-def]
    store = workspace.store
    batches = store.query("SELECT source_id, target, rows_ledger FROM batches")
    assert set(batches["source_id"]) >= {s.id for s in adapter_sources()}
    assert store.check() == []
    assert {"ledger", "quarantine", "population", "districts", "footprints", "geojson"} <= set(
        store.tables()
    )
    n_ledger = int(store.query("SELECT count(*) AS n FROM ledger")["n"].iloc[0])
    assert n_ledger == int(batches.loc[batches["target"] == "ledger", "rows_ledger"].sum())


def test_building_again_changes_nothing(mirror: Path, tmp_path: Path) -> None:
    settings = Settings(workspace=tmp_path, mirror=mirror)
    first = build_workspace(settings)
    assert {r.status for r in first} == {"ingested"}
    with Store(settings.store_path, read_only=True) as store:
        before = store.query("SELECT count(*) AS n, sum(amount_pence) AS s FROM ledger").iloc[0]
    again = build_workspace(settings)
    assert {r.status for r in again} == {"unchanged"}
    assert [r.rows_ledger for r in again] == [r.rows_ledger for r in first]
    with Store(settings.store_path, read_only=True) as store:
        after = store.query("SELECT count(*) AS n, sum(amount_pence) AS s FROM ledger").iloc[0]
    assert before.equals(after)
