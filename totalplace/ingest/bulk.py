"""Ingest many files at once: a pool of worker processes parses them (by the adapter's columnar
parser where it has one, else row by row), one writer puts them into the store.

* Workers never touch the store: each task writes its files' ledger rows to one Arrow IPC
  stream in a scratch folder beside the store (`handoff`: small files share a stream, file
  after file; a large file has its own, written as it is parsed) and sends back only counts,
  notes and quarantine. The writer streams the rows into DuckDB (no pandas round trip) in
  submission order, each row given its own file's provenance, so the ledger does not depend
  on the number of workers.
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
import queue
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from totalplace.errors import TotalPlaceError
from totalplace.ingest.base import ParseContext, ParseResult, get_adapter
from totalplace.ingest.columnar import CHUNK_BYTES, COLUMNAR, COLUMNAR_MANY, RowLevel, runs
from totalplace.ingest.handoff import PROVENANCE, SCHEMA, GroupSink, Sink, with_provenance
from totalplace.ingest.pipeline import (
    FileReport,
    batch_counts,
    check_accounting,
    check_counts,
    checked_adapter,
    ingest_file,
    local_source_id,
    replaced_records,
    superseded,
    unchanged_report,
)
from totalplace.ledger.schema import QUARANTINE_COLUMNS, conform
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
    #: Rows it put in the IPC stream (a row-level file's row may give several ledger rows).
    rows_written: int = 0
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
    path: Path,
    adapter: str,
    source_id: str,
    options: Mapping[str, Any],
    sink: Sink,
    done: _Done | None = None,
) -> _Parsed:
    """Worker step 2: parse one file, its rows into ``sink``; counts and quarantine back.
    ``done``: its columnar parse already made (`_parse_many`)."""
    context = ParseContext(source_id=source_id, options=dict(options))
    try:
        result, n, pence = _parse_into(path, adapter, context, sink, done)
        check_counts(path, result, n)
    except (TotalPlaceError, ValueError, KeyError, OSError) as exc:
        return _Parsed(error=_error_text(path, exc))
    return _Parsed(
        result.rows_read, n, pence, result.quarantine, result.skipped, result.notes, sink.written
    )


#: A file's columnar parse made with others' (`columnar.parse_spend_many`): its result and
#: its batches, or what the parse raised.
_Done = tuple[ParseResult, "list[pa.RecordBatch] | Exception"]
#: Files of at most this many bytes in all are parsed by one task (`_parse_many`).
GROUP_BYTES = 2 * CHUNK_BYTES
#: `_parse`'s arguments for one file but its sink: path, adapter, source id, options.
_ParseArgs = tuple[Path, str, str, Mapping[str, Any]]


def _parse_many(items: list[_ParseArgs], ipc: Path) -> list[_Parsed]:
    """`_parse` of several files, their rows into one IPC stream ``ipc`` (a file alone is
    streamed as it is parsed, so its memory stays bounded); the small ones whose adapter can,
    parsed together (`COLUMNAR_MANY`): a few milliseconds of fixed cost a file saved."""
    done: dict[int, _Done] = {}
    for adapter, parse_many in COLUMNAR_MANY.items():
        chosen = [k for k, item in enumerate(items) if item[1] == adapter]
        if len(chosen) < 2:
            continue
        jobs = [
            (items[k][0], ParseContext(source_id=items[k][2], options=dict(items[k][3])))
            for k in chosen
        ]
        results = [ParseResult() for _ in chosen]
        parsed = parse_many([(p, c, r) for (p, c), r in zip(jobs, results, strict=True)])
        done.update(zip(chosen, zip(results, parsed, strict=True), strict=True))
    sink = Sink(ipc) if len(items) == 1 else GroupSink(ipc)
    out = []
    try:
        for k, item in enumerate(items):
            out.append(one := _parse(*item, sink, done=done.get(k)))
            if one.error is None:
                sink.keep()
    finally:
        sink.close()
    return out


def _parse_into(
    path: Path, adapter: str, context: ParseContext, sink: Sink, done: _Done | None = None
) -> tuple[ParseResult, int, int]:
    columnar = COLUMNAR.get(adapter)
    if columnar is not None:
        result, batches = done if done is not None else (ParseResult(), None)
        try:
            if isinstance(batches, Exception):
                raise batches
            sink.start()
            n = pence = 0
            for batch in batches if batches is not None else columnar(path, context, result):
                sink.write(batch)
                n += batch.num_rows
                pence += int(pa.compute.sum(batch.column("amount_pence")).as_py() or 0)
            return result, n, pence
        except RowLevel:
            pass  # the whole file goes the row-level way
    result = get_adapter(adapter).parse(path, context)
    rows = result.rows()
    check_accounting(path, result, rows if len(rows) else pd.DataFrame({"row": []}))
    sink.start()
    if len(rows):
        sink.write(_frame_to_arrow(rows))
    amount = int(rows["amount_pence"].sum()) if len(rows) else 0
    return result, int(rows["row"].nunique()) if len(rows) else 0, amount


def _frame_to_arrow(rows: pd.DataFrame) -> pa.Table:
    """Row-level output in the ledger's Arrow schema, through the pandas `conform`."""
    placeholders = dict.fromkeys(PROVENANCE, "-")
    frame = conform(rows.assign(**placeholders)).drop(columns=list(PROVENANCE))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.cast(SCHEMA)


