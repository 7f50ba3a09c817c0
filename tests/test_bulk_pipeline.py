"""How `ingest_files` hands files to its pool: each file is prepared (checked, detected,
hashed) in small tasks a few ahead of the parsing, and its parse is submitted as soon as its
preparation is decided, so parsing and writing start with the first files. How the files are
handed out changes nothing in the store or the reports; a failure while deciding fails the
ingest and writes nothing."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from benchmarks.generate import generate
from tests.test_columnar_conformance import generated_jobs, snapshot
from totalplace.errors import InputFileError
from totalplace.ingest import bulk
from totalplace.ingest.bulk import FileJob, ingest_files
from totalplace.ledger.store import Store

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> list[FileJob]:
    """Generated spend files, then a copy of the first under another name (decided once that
    is written), a file no adapter reads (an error) and a fixture with its own lookups."""
    out = tmp_path_factory.mktemp("handed-out")
    manifest = generate(6_000, out, councils=6, mirror=mirror, workers=1)
    jobs = generated_jobs(out, manifest)
    copy = out / "copy-of-the-first.csv"
    shutil.copyfile(jobs[0].path, copy)
    junk = out / "not-a-spend-file.csv"
    junk.write_text("colour,shape\nred,round\n", encoding="utf-8")
    return [*jobs, FileJob(copy, jobs[0].source_id, jobs[0].options), FileJob(junk)]


def ingest_twice(path: Path, jobs: list[FileJob], workers: int) -> tuple[Any, list[Any]]:
    """The store after ingesting ``jobs``, and the reports of that ingest and of a second one
    (whose files are all unchanged, but the error)."""
    with Store(path) as store:
        first = ingest_files(store, jobs, workers=workers)
        again = ingest_files(store, jobs, workers=workers)
        reports = [
            (
                r.file,
                r.status,
                r.rows_read,
                r.rows_ledger,
                r.rows_quarantined,
                r.amount_gbp,
                re.sub(r"batch \w+", "batch …", r.message),
            )
            for r in [*first, *again]
        ]
        return snapshot(store), reports


def test_how_files_are_handed_out_changes_nothing(
    files: list[FileJob], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = []
    for name, per_task, ahead, workers in (
        ("defaults", bulk.PREPARE_FILES, bulk.PREPARE_AHEAD, 2),
        ("one-by-one", 1, 1, 2),
        ("all-at-once", 10_000, 1, 2),
        ("in-process", 3, 2, 1),
    ):
        monkeypatch.setattr(bulk, "PREPARE_FILES", per_task)
        monkeypatch.setattr(bulk, "PREPARE_AHEAD", ahead)
        results.append(ingest_twice(tmp_path / f"{name}.duckdb", files, workers))
    (snap, reports), *others = results
    for other in others:
        assert other == (snap, reports)
    statuses = [r[1] for r in reports]
    n = len(files)
    assert statuses[: n - 2] == ["ingested"] * (n - 2)
    assert statuses[n - 2 : n] == ["unchanged", "error"]  # the copy; the junk file
    assert statuses[n:] == ["unchanged"] * (n - 1) + ["error"]
    # an unchanged file's report gives the counts of the batch that holds its content
    assert [r[2:6] for r in reports[n : 2 * n - 2]] == [r[2:6] for r in reports[: n - 2]]
    assert len(snap["batches"]) == n - 2


def test_parsing_starts_before_every_file_is_prepared(
    files: list[FileJob], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    prepare, parse = bulk._prepare, bulk._parse

    def prepared(path: Path, adapter: str | None) -> Any:
        events.append(("prepare", path.name))
        return prepare(path, adapter)

    def parsed(path: Path, *args: Any, **kw: Any) -> Any:
        events.append(("parse", path.name))
        return parse(path, *args, **kw)

    monkeypatch.setattr(bulk, "_prepare", prepared)
    monkeypatch.setattr(bulk, "_parse", parsed)
    monkeypatch.setattr(bulk, "PREPARE_FILES", 2)
    monkeypatch.setattr(bulk, "PREPARE_AHEAD", 1)
    jobs = files[:-2]  # the generated ones
    assert len(jobs) >= 5
    with Store(tmp_path / "s.duckdb") as store:
        reports = ingest_files(store, jobs, workers=1)
    assert [r.status for r in reports] == ["ingested"] * len(jobs)
    kinds = [kind for kind, _ in events]
    assert kinds.count("prepare") == kinds.count("parse") == len(jobs)
    assert kinds.index("parse") < len(kinds) - 1 - kinds[::-1].index("prepare")
    # each file is parsed after it is prepared, and the files are parsed in order
    for kind, name in events:
        if kind == "parse":
            assert events.index(("prepare", name)) < events.index(("parse", name))
    assert [n for k, n in events if k == "parse"] == [j.path.name for j in jobs]


def test_a_failure_deciding_the_files_fails_the_ingest_and_writes_nothing(
    files: list[FileJob], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decisions are made in a thread of the writer's process (with a pool): an error
    there reaches the caller, and the transaction the writer had begun is rolled back."""
    superseded, calls = bulk.superseded, []

    def fails_on_the_third(*args: Any, **kw: Any) -> Any:
        calls.append(args[1])
        if len(calls) == 3:
            raise RuntimeError("the third decision fails")
        return superseded(*args, **kw)

    monkeypatch.setattr(bulk, "superseded", fails_on_the_third)
    monkeypatch.setattr(bulk, "PREPARE_FILES", 1)
    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(RuntimeError, match="the third decision fails"):
            ingest_files(store, files, workers=2)
        assert store.query("SELECT count(*) AS n FROM ledger")["n"].iloc[0] == 0
        assert store.query("SELECT count(*) AS n FROM batches")["n"].iloc[0] == 0
        assert not list(tmp_path.glob(".ingest-*"))  # the scratch folder is gone


