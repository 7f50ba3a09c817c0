"""The ingest pipeline: pick the adapter, parse, check the row accounting, add provenance,
and write the file's rows and quarantine to the store in one transaction.

A file whose content was already ingested (same SHA-256, same adapter) is not written again.
A file that cannot be used at all gives one clear error naming it; a batch of files goes on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from totalplace.errors import InputFileError, TotalPlaceError
from totalplace.ingest.base import Adapter, ParseContext, ParseResult, detect_adapter, get_adapter
from totalplace.ledger.schema import QUARANTINE_COLUMNS, conform
from totalplace.ledger.store import Batch, Store
from totalplace.sources.catalogue import sha256_file

EXCLUDED_PREFIX = "excluded:"


@dataclass
class FileReport:
    """What happened to one file (the `--report json` record)."""

    file: str
    adapter: str
    status: str  # 'ingested' | 'unchanged' | 'error'
    rows_read: int = 0
    rows_ledger: int = 0
    rows_quarantined: int = 0
    amount_gbp: float = 0.0
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".json")


def refuse_unsafe(path: Path) -> None:
    """Before detection: refuse zip bombs disguised as spreadsheets and binary 'text' files
    with their own clear message (detection would only say 'no adapter recognises')."""
    from totalplace.ingest.tabular import Limits, check_zip

    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".zip"):
        check_zip(path, Limits())
    elif suffix in TEXT_SUFFIXES:
        with path.open("rb") as fh:
            if b"\x00" in fh.read(1 << 16):
                raise InputFileError(path, "is a binary file (NUL bytes), not text")


def check_accounting(path: Path, result: ParseResult, rows: pd.DataFrame) -> None:
    """Every data row read is in the output, in quarantine, or excluded with a named reason."""
    check_counts(path, result, rows["row"].nunique() if len(rows) else 0)


def check_counts(path: Path, result: ParseResult, represented: int) -> None:
    """`check_accounting` given how many distinct rows are in the output."""
    excluded = sum(n for k, n in result.skipped.items() if k.startswith(EXCLUDED_PREFIX))
    accounted = represented + len(result.quarantine) + excluded
    if accounted != result.rows_read:
        raise InputFileError(
            path,
            f"row accounting failed: read {result.rows_read:,} rows but {represented:,} are in "
            f"the output, {len(result.quarantine):,} quarantined and {excluded:,} excluded",
        )


def unchanged_report(store: Store, path: Path, adapter: str, batch_id: str) -> FileReport:
    """The report for a file whose content batch ``batch_id`` already holds."""
    b = store.query(
        "SELECT rows_read, rows_ledger, rows_quarantined, amount_pence "
        "FROM batches WHERE batch_id = ?",
        [batch_id],
    ).iloc[0]
    return FileReport(
        path.name,
        adapter,
        "unchanged",
        int(b["rows_read"]),
        int(b["rows_ledger"]),
        int(b["rows_quarantined"]),
        int(b["amount_pence"]) / 100,
        f"same content already ingested (batch {batch_id})",
    )


def ingest_file(
    store: Store,
    path: Path,
    *,
    source_id: str | None = None,
    adapter: Adapter | str | None = None,
    options: dict[str, Any] | None = None,
    force: bool = False,
) -> FileReport:
    """Ingest one file into the store; never raises for a bad file, reports it instead."""
    path = Path(path)
    name = adapter if isinstance(adapter, str) else (adapter.name if adapter else "?")
    try:
        if not path.is_file():
            raise InputFileError(path, "file not found")
        if path.stat().st_size == 0:
            raise InputFileError(path, "file is empty")
        if adapter is None:
            refuse_unsafe(path)
        chosen = (
            get_adapter(adapter) if isinstance(adapter, str) else adapter or detect_adapter(path)
        )
        name = chosen.name
        digest = sha256_file(path)
        sid = source_id or f"local:{path.name}"
        if not force and (existing := store.has_content(digest, chosen.name)):
            return unchanged_report(store, path, chosen.name, existing)
        context = ParseContext(source_id=sid, options=dict(options or {}))
        result = chosen.parse(path, context)
        batch_id = uuid.uuid4().hex[:12]
        rows = result.rows()
        if len(rows):
            check_accounting(path, result, rows)
            rows = rows.assign(source_id=sid, file=path.name, batch_id=batch_id)
            if chosen.target == "ledger":
                rows = conform(rows)
            else:
                rows = rows.assign(source_id=sid).drop(columns=["file", "row"], errors="ignore")
        else:
            check_accounting(path, result, pd.DataFrame({"row": []}))
        quarantine = pd.DataFrame(result.quarantine, columns=["row", "reason", "raw"]).assign(
            batch_id=batch_id, source_id=sid, file=path.name
        )[list(QUARANTINE_COLUMNS)]
        amount = int(rows["amount_pence"].sum()) if "amount_pence" in rows else 0
        batch = Batch(
            batch_id=batch_id,
            source_id=sid,
            file=path.name,
            content_sha256=digest,
            adapter=chosen.name,
            target=chosen.target,
            rows_read=result.rows_read,
            rows_ledger=len(rows),
            rows_quarantined=len(quarantine),
            amount_pence=amount,
            skipped=result.skipped,
            notes=result.notes,
        )
        store.write_batch(batch, rows, quarantine)
        return FileReport(
            path.name,
            chosen.name,
            "ingested",
            result.rows_read,
            len(rows),
            len(quarantine),
            amount / 100,
            "; ".join(result.notes),
        )
    except TotalPlaceError as exc:
        return FileReport(path.name, name, "error", message=str(exc))
    except (ValueError, KeyError, OSError) as exc:
        return FileReport(path.name, name, "error", message=f"{path.name}: {exc}")