#: How much lower the parsing workers' CPU priority is than the writer's (``os.nice``).
WORKER_NICENESS = 10


def _worker() -> None:
    from totalplace.ingest import columnar

    columnar.USE_THREADS = False  # the pool's processes are the parallelism
    # The one writer is the ingest's critical path: parsed files wait for it, and whatever
    # it has not written when the last file is parsed runs alone on one core at the end.
    # Lower-priority workers take the CPU the writer leaves, so it never falls behind.
    os.nice(WORKER_NICENESS)


class _InProcess:
    """`_pool` with one worker: each task runs in this process when submitted."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        done: Future[Any] = Future()
        try:
            done.set_result(fn(*args))
        except BaseException as exc:
            done.set_exception(exc)
        return done


@contextmanager
def _pool(workers: int) -> Iterator[Any]:
    """Something to ``submit(fn, *args)`` to: ``workers`` processes (or this one)."""
    if workers <= 1:
        yield _InProcess()
        return
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker) as ex:
        try:
            yield ex
        except BaseException:
            ex.shutdown(wait=True, cancel_futures=True)  # not every file parsed in vain
            raise


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
    with (  # the pool is shut down (its workers done) before the scratch folder goes
        tempfile.TemporaryDirectory(prefix=".ingest-", dir=store.path.parent) as scratch,
        _pool(n_workers) as pool,
    ):
        plan = _Plan(store, jobs, reports, force)
        decisions = _decisions(pool, plan, adapter, Path(scratch))
        with closing(_results(pool, decisions)) as parsed:
            _write(store, jobs, plan.prepared, parsed, reports, commit_rows)
    later = plan.later
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


#: Files prepared (checked, detected, hashed) by one task of the pool: fewer round trips
#: through the writer's process, which hands the tasks out; the files decided from one task
#: are parsed in groups of up to `GROUP_BYTES` (`_parse_many`).
PREPARE_FILES = 64
#: Tasks of preparation queued ahead of the parsing: the pool's queue interleaves the two, so
#: the first files are parsed (and written) while later ones are still being hashed.
PREPARE_AHEAD = 4


class _Plan:
    """What becomes of each prepared file, decided in order as the preparations arrive: an
    error, unchanged, left for later (not a ledger file, or a copy of a file of this call), or
    parsed. Decisions read snapshots of the store taken before any write, so they do not
    depend on how far the writer has got."""

    def __init__(
        self, store: Store, jobs: list[FileJob], reports: list[FileReport | None], force: bool
    ) -> None:
        self.jobs, self.reports, self.force = jobs, reports, force
        self.held = store.contents()
        self.index = store.batch_index()
        self.counts = batch_counts(store) if not force else {}
        self.prepared = [_Prepared() for _ in jobs]
        self.later: list[int] = []
        self.seen: set[tuple[str, str]] = set()
        self.paths: set[Path] = set()

    def decide(self, i: int, prep: _Prepared) -> bool:
        """Record file ``i``'s preparation; True when it is to be parsed now."""
        self.prepared[i] = prep
        job = self.jobs[i]
        name = job.path.name
        if prep.error is not None:
            self.reports[i] = FileReport(name, prep.adapter, "error", message=prep.error)
            return False
        if prep.target != "ledger":
            self.later.append(i)
            return False
        key = (prep.digest, prep.adapter)
        if not self.force and (old := self.held.get(key)):
            sid = _source_id(job, prep.digest)
            self.reports[i] = unchanged_report(self.counts[old], job.path, prep.adapter, old, sid)
            return False
        if key in self.seen or job.path.resolve() in self.paths:
            self.later.append(i)  # a copy of a file of this call: decided once that is written
            return False
        try:  # what it supersedes, or a refusal to add a second version silently
            prep.replaces = superseded(
                self.index,
                job.path,
                prep.digest,
                prep.adapter,
                source_id=job.source_id,
                replaces=None,
                force=self.force,
            )
        except TotalPlaceError as exc:
            self.reports[i] = FileReport(name, prep.adapter, "error", message=str(exc))
            return False
        self.seen.add(key)
        self.paths.add(job.path.resolve())
        return True