def _provenance_ok(store: Store) -> bool:
    """Every ledger row names the batch of its own file and source."""
    wrong = store.query(
        "SELECT count(*) AS n FROM ledger l JOIN batches b USING (batch_id) "
        "WHERE l.file <> b.file OR l.source_id <> b.source_id"
    ).iloc[0, 0]
    orphans = store.query(
        "SELECT count(*) AS n FROM ledger WHERE batch_id NOT IN (SELECT batch_id FROM batches)"
    ).iloc[0, 0]
    return bool(wrong == 0 and orphans == 0)


def test_files_sharing_one_stream_give_what_each_file_alone_gives(
    files: list[FileJob], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small files parsed by one task share one IPC stream, read by the writer at once: with
    files that fail, that fall back to the row-level way or are quarantined among them, the
    store holds what parsing each file alone gives, each row with its own file's batch."""
    fixtures = sorted(p for p in FIXTURES.glob("*.csv") if "population" not in p.name)
    jobs = [*files[:4], *(FileJob(p) for p in fixtures), *files[4:-2]]
    sizes: list[int] = []
    parse_many = bulk._parse_many

    def recorded(items: list[Any], ipc: Path) -> Any:
        sizes.append(len(items))
        return parse_many(items, ipc)

    monkeypatch.setattr(bulk, "_parse_many", recorded)
    check_counts, failing = bulk.check_counts, files[2].path

    def fails_after_parsing(path: Path, *args: Any) -> None:
        if path == failing:  # a file whose rows were parsed, then found wanting
            raise InputFileError(path, "row accounting failed (as the test asks)")
        check_counts(path, *args)

    monkeypatch.setattr(bulk, "check_counts", fails_after_parsing)
    results = []
    for name, group_bytes, stream_bytes in (
        ("alone", 0, bulk.STREAM_BYTES),
        ("one-group", 1 << 40, bulk.STREAM_BYTES),
        ("one-group-streamed", 1 << 40, 0),
    ):
        monkeypatch.setattr(bulk, "GROUP_BYTES", group_bytes)
        monkeypatch.setattr(bulk, "STREAM_BYTES", stream_bytes)
        sizes.clear()
        with Store(tmp_path / f"{name}.duckdb") as store:
            reports = ingest_files(store, jobs, workers=1)
            assert _provenance_ok(store), name
            results.append((snapshot(store), [(r.file, r.status, r.message) for r in reports]))
        assert max(sizes) == 1 if group_bytes == 0 else max(sizes) > len(files), name
    (alone, reports), *grouped = results
    statuses = {status for _, status, _ in reports}
    assert {"ingested", "error"} <= statuses
    assert "error" in {s for f, s, _ in reports if f == failing.name}
    assert failing.name not in {r["file"] for r in alone["ledger"]}
    assert alone["quarantine"] and len(alone["batches"]) > len(files)
    for other in grouped:
        assert other == (alone, reports)
