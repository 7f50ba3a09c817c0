"""Ingest many files at once: a pool of worker processes parses them (by the adapter's columnar
parser where it has one, else row by row), one writer puts them into the store.

* Workers never touch the store: each writes its file's ledger rows to an Arrow IPC stream in a
  scratch folder beside the store and sends back only counts, notes and quarantine. The writer
  streams each file's rows into DuckDB (no pandas round trip) in submission order, so the
  ledger does not depend on the number of workers.
* Writes share large transactions (a COMMIT after about ``commit_rows`` rows, 2 M by default,
  never inside a file): a killed ingest leaves every file of the uncommitted transaction out,
  and never half a file.
* The rules of `ingest_file` hold file by file: the same content is not ingested twice;
  nothing is replaced unless asked (`pipeline.superseded`: ``force``, or a catalogue source's
  own earlier batch), and a replacement is in the report; a bad file gives one clear error and
  the rest go on; and every row read is in the ledger, in quarantine or excluded with a reason.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from totalplace.errors import TotalPlaceError
from totalplace.ingest.base import ParseContext, ParseResult, get_adapter
from totalplace.ingest.columnar import COLUMNAR, RowLevel
from totalplace.ingest.pipeline import (
    FileReport,
    check_accounting,
    check_counts,
    checked_adapter,
    ingest_file,
    local_source_id,
    replaced_records,
    superseded,
    unchanged_report,
)
from totalplace.ledger.schema import QUARANTINE_COLUMNS, conform, ledger_arrow_schema
from totalplace.ledger.store import Batch, Store
from totalplace.sources.catalogue import sha256_file

#: Rows after which the writer commits (each file is wholly in one transaction): bounds the
#: memory DuckDB holds for uncommitted rows. ``None``: one transaction for the whole call.
COMMIT_ROWS = 2_000_000
#: DuckDB's memory limit while the writer runs (it spills beyond): bounds peak RSS.
WRITER_MEMORY = "300MB"
#: DuckDB's threads while the writer runs: one, as the parsing workers use the other cores (on
#: two cores an insert runs faster on one thread than on two: 1.1 against 1.6 us a row).
WRITER_THREADS = 1
_PROVENANCE = ("source_id", "file", "batch_id")
_SCHEMA = ledger_arrow_schema(exclude=_PROVENANCE, dictionary=True)


@dataclass(frozen=True)
class FileJob:
    """One file to ingest, with its catalogue source id and adapter options."""

    path: Path
    source_id: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class _Prepared:
    adapter: str = "?"
    target: str = "ledger"
    digest: str = ""
    error: str | None = None
    #: The batches this file supersedes (`pipeline.superseded`), decided by the writer.
    replaces: pd.DataFrame | None = None


@dataclass
class _Parsed:
    """What a worker sends back for one file (its rows stay in the IPC stream)."""

    rows_read: int = 0
    rows_ledger: int = 0
    amount_pence: int = 0
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def default_workers() -> int:
    """One parsing worker per core (the writer shares them)."""
    return max(1, os.cpu_count() or 1)


def _error_text(path: Path, exc: Exception) -> str:
    return str(exc) if isinstance(exc, TotalPlaceError) else f"{path.name}: {exc}"


def _prepare(path: Path, adapter: str | None) -> _Prepared:
    """Worker step 1: the checks `ingest_file` makes before parsing, the adapter, the digest."""
    out = _Prepared(adapter or "?")
    try:
        chosen = checked_adapter(path, adapter)
        out.adapter, out.target, out.digest = chosen.name, chosen.target, sha256_file(path)
    except (TotalPlaceError, ValueError, KeyError, OSError) as exc:
        out.error = _error_text(path, exc)
    return out


def _parse(
    path: Path, adapter: str, source_id: str, options: Mapping[str, Any], ipc: Path
) -> _Parsed:
    """Worker step 2: parse one file into the IPC stream ``ipc``; counts and quarantine back."""
    context = ParseContext(source_id=source_id, options=dict(options))
    try:
        result, n, pence = _parse_into(path, adapter, context, ipc)
        check_counts(path, result, n)
    except (TotalPlaceError, ValueError, KeyError, OSError) as exc:
        return _Parsed(error=_error_text(path, exc))
    return _Parsed(result.rows_read, n, pence, result.quarantine, result.skipped, result.notes)


def _parse_into(
    path: Path, adapter: str, context: ParseContext, ipc: Path
) -> tuple[ParseResult, int, int]:
    columnar = COLUMNAR.get(adapter)
    if columnar is not None:
        result = ParseResult()
        try:
            with pa.ipc.new_stream(ipc, _SCHEMA) as sink:
                n = pence = 0
                for batch in columnar(path, context, result):
                    sink.write_batch(batch)
                    n += batch.num_rows
                    pence += int(pa.compute.sum(batch.column("amount_pence")).as_py() or 0)
            return result, n, pence
        except RowLevel:
            pass  # the whole file goes the row-level way
    result = get_adapter(adapter).parse(path, context)
    rows = result.rows()
    check_accounting(path, result, rows if len(rows) else pd.DataFrame({"row": []}))
    with pa.ipc.new_stream(ipc, _SCHEMA) as sink:
        if len(rows):
            sink.write_table(_frame_to_arrow(rows))
    amount = int(rows["amount_pence"].sum()) if len(rows) else 0
    return result, int(rows["row"].nunique()) if len(rows) else 0, amount


def _frame_to_arrow(rows: pd.DataFrame) -> pa.Table:
    """Row-level output in the ledger's Arrow schema, through the pandas `conform`."""
    placeholders = dict.fromkeys(_PROVENANCE, "-")
    frame = conform(rows.assign(**placeholders)).drop(columns=list(_PROVENANCE))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.cast(_SCHEMA)