def _prepare_many(items: list[tuple[Path, str | None]]) -> list[_Prepared]:
    return [_prepare(path, adapter) for path, adapter in items]


#: A task of parsing: the files' positions in the call, their one IPC stream, the results.
_Task = tuple[list[int], Path, "Future[list[_Parsed]]"]


def _decisions(pool: Any, plan: _Plan, adapter: str | None, scratch: Path) -> Iterator[_Task]:
    """Each group of files to parse, in order, with its parse submitted to the pool as soon
    as the files' preparations are decided (`PREPARE_FILES`, `PREPARE_AHEAD`)."""
    jobs = plan.jobs
    starts = iter(range(0, len(jobs), PREPARE_FILES))
    ahead: deque[tuple[int, Future[list[_Prepared]]]] = deque()

    def prepare_next() -> None:
        k = next(starts, None)
        if k is not None:
            items = [(j.path, adapter) for j in jobs[k : k + PREPARE_FILES]]
            ahead.append((k, pool.submit(_prepare_many, items)))

    for _ in range(PREPARE_AHEAD):
        prepare_next()
    while ahead:
        k, task = ahead.popleft()
        prepare_next()
        chosen: list[tuple[int, _ParseArgs]] = []
        for i, prep in enumerate(task.result(), start=k):
            if plan.decide(i, prep):
                job = jobs[i]
                sid = _source_id(job, prep.digest)
                chosen.append((i, (job.path, prep.adapter, sid, job.options)))
        for group in runs(chosen, _size, GROUP_BYTES):
            ipc = scratch / f"{group[0][0]}.arrow"
            yield [i for i, _ in group], ipc, pool.submit(_parse_many, [it for _, it in group], ipc)


def _size(item: tuple[int, _ParseArgs]) -> int:
    try:
        return item[1][0].stat().st_size
    except OSError:
        return GROUP_BYTES  # alone: its parse will say what is wrong with it


#: A parsed group: the files' positions, their IPC stream, each file's result.
_Group = tuple[list[int], Path, list[_Parsed]]


