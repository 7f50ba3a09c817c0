"""`totalplace export-ledger DIR`: the ledger as hive-partitioned Parquet (source_id, year)
that DuckDB and pyarrow read back unchanged, source ids with ':' '/' '%' '=' and spaces
included."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.dataset as pads
import pytest
from typer.testing import CliRunner

from tests.fixtures.make_fixtures import mini_lookups
from totalplace.cli import app
from totalplace.config import Settings
from totalplace.errors import TotalPlaceError
from totalplace.export.parquet import export_ledger
from totalplace.ingest.pipeline import ingest_file
from totalplace.ledger.schema import LEDGER_COLUMNS
from totalplace.ledger.store import Store

FIX = Path(__file__).parent / "fixtures"
SOURCES = {
    "bom-utf8.csv": "local:spend/devon 2010=05.csv",
    "salford-layout-authority-name.csv": "mirror:salford/2019%04",
    "date-time-iso.csv": "local:a/b:c.csv",  # two financial years
    "grand-total-footer.csv": "devon_spend_2010_05",
}


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    with Store(Settings(workspace=ws).store_path) as store:
        for name, sid in SOURCES.items():
            report = ingest_file(store, FIX / name, source_id=sid, options=mini_lookups())
            assert report.status == "ingested", report.message
    return ws


def by_source(frame: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Rows and pence per source."""
    grouped = frame.groupby("source_id")["amount_pence"].agg(["count", "sum"])
    return {str(k): (int(n), int(p)) for k, (n, p) in grouped.iterrows()}


def test_duckdb_and_pyarrow_read_the_export_unchanged(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    store_path = Settings(workspace=workspace).store_path
    with Store(store_path, read_only=True) as store:
        ledger = store.table("ledger")
        done = export_ledger(store, out)
    assert set(ledger["source_id"]) == set(SOURCES.values())
    expected = by_source(ledger)
    assert {r.source_id: (r.rows, r.amount_pence) for r in done.by_source.itertuples()} == (
        expected
    )
    assert done.files == 5  # one file per source and year: date-time-iso.csv has two years
    assert (out / "source_id=local%3Aa%2Fb%3Ac.csv" / "year=2019-20").is_dir()

    con = duckdb.connect()
    read = f"read_parquet('{out}/**/*.parquet', hive_partitioning=true)"
    assert by_source(con.execute(f"SELECT * FROM {read}").df()) == expected
    kinds = {
        name: kind for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {read}").fetchall()
    }
    assert kinds["source_id"] == kinds["year"] == "VARCHAR"
    # every column, every value: the export minus the ledger is empty, both ways
    con.execute(f"ATTACH '{store_path}' AS s (READ_ONLY)")
    cols = ", ".join(f'"{c}"' for c in LEDGER_COLUMNS)
    exported, stored = f"(SELECT {cols} FROM {read})", f"(SELECT {cols} FROM s.ledger)"
    for a, b in ((stored, exported), (exported, stored)):
        assert con.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone() == (0,)

    table = pads.dataset(out, partitioning="hive").to_table()
    assert str(table.schema.field("source_id").type) == str(table.schema.field("year").type)
    assert str(table.schema.field("source_id").type) == "string"
    arrow = table.to_pandas()
    assert by_source(arrow) == expected
    assert set(zip(arrow["source_id"], arrow["year"], strict=True)) == set(
        zip(ledger["source_id"], ledger["year"], strict=True)
    )


def test_an_existing_folder_is_replaced_only_when_asked_and_only_if_an_export(
    workspace: Path, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    with Store(Settings(workspace=workspace).store_path, read_only=True) as store:
        first = export_ledger(store, out)
        with pytest.raises(TotalPlaceError, match="earlier export: pass --overwrite"):
            export_ledger(store, out)
        (out / "source_id=stale").mkdir()  # a partition the ledger no longer has
        again = export_ledger(store, out, overwrite=True)
        assert again.files == first.files == len(list(out.rglob("*.parquet")))
        assert not (out / "source_id=stale").exists()
        other = tmp_path / "mine"
        other.mkdir()
        (other / "notes.txt").write_text("keep me")
        with pytest.raises(TotalPlaceError, match="holds other files"):
            export_ledger(store, other, overwrite=True)
        assert (other / "notes.txt").read_text() == "keep me"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial folders


def test_empty_ledger_is_refused(tmp_path: Path) -> None:
    with (
        Store(tmp_path / "s.duckdb") as store,
        pytest.raises(TotalPlaceError, match="ledger is empty"),
    ):
        export_ledger(store, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_export_ledger(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli-export"
    res = CliRunner().invoke(app, ["export-ledger", str(out), "-w", str(workspace)])
    said = " ".join(res.output.split())
    assert res.exit_code == 0, said
    assert "local:a/b:c.csv" in said and "5 Parquet files, 12 rows" in said
    again = CliRunner().invoke(app, ["export-ledger", str(out), "-w", str(workspace)])
    assert again.exit_code == 1 and "--overwrite" in again.output