#: How much lower the parsing workers' CPU priority is than the writer's (``os.nice``).
WORKER_NICENESS = 10


def _worker() -> None:
    from totalplace.ingest import columnar

    columnar.USE_THREADS = False  # the pool's processes are the parallelism
    # The one writer is the ingest's critical path: parsed files wait for it, and whatever
    # it has not written when the last file is parsed runs alone on one core at the end.
    # Lower-priority workers take the CPU the writer leaves, so it never falls behind.
    os.nice(WORKER_NICENESS)


@contextmanager
def _pool(workers: int) -> Iterator[Callable[[Callable[..., Any], list[tuple[Any, ...]]], Any]]:
    """``run(fn, argument tuples)``: results in order, from ``workers`` processes (or this one)."""
    if workers <= 1:
        yield lambda fn, jobs: (fn(*a) for a in jobs)
        return
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker) as ex:
        yield lambda fn, jobs: ex.map(fn, *zip(*jobs, strict=True)) if jobs else iter(())


def ingest_files(
    store: Store,
    files: Iterable[FileJob | Path | str],
    *,
    adapter: str | None = None,
    options: Mapping[str, Any] | None = None,
    force: bool = False,
    workers: int | None = None,
    commit_rows: int | None = COMMIT_ROWS,
) -> list[FileReport]:
    """Ingest ``files`` (paths, or `FileJob` with their own source id and options); one
    `FileReport` per file, in order. Never raises for a bad file."""
    jobs = [
        f if isinstance(f, FileJob) else FileJob(Path(f), options=dict(options or {}))
        for f in files
    ]
    reports: list[FileReport | None] = [None] * len(jobs)
    n_workers = max(1, min(workers or default_workers(), len(jobs)))
    with (
        _pool(n_workers) as run,
        tempfile.TemporaryDirectory(prefix=".ingest-", dir=store.path.parent) as scratch,
    ):
        prepared: list[_Prepared] = list(run(_prepare, [(j.path, adapter) for j in jobs]))
        todo: list[int] = []
        later: list[int] = []
        held = store.contents()
        index = store.batch_index()
        seen: dict[tuple[str, str], int] = {}
        paths: set[Path] = set()
        for i, (job, prep) in enumerate(zip(jobs, prepared, strict=True)):
            name = job.path.name
            if prep.error is not None:
                reports[i] = FileReport(name, prep.adapter, "error", message=prep.error)
            elif prep.target != "ledger":
                later.append(i)
            elif not force and (old := held.get((prep.digest, prep.adapter))):
                sid = _source_id(job, prep.digest)
                reports[i] = unchanged_report(store, job.path, prep.adapter, old, sid)
            elif (prep.digest, prep.adapter) in seen or job.path.resolve() in paths:
                later.append(i)  # a copy of a file of this call: decided once that is written
            else:
                try:  # what it supersedes, or a refusal to add a second version silently
                    prep.replaces = superseded(
                        index,
                        job.path,
                        prep.digest,
                        prep.adapter,
                        source_id=job.source_id,
                        replaces=None,
                        force=force,
                    )
                except TotalPlaceError as exc:
                    reports[i] = FileReport(name, prep.adapter, "error", message=str(exc))
                    continue
                seen[(prep.digest, prep.adapter)] = i
                paths.add(job.path.resolve())
                todo.append(i)
        args = [
            (
                jobs[i].path,
                prepared[i].adapter,
                _source_id(jobs[i], prepared[i].digest),
                jobs[i].options,
                Path(scratch) / f"{i}.arrow",
            )
            for i in todo
        ]
        _write(store, jobs, prepared, todo, run(_parse, args), reports, commit_rows, Path(scratch))
    for i in later:
        job = jobs[i]
        reports[i] = ingest_file(
            store,
            job.path,
            source_id=job.source_id,
            adapter=adapter,
            options=dict(job.options),
            force=force,
        )
    return [r for r in reports if r is not None]