def _results(pool: Any, decisions: Iterator[_Task]) -> Generator[_Group, None, None]:
    """Each parsed group, in order. With a pool of processes the decisions are made in a
    thread of their own, so the pool never waits for the writer to ask for more."""
    if isinstance(pool, _InProcess):
        for indices, ipc, task in decisions:
            yield indices, ipc, task.result()
        return
    handed: queue.SimpleQueue[Any] = queue.SimpleQueue()
    stop = threading.Event()
    done = object()

    def decide_all() -> None:
        try:
            for item in decisions:
                handed.put(item)
                if stop.is_set():
                    return
        except BaseException as exc:  # raised again in the writer's thread
            handed.put(exc)
        finally:
            handed.put(done)

    thread = threading.Thread(target=decide_all, name="ingest-decisions", daemon=True)
    thread.start()
    try:
        while (item := handed.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            indices, ipc, task = item
            yield indices, ipc, task.result()
    finally:
        stop.set()
        thread.join()


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

    def add(self, files: list[_Member], ipc: Path) -> None:
        """The good files of a parsed group (their rows in order in the stream ``ipc``)."""
        batches = [m.batch for m in files]
        counts = [m.rows for m in files]
        quarantine = [q for m in files for q in m.quarantine]
        replaces = [r for m in files for r in m.replaces]
        if ipc.stat().st_size > STREAM_BYTES:
            self.flush()
            with pa.OSFile(str(ipc)) as source:  # read as it goes: memory stays bounded
                rows = with_provenance(pa.ipc.open_stream(source), batches, counts)
                self._insert(batches, rows, _quarantine_frame(quarantine), replaces)
        else:
            # memory-mapped: small files' rows are read from the page cache where the
            # worker wrote them, not copied into fresh buffers (the writer is the ingest's
            # slowest path); a large stream is read as it goes instead, so memory stays bounded
            with pa.memory_map(str(ipc)) as source:
                table = pa.ipc.open_stream(source).read_all()
            self.replaces += replaces
            self.batches += batches
            self.tables.append(with_provenance(table, batches, counts))
            self.quarantine += quarantine
            self.gathered += table.num_rows
        ipc.unlink()
        self.uncommitted += sum(b.rows_read for b in batches)
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


@dataclass
class _Member:
    """A good file of a parsed group, for the writer: its batch, how many rows it put in the
    group's stream, its quarantine and the batches it supersedes."""

    batch: Batch
    rows: int
    quarantine: list[dict[str, Any]]
    replaces: list[str]


def _write(
    store: Store,
    jobs: list[FileJob],
    prepared: list[_Prepared],
    parsed: Iterable[_Group],
    reports: list[FileReport | None],
    commit_rows: int | None,
) -> None:
    """Write each parsed group's good files, in order, through one `_Writer`; report each."""
    writer = _Writer(store, commit_rows)
    with store.limits(WRITER_MEMORY, threads=WRITER_THREADS):
        try:
            for indices, ipc, results in parsed:
                good = [
                    _written(i, jobs[i], prepared[i], res, reports)
                    for i, res in zip(indices, results, strict=True)
                ]
                files = [m for m in good if m is not None]
                if files:
                    writer.add(files, ipc)
                else:
                    ipc.unlink(missing_ok=True)
            writer.commit()
        except BaseException as exc:
            writer.abort(exc)
            raise


def _written(
    i: int, job: FileJob, prep: _Prepared, res: _Parsed, reports: list[FileReport | None]
) -> _Member | None:
    """File ``i``'s report, and what the writer is to write of it (None: it failed)."""
    if res.error is not None:
        reports[i] = FileReport(job.path.name, prep.adapter, "error", message=res.error)
        return None
    batch, quarantine = _batch(job, prep, res)
    old = prep.replaces if prep.replaces is not None else pd.DataFrame()
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
    replaces = list(old["batch_id"]) if len(old) else []
    return _Member(batch, res.rows_written, quarantine, replaces)


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
