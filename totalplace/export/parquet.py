"""Export the ledger as hive-partitioned Parquet, by source and financial year.

``DIR/source_id=<id>/year=<YYYY-YY>/data_0.parquet``: every ledger column, provenance included
(the partition columns live in the folder names). DuckDB
(``read_parquet('DIR/**/*.parquet', hive_partitioning=true)``) and pyarrow
(``pyarrow.dataset.dataset(DIR, partitioning='hive')``) read it back unchanged: partition
values are percent-encoded in folder names (``local:a/b.csv`` is ``local%3Aa%2Fb.csv``).

The export is written beside ``DIR`` and moved into place when complete, so a failed export
leaves no half-written folder; an existing folder is replaced only when asked and only when
it holds nothing but an earlier export.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from totalplace.errors import TotalPlaceError
from totalplace.ledger.store import Store

PARTITION_BY: tuple[str, str] = ("source_id", "year")


@dataclass
class LedgerExport:
    """What was written: the folder, its Parquet files, and rows and pence per source."""

    directory: Path
    files: int
    by_source: pd.DataFrame  # source_id, years, rows, amount_pence


def export_ledger(store: Store, directory: Path, overwrite: bool = False) -> LedgerExport:
    """Write the store's ledger under ``directory`` as hive-partitioned Parquet."""
    directory = Path(directory).resolve()
    _check_target(directory, overwrite)
    by_source = store.query(
        f"""SELECT source_id, count(DISTINCT year) AS years, count(*) AS rows,
                   sum(amount_pence)::BIGINT AS amount_pence
            FROM ledger GROUP BY {PARTITION_BY[0]} ORDER BY {PARTITION_BY[0]}"""
    )
    if by_source.empty:
        raise TotalPlaceError("the ledger is empty: nothing to export (ingest or build first)")
    directory.parent.mkdir(parents=True, exist_ok=True)
    partial = directory.with_name(f".{directory.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        store.copy_ledger_to_parquet(partial, PARTITION_BY)
        _move_into_place(partial, directory)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    files = sum(1 for _ in directory.rglob("*.parquet"))
    return LedgerExport(directory, files, by_source)


def _is_export(directory: Path) -> bool:
    return all(p.is_dir() and p.name.startswith(f"{PARTITION_BY[0]}=") for p in directory.iterdir())


def _check_target(directory: Path, overwrite: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise TotalPlaceError(f"{directory} is a file, not a folder")
    if not directory.is_dir() or not any(directory.iterdir()):
        return
    if not _is_export(directory):
        raise TotalPlaceError(
            f"{directory} holds other files than a ledger export: choose an empty or new folder"
        )
    if not overwrite:
        raise TotalPlaceError(
            f"{directory} holds an earlier export: pass --overwrite to replace it"
        )


def _move_into_place(partial: Path, directory: Path) -> None:
    if not directory.exists():
        partial.rename(directory)
        return
    old = directory.with_name(f".{directory.name}.old-{uuid.uuid4().hex[:8]}")
    directory.rename(old)
    try:
        partial.rename(directory)
    except BaseException:
        old.rename(directory)
        raise
    shutil.rmtree(old)