def _source_id(job: FileJob, digest: str) -> str:
    return job.source_id or local_source_id(job.path, digest)


#: Small files' rows are gathered up to this many and written by one INSERT.
GATHER_ROWS = 500_000
#: A file whose rows take more bytes than this is streamed into the store on its own.
STREAM_BYTES = 64 * 1024 * 1024


class _Writer:
    """The one writer: parsed files, in order, gathered into few INSERTs and transactions."""

    def __init__(self, store: Store, commit_rows: int | None) -> None:
        self.store, self.commit_rows = store, commit_rows
        self.tx: Any = None
        self.con: Any = None
        self.uncommitted = 0
        self.batches: list[Batch] = []
        self.tables: list[pa.Table] = []
        self.quarantine: list[dict[str, Any]] = []
        self.replaces: list[str] = []
        self.gathered = 0

    def add(
        self, batch: Batch, ipc: Path, quarantine: list[dict[str, Any]], replaces: list[str]
    ) -> None:
        if ipc.stat().st_size > STREAM_BYTES:
            self.flush()
            with pa.OSFile(str(ipc)) as source:  # read as it goes: memory stays bounded
                rows = _with_provenance(pa.ipc.open_stream(source), batch)
                self._insert([batch], rows, _quarantine_frame(quarantine), replaces)
        else:
            # memory-mapped: a small file's rows are read from the page cache where the
            # worker wrote them, not copied into fresh buffers (the writer is the ingest's
            # slowest path); a large one is streamed instead, so memory stays bounded
            with pa.memory_map(str(ipc)) as source:
                table = pa.ipc.open_stream(source).read_all()
            self.replaces += replaces
            self.batches.append(batch)
            self.tables.append(_with_provenance(table, batch))
            self.quarantine += quarantine
            self.gathered += table.num_rows
        ipc.unlink()
        self.uncommitted += batch.rows_read
        if self.gathered >= GATHER_ROWS:
            self.flush()
        if self.commit_rows is not None and self.uncommitted >= self.commit_rows:
            self.commit()

    def flush(self) -> None:
        if not self.batches:
            return
        rows = pa.concat_tables(self.tables)
        self._insert(self.batches, rows, _quarantine_frame(self.quarantine), self.replaces)
        self.batches, self.tables, self.quarantine, self.gathered = [], [], [], 0
        self.replaces = []

    def _insert(
        self, batches: list[Batch], rows: Any, quarantine: pd.DataFrame, replaces: list[str]
    ) -> None:
        if self.tx is None:
            self.tx = self.store.transaction()
            self.con = self.tx.__enter__()
        self.store.insert_batches(self.con, batches, rows, quarantine, replaces)

    def commit(self) -> None:
        self.flush()
        if self.tx is not None:
            self.tx.__exit__(None, None, None)
        self.tx, self.con, self.uncommitted = None, None, 0

    def abort(self, exc: BaseException) -> None:
        if self.tx is not None:
            self.tx.__exit__(type(exc), exc, exc.__traceback__)  # ROLLBACK
        self.tx = self.con = None


