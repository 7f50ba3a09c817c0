"""Ingest is idempotent (the same file twice is not doubled) and atomic (a process killed with
SIGKILL in the middle of writing leaves the store exactly as it was)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fixtures.make_fixtures import HEADER, mini_lookups
from totalplace.ingest.pipeline import ingest_file
from totalplace.ledger.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[1]


def counts(store: Store) -> tuple[int, int, int]:
    row = store.con.execute(
        "SELECT (SELECT count(*) FROM ledger), (SELECT count(*) FROM quarantine), "
        "(SELECT count(*) FROM batches)"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def big_spend_file(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        fh.write(HEADER + "\n")
        for i in range(rows):
            fh.write(
                f"Devon County Council,{1 + i % 28:02d}/05/2010,Area {i % 7},Type {i % 13},"
                f"SUPPLIER {i % 997},T{i},{(i % 5000) + 500}.{i % 100:02d}\n"
            )
    return path


def test_same_file_twice_is_not_doubled(tmp_path: Path) -> None:
    path = FIXTURES / "too-few-fields.csv"
    with Store(tmp_path / "s.duckdb") as store:
        first = ingest_file(store, path, options=mini_lookups())
        assert first.status == "ingested" and counts(store) == (3, 1, 1)
        again = ingest_file(store, path, options=mini_lookups())
        assert again.status == "unchanged" and "already ingested" in again.message
        assert counts(store) == (3, 1, 1)
        forced = ingest_file(store, path, options=mini_lookups(), force=True)
        assert forced.status == "ingested"
        assert counts(store) == (3, 1, 1)  # the new batch replaced the old one
        assert not store.check()


def test_same_content_under_another_name_is_not_doubled(tmp_path: Path) -> None:
    copy = tmp_path / "renamed.csv"
    copy.write_bytes((FIXTURES / "bom-utf8.csv").read_bytes())
    with Store(tmp_path / "s.duckdb") as store:
        assert ingest_file(store, FIXTURES / "bom-utf8.csv", options=mini_lookups()).status == (
            "ingested"
        )
        assert ingest_file(store, copy, options=mini_lookups()).status == "unchanged"
        assert counts(store)[0] == 3


STALLED_INGEST = textwrap.dedent("""
    import sys, time
    from contextlib import contextmanager
    from pathlib import Path
    from tests.fixtures.make_fixtures import mini_lookups
    from totalplace.ingest.pipeline import ingest_file
    from totalplace.ledger.store import Store

    store_path, data, marker = map(Path, sys.argv[1:4])

    @contextmanager
    def stalled(self):
        # the real transaction, held open after every row is written: killed before COMMIT
        con = self.con
        con.execute("BEGIN TRANSACTION")
        yield con
        seen = con.execute("SELECT count(*) FROM ledger").fetchone()[0]
        marker.write_text(str(seen))
        time.sleep(600)
        con.execute("COMMIT")

    Store.transaction = stalled
    with Store(store_path) as store:
        ingest_file(store, data, options=mini_lookups())
""")


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
def test_kill_9_mid_write_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    store_path = tmp_path / "s.duckdb"
    with Store(store_path) as store:
        assert ingest_file(store, FIXTURES / "bom-utf8.csv", options=mini_lookups()).status == (
            "ingested"
        )
        before = counts(store)
    assert before == (3, 0, 1)
    big = big_spend_file(tmp_path / "big.csv", 60_000)
    marker = tmp_path / "writing"
    proc = subprocess.Popen(
        [sys.executable, "-c", STALLED_INGEST, str(store_path), str(big), str(marker)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(f"ingest ended early: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                pytest.fail("the ingest never reached the write")
            time.sleep(0.05)
        time.sleep(0.2)
        # mid-write: the uncommitted transaction already holds every new row
        assert int(marker.read_text() or 0) == before[0] + 60_000
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert proc.returncode == -signal.SIGKILL
    with Store(store_path) as store:
        assert counts(store) == before
        assert not store.check()
        # and the store still works: the same file now goes in, once
        report = ingest_file(store, big, options=mini_lookups())
        assert report.status == "ingested" and report.rows_ledger == 60_000
        assert counts(store) == (before[0] + 60_000, 0, 2)


HOLD_STORE = textwrap.dedent("""
    import sys
    from pathlib import Path
    from totalplace.ledger.store import Store

    store_path, marker = map(Path, sys.argv[1:3])
    with Store(store_path).open():
        marker.write_text("open")
        sys.stdin.read()  # hold the store until the test closes our stdin
