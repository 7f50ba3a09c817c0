"""The ingest pipeline: pick the adapter, parse, check the row accounting, add provenance,
and write the file's rows and quarantine to the store in one transaction.

Nothing is replaced unless the user (or the catalogue) says so, and every replacement is in
the report with the rows it removes:

* A file whose content was already ingested (same SHA-256, same adapter) is not written again.
* A user's file is its own source, ``local:<name>:<first 8 hex of its SHA-256>``: two councils'
  ``spend.csv`` from two folders are two sources, both kept.
* A changed file at a path ingested before is refused, unless ``force`` (this version
  replaces the earlier ones from that path) or ``replaces`` names what it supersedes (a source
  id, a path or a batch id). ``force`` on unchanged content reads the file again in place.
* A catalogue source (``source_id`` given, as `totalplace build` does) replaces its own
  earlier batch of the same file: the catalogue says which source the file is.

A file that cannot be used at all gives one clear error naming it; a batch of files goes on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from totalplace.errors import InputFileError, TotalPlaceError
from totalplace.ingest.base import Adapter, ParseContext, ParseResult, detect_adapter, get_adapter
from totalplace.ledger.schema import QUARANTINE_COLUMNS, conform
from totalplace.ledger.store import BATCH_SUMMARY, Batch, Store
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
    #: Rows that were not data, by kind (title, blank, total, footer), and what was decided
    #: about the file (encoding, amount column, paying body): both as in the batch record.
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source_id: str = ""
    batch_id: str = ""
    #: Batches this file superseded (removed), each with the rows and amount that went.
    replaced: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def replaced_text(self) -> str:
        """'local:spend.csv:1a2b3c4d (2 ledger rows, 0 quarantined, £3,000)', or ''."""
        return "; ".join(
            f"{r['source_id']} ({r['rows_ledger']:,} ledger rows, "
            f"{r['rows_quarantined']:,} quarantined, £{r['amount_gbp']:,.2f})"
            for r in self.replaced
        )


TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".json")


def refuse_unsafe(path: Path) -> None:
    """Before detection: refuse zip bombs disguised as spreadsheets and binary 'text' files
    with their own clear message (detection would only say 'no adapter recognises')."""
    from totalplace.ingest.tabular import Limits, check_zip, is_utf16

    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".zip"):
        check_zip(path, Limits())
    elif suffix in TEXT_SUFFIXES:
        with path.open("rb") as fh:
            head = fh.read(1 << 16)
            if b"\x00" in head and not is_utf16(head):
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


def checked_adapter(path: Path, adapter: Adapter | str | None) -> Adapter:
    """The checks made before a file is parsed (it exists, is not empty, and, when the adapter
    is to be detected, is safe to read), then its adapter: the one named, or the detected one."""
    if not path.is_file():
        raise InputFileError(path, "file not found")
    if path.stat().st_size == 0:
        raise InputFileError(path, "file is empty")
    if adapter is None:
        refuse_unsafe(path)
    return get_adapter(adapter) if isinstance(adapter, str) else adapter or detect_adapter(path)


def local_source_id(path: Path, digest: str) -> str:
    """The source id of a user's file: its name and the start of its content's SHA-256."""
    return f"local:{path.name}:{digest[:8]}"


class FindsBatches(Protocol):
    """`Store.find_batches` (the store itself, or a `BatchIndex` snapshot of it)."""

    def find_batches(self, **equal: str) -> pd.DataFrame: ...


def superseded(
    store: FindsBatches,
    path: Path,
    digest: str,
    adapter: str,
    *,
    source_id: str | None,
    replaces: str | None,
    force: bool,
) -> pd.DataFrame:
    """The batches this file replaces (`BATCH_SUMMARY` columns). InputFileError when it would
    silently add a second version of a file ingested before, or ``replaces`` names nothing."""
    found: list[pd.DataFrame] = []
    if force:  # the same content, read again
        found.append(store.find_batches(content_sha256=digest, adapter=adapter))
    if source_id is not None:  # a catalogue source: its own earlier batch of this file
        found.append(store.find_batches(source_id=source_id, file=path.name))
    if replaces:
        named = [
            store.find_batches(source_id=replaces),
            store.find_batches(path=str(Path(replaces).expanduser().resolve())),
            store.find_batches(batch_id=replaces),
        ]
        if all(f.empty for f in named):
            raise InputFileError(
                path,
                f"--replaces {replaces!r}: no ingested file has that source id, path or batch id "
                "(the ingest report gives each file's source_id)",
            )
        found += named
    if source_id is None:  # a user's file: earlier versions from the same path
        earlier = store.find_batches(path=str(path.resolve()))
        chosen = {b for f in found for b in f["batch_id"]}
        left = earlier[~earlier["batch_id"].isin(chosen)]
        if len(left) and not force:
            b = left.iloc[-1]
            raise InputFileError(
                path,
                f"this path was ingested before with other content (source {b['source_id']}, "
                f"batch {b['batch_id']}: {int(b['rows_ledger']):,} ledger rows, "
                f"£{int(b['amount_pence']) / 100:,.2f}) and nothing was written: pass --force "
                "to replace that version with this one, or copy the file to another path to "
                "keep both",
            )
        found.append(left)
    hits = [f for f in found if len(f)]
    if not hits:  # an empty lookup's frame, else a new one (the common case, made cheap)
        return found[0] if found else pd.DataFrame(columns=list(BATCH_SUMMARY))
    found = hits
    return pd.concat(found, ignore_index=True).drop_duplicates("batch_id")


#: A batch's counts as `unchanged_report` gives them: rows read, in the ledger, quarantined,
#: and the amount in pence.
BatchCounts = tuple[int, int, int, int]


def batch_counts(store: Store, batch_id: str | None = None) -> dict[str, BatchCounts]:
    """Each batch's `BatchCounts` (or only ``batch_id``'s), by batch id."""
    sql = "SELECT batch_id, rows_read, rows_ledger, rows_quarantined, amount_pence FROM batches"
    rows = store.con.execute(
        sql + (" WHERE batch_id = ?" if batch_id else ""), [batch_id] if batch_id else []
    ).fetchall()
    return {r[0]: (int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows}


def unchanged_report(
    counts: BatchCounts, path: Path, adapter: str, batch_id: str, source_id: str = ""
) -> FileReport:
    """The report for a file whose content batch ``batch_id`` (with these counts) holds."""
    rows_read, rows_ledger, rows_quarantined, pence = counts
    return FileReport(
        path.name,
        adapter,
        "unchanged",
        rows_read,
        rows_ledger,
        rows_quarantined,
        pence / 100,
        f"same content already ingested (batch {batch_id})",
        source_id=source_id,
        batch_id=batch_id,
    )


def replaced_records(old: pd.DataFrame) -> list[dict[str, Any]]:
    """The batches a file superseded (`superseded`), as the report lists them."""
    return [
        {
            "batch_id": r.batch_id,
            "source_id": r.source_id,
            "file": r.file,
            "path": r.path,
            "rows_ledger": int(r.rows_ledger),
            "rows_quarantined": int(r.rows_quarantined),
            "amount_gbp": int(r.amount_pence) / 100,
        }
        for r in old.itertuples()
    ]


def ingest_file(
    store: Store,
    path: Path,
    *,
    source_id: str | None = None,
    adapter: Adapter | str | None = None,
    options: dict[str, Any] | None = None,
    force: bool = False,
    replaces: str | None = None,
) -> FileReport:
    """Ingest one file into the store; never raises for a bad file, reports it instead.

    ``force`` and ``replaces`` say what the file may supersede (see the module docstring)."""
    path = Path(path)
    name = adapter if isinstance(adapter, str) else (adapter.name if adapter else "?")
    try:
        chosen = checked_adapter(path, adapter)
        name = chosen.name
        digest = sha256_file(path)
        sid = source_id or local_source_id(path, digest)
        if not force and (existing := store.has_content(digest, chosen.name)):
            counts = batch_counts(store, existing)[existing]
            return unchanged_report(counts, path, chosen.name, existing, sid)
        old = superseded(
            store,
            path,
            digest,
            chosen.name,
            source_id=source_id,
            replaces=replaces,
            force=force,
        )
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
            path=str(path.resolve()),
        )
        store.write_batch(batch, rows, quarantine, replaces=list(old["batch_id"]))
        return FileReport(
            path.name,
            chosen.name,
            "ingested",
            result.rows_read,
            len(rows),
            len(quarantine),
            amount / 100,
            "; ".join(result.notes),
            dict(result.skipped),
            list(result.notes),
            source_id=sid,
            batch_id=batch_id,
            replaced=replaced_records(old),
        )
    except TotalPlaceError as exc:
        return FileReport(path.name, name, "error", message=str(exc))
    except (ValueError, KeyError, OSError) as exc:
        return FileReport(path.name, name, "error", message=f"{path.name}: {exc}")