def _with_provenance(rows: Any, batch: Batch) -> Any:
    """``rows`` (a table, or a stream of batches) with the batch's provenance columns, each
    one dictionary-encoded value (no copy of the text per row)."""
    names = list(_PROVENANCE)
    values = [pa.array([getattr(batch, k)], pa.string()) for k in names]

    def extra(n: int) -> list[pa.Array]:
        zeros = pa.array(np.zeros(n, dtype=np.int32))
        return [pa.DictionaryArray.from_arrays(zeros, v) for v in values]

    if isinstance(rows, pa.Table):
        for name, arr in zip(names, extra(rows.num_rows), strict=True):
            rows = rows.append_column(name, arr)
        return rows
    schema = rows.schema
    for name, arr in zip(names, extra(0), strict=True):
        schema = schema.append(pa.field(name, arr.type))
    return pa.RecordBatchReader.from_batches(
        schema,
        (pa.RecordBatch.from_arrays([*b.columns, *extra(b.num_rows)], schema=schema) for b in rows),
    )


def _write(
    store: Store,
    jobs: list[FileJob],
    prepared: list[_Prepared],
    todo: list[int],
    parsed: Iterable[_Parsed],
    reports: list[FileReport | None],
    commit_rows: int | None,
    scratch: Path,
) -> None:
    """Write each parsed file's batch, in order, through one `_Writer`."""
    writer = _Writer(store, commit_rows)
    with store.limits(WRITER_MEMORY, threads=WRITER_THREADS):
        try:
            for i, res in zip(todo, parsed, strict=True):
                job, prep, ipc = jobs[i], prepared[i], scratch / f"{i}.arrow"
                if res.error is not None:
                    reports[i] = FileReport(job.path.name, prep.adapter, "error", message=res.error)
                    ipc.unlink(missing_ok=True)
                    continue
                batch, quarantine = _batch(job, prep, res)
                old = prep.replaces if prep.replaces is not None else pd.DataFrame()
                writer.add(batch, ipc, quarantine, list(old.get("batch_id", [])))
                reports[i] = FileReport(
                    batch.file,
                    prep.adapter,
                    "ingested",
                    res.rows_read,
                    res.rows_ledger,
                    len(res.quarantine),
                    res.amount_pence / 100,
                    "; ".join(res.notes),
                    dict(res.skipped),
                    list(res.notes),
                    source_id=batch.source_id,
                    batch_id=batch.batch_id,
                    replaced=replaced_records(old) if len(old) else [],
                )
            writer.commit()
        except BaseException as exc:
            writer.abort(exc)
            raise


def _quarantine_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(records, columns=list(QUARANTINE_COLUMNS))


def _batch(job: FileJob, prep: _Prepared, res: _Parsed) -> tuple[Batch, list[dict[str, Any]]]:
    name, sid, batch_id = job.path.name, _source_id(job, prep.digest), uuid.uuid4().hex[:12]
    batch = Batch(
        batch_id=batch_id,
        source_id=sid,
        file=name,
        content_sha256=prep.digest,
        adapter=prep.adapter,
        target=prep.target,
        rows_read=res.rows_read,
        rows_ledger=res.rows_ledger,
        rows_quarantined=len(res.quarantine),
        amount_pence=res.amount_pence,
        skipped=res.skipped,
        notes=res.notes,
        path=str(job.path.resolve()),
    )
    provenance = {"batch_id": batch_id, "source_id": sid, "file": name}
    return batch, [{**q, **provenance} for q in res.quarantine]