""")


@contextmanager
def holding(store_path: Path, marker: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Another process with the store open (as a running ingest has it) until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_STORE, str(store_path), str(marker)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(f"the holder ended early: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                pytest.fail("the holder never opened the store")
            time.sleep(0.05)
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)
        if proc.stderr is not None:
            proc.stderr.close()


def test_a_second_ingest_while_one_runs_is_told_to_retry(tmp_path: Path) -> None:
    """Another process holds the store (as a running ingest does): a second ingest says the
    workspace is busy and to retry, exits 75 (EX_TEMPFAIL), and writes nothing; it does not
    call the store damaged. Once the first is done the same command goes in."""
    from typer.testing import CliRunner

    from totalplace.cli import app
    from totalplace.config import Settings

    store_path = Settings(workspace=tmp_path).store_path
    with Store(store_path) as store:
        assert ingest_file(store, FIXTURES / "bom-utf8.csv", options=mini_lookups()).status == (
            "ingested"
        )
        before = counts(store)
    salford = FIXTURES / "salford-layout-authority-name.csv"
    command = ["ingest", "-w", str(tmp_path), str(salford), "--option", "area_code=E08000006"]
    command += ["--option", "agency=Salford City Council"]  # no mirror needed
    with holding(store_path, tmp_path / "holding") as proc:
        busy = CliRunner().invoke(app, command)
        said = " ".join(busy.output.split())  # rich wraps long lines
        assert busy.exit_code == 75, said
        assert "is busy" in said and f"process {proc.pid} has it open" in said
        assert "retry" in said and "rebuild" not in said.replace("nothing needs rebuilding", "")
        listing = CliRunner().invoke(app, ["quarantine", "-w", str(tmp_path)])
        assert listing.exit_code == 75 and "is busy" in listing.output  # not a traceback
    with Store(store_path) as store:
        assert counts(store) == before  # the refused ingest wrote nothing
    done = CliRunner().invoke(app, [*command, "--report", "json"])
    assert done.exit_code == 0, done.output
    with Store(store_path) as store:
        assert counts(store) == (before[0] + 3, 0, before[2] + 1)


def test_a_damaged_store_still_says_rebuild(tmp_path: Path) -> None:
    from totalplace.errors import StoreBusyError, StoreError

    path = tmp_path / "s.duckdb"
    path.write_bytes(b"not a database " * 500)
    with pytest.raises(StoreError, match=r"cannot be opened.*totalplace build --rebuild") as info:
        Store(path).open()
    assert not isinstance(info.value, StoreBusyError)


@pytest.mark.mirror
def test_rebuild_never_deletes_a_store_another_process_holds(mirror: Path, tmp_path: Path) -> None:
    from totalplace.build import build_workspace
    from totalplace.config import Settings
    from totalplace.errors import StoreBusyError

    settings = Settings(workspace=tmp_path, mirror=mirror)
    with Store(settings.store_path) as store:
        ingest_file(store, FIXTURES / "bom-utf8.csv", options=mini_lookups())
        before = counts(store)
    with holding(settings.store_path, tmp_path / "holding"):
        with pytest.raises(StoreBusyError, match="is busy"):
            build_workspace(settings, rebuild=True)
        assert settings.store_path.exists()
    with Store(settings.store_path) as store:
        assert counts(store) == before


STALLED_BULK_INGEST = STALLED_INGEST.replace(
    "from totalplace.ingest.pipeline import ingest_file",
    "from totalplace.ingest.bulk import ingest_files",
).replace(
    "ingest_file(store, data, options=mini_lookups())",
    "ingest_files(store, [data, data.with_name('second.csv')], options=mini_lookups(), workers=2)",
)


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
def test_kill_9_mid_bulk_ingest_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    """`ingest_files` writes every file of a call in one transaction: killed before COMMIT,
    neither file is in the store, and the same files then go in once."""
    store_path = tmp_path / "s.duckdb"
    with Store(store_path) as store:
        ingest_file(store, FIXTURES / "bom-utf8.csv", options=mini_lookups())
        before = counts(store)
    big = big_spend_file(tmp_path / "big.csv", 30_000)
    second = tmp_path / "second.csv"
    second.write_text(big.read_text().replace("Area 1,", "Area 1b,"))
    marker = tmp_path / "writing"
    proc = subprocess.Popen(
        [sys.executable, "-c", STALLED_BULK_INGEST, str(store_path), str(big), str(marker)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(f"ingest ended early: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                pytest.fail("the ingest never reached the write")
            time.sleep(0.05)
        time.sleep(0.2)
        assert int(marker.read_text() or 0) == before[0] + 60_000  # both files, uncommitted
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert proc.returncode == -signal.SIGKILL
    with Store(store_path) as store:
        assert counts(store) == before
        assert not store.check()
        from totalplace.ingest.bulk import ingest_files

        reports = ingest_files(store, [big, second], options=mini_lookups(), workers=1)
        assert [r.status for r in reports] == ["ingested", "ingested"]
        assert counts(store) == (before[0] + 60_000, 0, 3)
        again = ingest_files(store, [big, second, big], options=mini_lookups(), workers=1)
        assert [r.status for r in again] == ["unchanged"] * 3
        assert counts(store) == (before[0] + 60_000, 0, 3)
