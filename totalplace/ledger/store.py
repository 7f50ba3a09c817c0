"""The store: the only module that talks to DuckDB.

One DuckDB file in the workspace holds the ledger, the quarantine, the ingest batches and the
reference tables (population, districts, crosswalks). Every ingest batch is written in one
transaction, so a killed ingest leaves the store as it was.

The ledger is the view ``ledger`` (`LEDGER_FIELDS`, and the ``rowid`` of its row): each
amount is a narrow row of ``ledger_rows`` naming a row of ``ledger_keys``, which holds the
columns its rows share (`totalplace.ledger.keys`). Read the view; write through this module.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from totalplace.errors import StoreBusyError, StoreError
from totalplace.ledger.schema import (
    KEY_COLUMNS,
    KEY_ID,
    LEDGER_COLUMNS,
    LEDGER_FIELDS,
    QUARANTINE_FIELDS,
    ROW_COLUMNS,
    Field,
)

if TYPE_CHECKING:  # loaded where frames are written: opening the store and `fingerprint` need none
    import pandas as pd

#: 2: the ledger is a view over ``ledger_rows`` and ``ledger_keys`` (1: one table).
SCHEMA_VERSION = 2


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's columns, dtypes and values (row order included)."""
    import pandas as pd

    digest = hashlib.sha256(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    try:
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    except TypeError:  # unhashable cells (lists, dicts): hash their JSON instead
        digest.update(frame.to_json(orient="split", index=False).encode("utf-8"))
    return digest.hexdigest()


@dataclass
class Batch:
    """One ingested file: what was read and where each row went."""

    batch_id: str
    source_id: str
    file: str
    content_sha256: str
    adapter: str
    target: str
    rows_read: int
    rows_ledger: int
    rows_quarantined: int
    amount_pence: int
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: The file's resolved path when it was ingested ('' when not known).
    path: str = ""


def _ddl(table: str, fields: Any) -> str:
    cols = ", ".join(f'"{f.name}" {f.sql}' for f in fields)
    return f"CREATE TABLE IF NOT EXISTS {table} ({cols})"


_FIELD = {f.name: f for f in LEDGER_FIELDS}
_KEY_FIELD = Field(KEY_ID, "INTEGER", "int32", True, "The key (ledger_keys) a ledger row names.")
_LEDGER_DDL = (
    _ddl("ledger_keys", [_KEY_FIELD, *(_FIELD[c] for c in KEY_COLUMNS)]),
    _ddl("ledger_rows", [_KEY_FIELD, *(_FIELD[c] for c in ROW_COLUMNS)]),
)
_LEDGER_VIEW = (
    "CREATE OR REPLACE VIEW ledger AS SELECT "
    + ", ".join(f'{"k" if c in KEY_COLUMNS else "r"}."{c}"' for c in LEDGER_COLUMNS)
    + f", r.rowid AS rowid FROM ledger_rows r JOIN ledger_keys k USING ({KEY_ID})"
)


def _quoted(columns: Sequence[str], prefix: str = "") -> str:
    return ", ".join(f'{prefix}"{c}"' for c in columns)


def _migrate_ledger_table(con: duckdb.DuckDBPyConnection) -> None:
    """A store written before schema 2 holds the ledger as one table: its rows are moved to
    ``ledger_rows`` and ``ledger_keys`` in their order (keys numbered as first met)."""
    keys = _quoted(KEY_COLUMNS)
    con.execute(
        f"INSERT INTO ledger_keys SELECT (row_number() OVER (ORDER BY first) - 1)::INTEGER, "
        f"{keys} FROM (SELECT {keys}, min(rowid) AS first FROM ledger GROUP BY ALL)"
    )
    same = " AND ".join(f'k."{c}" IS NOT DISTINCT FROM l."{c}"' for c in KEY_COLUMNS)
    con.execute(
        f"INSERT INTO ledger_rows SELECT k.{KEY_ID}, {_quoted(ROW_COLUMNS, 'l.')} "
        f"FROM ledger l JOIN ledger_keys k ON {same} ORDER BY l.rowid"
    )
    con.execute("DROP TABLE ledger")


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


_BATCHES_DDL = """
CREATE TABLE IF NOT EXISTS batches (
  batch_id VARCHAR PRIMARY KEY, source_id VARCHAR, file VARCHAR, content_sha256 VARCHAR,
  adapter VARCHAR, target VARCHAR, rows_read BIGINT, rows_ledger BIGINT,
  rows_quarantined BIGINT, amount_pence BIGINT, skipped VARCHAR, notes VARCHAR,
  ingested_at TIMESTAMP DEFAULT current_timestamp, path VARCHAR)
"""
#: Columns of `Store.find_batches`.
BATCH_SUMMARY = (
    "batch_id",
    "source_id",
    "file",
    "path",
    "content_sha256",
    "adapter",
    "rows_ledger",
    "rows_quarantined",
    "amount_pence",
)

_POPULATION_DDL = """
CREATE TABLE IF NOT EXISTS population (
  area_code VARCHAR, area_name VARCHAR, mid_year INTEGER, age INTEGER, persons BIGINT,
  source_id VARCHAR, batch_id VARCHAR)
"""

#: HM Treasury GDP deflators (adapter ``hmt_deflators``); one series per ingested workbook.
_DEFLATORS_DDL = """
CREATE TABLE IF NOT EXISTS deflators (
  year VARCHAR, "index" DOUBLE, status VARCHAR, base_year VARCHAR, per_cent_change DOUBLE,
  source_id VARCHAR, batch_id VARCHAR)
"""


_LOCKED = re.compile(r"Could not set lock on file|Conflicting lock", re.IGNORECASE)
_LOCK_PID = re.compile(r"\(PID (\d+)\)")


def _open_error(path: Path, exc: duckdb.Error) -> StoreError:
    """Why the store would not open, for people: busy (another process holds DuckDB's lock on
    the file: retry later) is not damage (rebuild)."""
    text = str(exc)
    if isinstance(exc, duckdb.IOException) and _LOCKED.search(text):
        pid = _LOCK_PID.search(text)
        who = f"process {pid.group(1)}" if pid else "another process"
        return StoreBusyError(
            f"the workspace store {path} is busy: {who} has it open (another ingest or "
            "build, or the dashboard). Wait for it to finish, then retry; nothing needs "
            "rebuilding"
        )
    return StoreError(
        f"the workspace store {path} cannot be opened ({text}); "
        "rebuild it from the sources with `totalplace build --rebuild`"
    )


_BATCH_COLS = ", ".join("coalesce(path, '') AS path" if c == "path" else c for c in BATCH_SUMMARY)


def _check_batch_fields(equal: dict[str, str]) -> None:
    names = BATCH_SUMMARY[:6]
    if not equal or set(equal) - set(names):
        raise ValueError(f"find_batches takes some of {', '.join(names)}")


class BatchIndex:
    """`Store.find_batches` over a snapshot of the batches table (same rows, same order),
    answered from an in-memory index: an ingest of thousands of files asks once."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._by: dict[tuple[str, ...], dict[tuple[Any, ...], list[int]]] = {}
        #: What a lookup finding nothing returns (shared: read it, do not change it).
        self.empty = frame.iloc[:0]

    def find_batches(self, **equal: str) -> pd.DataFrame:
        _check_batch_fields(equal)
        keys = tuple(sorted(equal))
        index = self._by.get(keys)
        if index is None:
            index = {}
            for i, values in enumerate(zip(*(self.frame[k] for k in keys), strict=True)):
                index.setdefault(tuple(values), []).append(i)
            self._by[keys] = index
        rows = index.get(tuple(equal[k] for k in keys))
        return self.frame.iloc[rows].reset_index(drop=True) if rows else self.empty


class Store:
    """A DuckDB file holding the ledger and the reference tables."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._con: duckdb.DuckDBPyConnection | None = None
        self._local = threading.local()
        self._owner = threading.current_thread()
        self._tables: list[str] | None = None

    # -- connection -------------------------------------------------------------------------
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """This thread's connection (a cursor of one shared DuckDB connection): a threaded
        server may query from many threads at once."""
        base = self._connect()
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cur", None)
        if cur is None or getattr(self._local, "base", None) is not base:
            cur = base if threading.current_thread() is self._owner else base.cursor()
            self._local.cur, self._local.base = cur, base
        return cur

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            if self.read_only and not self.path.exists():
                raise StoreError(f"no workspace store at {self.path}: run `totalplace build` first")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._con = duckdb.connect(str(self.path), read_only=self.read_only)
            except duckdb.Error as exc:
                raise _open_error(self.path, exc) from exc
            self._owner = threading.current_thread()
            if not self.read_only:
                self.init_schema()
        return self._con

    def open(self) -> Store:
        """Connect now (connections are otherwise made on first use), so a busy or damaged
        store is reported before any work starts."""
        self._connect()
        return self

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
            self._local = threading.local()
            self._tables = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def init_schema(self) -> None:
        con = self._connect()
        kind = con.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_name = 'ledger' "
            "AND table_schema = current_schema()"
        ).fetchall()
        with _transaction(con):  # the ledger's tables and view, or none of them
            for ddl in _LEDGER_DDL:
                con.execute(ddl)
            if kind == [("BASE TABLE",)]:
                _migrate_ledger_table(con)
            if kind != [("VIEW",)]:
                con.execute(_LEDGER_VIEW)
        con.execute(_ddl("quarantine", QUARANTINE_FIELDS))
        con.execute(_BATCHES_DDL)
        con.execute("ALTER TABLE batches ADD COLUMN IF NOT EXISTS path VARCHAR")
        con.execute(_POPULATION_DDL)
        cols = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'deflators'"
            ).fetchall()
        }
        if cols and "batch_id" not in cols:  # the layout before the adapter: reloaded by build
            con.execute("DROP TABLE deflators")
        con.execute(_DEFLATORS_DDL)
        con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with _transaction(self.con) as con:
            yield con

    # -- checks -------------------------------------------------------------------------------
    def check(self) -> list[str]:
        """Problems with the store (missing tables, batches whose rows do not add up)."""
        problems: list[str] = []
        tables = set(self.tables())
        for t in ("ledger", "quarantine", "batches", "population"):
            if t not in tables:
                problems.append(f"table {t} is missing")
        if problems:
            return problems
        bad = self.query(
            """SELECT b.batch_id, b.file, b.rows_ledger, count(l.row) AS n
               FROM batches b LEFT JOIN ledger l USING (batch_id)
               WHERE b.target = 'ledger' GROUP BY ALL HAVING count(l.row) <> b.rows_ledger"""
        )
        problems += [
            f"batch {r.batch_id} ({r.file}) records {r.rows_ledger} ledger rows but has {r.n}"
            for r in bad.itertuples()
        ]
        if "ledger_rows" not in tables:  # a store of schema 1 opened read-only: one table
            return problems
        row = self.con.execute(
            f"SELECT count(*) FROM ledger_rows WHERE {KEY_ID} NOT IN "
            f"(SELECT {KEY_ID} FROM ledger_keys)"
        ).fetchall()
        if row[0][0]:
            problems.append(f"{row[0][0]} ledger rows name no key in ledger_keys")
        return problems

    # -- writes ------------------------------------------------------------------------------
    def has_content(self, content_sha256: str, adapter: str) -> str | None:
        """The batch id that already holds a file with this content, if any (idempotency)."""
        row = self.con.execute(
            "SELECT batch_id FROM batches WHERE content_sha256 = ? AND adapter = ?",
            [content_sha256, adapter],
        ).fetchone()
        return None if row is None else str(row[0])

    def find_batches(self, **equal: str) -> pd.DataFrame:
        """Batches (`BATCH_SUMMARY` columns) whose fields equal every one given, e.g.
        ``find_batches(path="/data/a/spend.csv")`` or ``find_batches(source_id=..., file=...)``."""
        _check_batch_fields(equal)
        where = " AND ".join(f"{k} = ?" for k in equal)
        return self.query(
            f"SELECT {_BATCH_COLS} FROM batches WHERE {where} ORDER BY ingested_at, batch_id",
            list(equal.values()),
        )

    def batch_index(self) -> BatchIndex:
        """`find_batches` for many lookups at once, over a snapshot of the batches now."""
        return BatchIndex(
            self.query(f"SELECT {_BATCH_COLS} FROM batches ORDER BY ingested_at, batch_id")
        )

    @contextmanager
    def limits(self, memory: str, threads: int | None = None) -> Iterator[None]:
        """DuckDB's memory limit set to ``memory`` (e.g. '400MB') and, if given, its threads
        for the block, then restored: a bulk write of millions of rows then spills rather
        than growing, and leaves the other cores to the processes feeding it."""
        wanted = {"memory_limit": f"'{memory}'"}
        if threads is not None:
            wanted["threads"] = str(int(threads))
        before = {}
        for name, value in wanted.items():
            row = self.con.execute(f"SELECT current_setting('{name}')").fetchone()
            if row is not None:
                before[name] = f"'{row[0]}'" if name == "memory_limit" else str(row[0])
            self.con.execute(f"SET {name} = {value}")
        try:
            yield
        finally:
            for name, value in before.items():
                self.con.execute(f"SET {name} = {value}")

    def contents(self) -> dict[tuple[str, str], str]:
        """`has_content` for every batch at once: (content SHA-256, adapter) -> batch id."""
        rows = self.con.execute("SELECT content_sha256, adapter, batch_id FROM batches").fetchall()
        return {(str(d), str(a)): str(b) for d, a, b in rows}

    def write_batch(
        self,
        batch: Batch,
        rows: pd.DataFrame,
        quarantine: pd.DataFrame,
        replaces: Sequence[str] = (),
    ) -> None:
        """Write one batch atomically: ledger (or reference) rows, quarantine, batch record.

        The batches named in ``replaces`` (ids) are removed in the same transaction: the
        caller decides what a file supersedes and says so in its report.
        """
        with self.transaction() as con:
            self.insert_batches(con, [batch], rows, quarantine, replaces)

    def insert_batches(
        self,
        con: duckdb.DuckDBPyConnection,
        batches: list[Batch],
        rows: Any,
        quarantine: pd.DataFrame,
        replaces: Sequence[str] = (),
    ) -> None:
        """`write_batch`'s writes for several batches of one target inside the caller's
        transaction (``con`` from `transaction`), so many files share one COMMIT and one
        INSERT. ``replaces``: batch ids removed first (what the files supersede). ``rows`` is a
        DataFrame, an Arrow table or a stream of Arrow batches (read once, never held whole);
        with a single batch, provenance columns it lacks (source_id, file, batch_id) are filled
        from that batch."""
        import pandas as pd

        if not batches:
            return
        target = batches[0].target
        for bid in dict.fromkeys(replaces):
            self._delete_batch(con, bid)
        names = list(rows.columns) if isinstance(rows, pd.DataFrame) else rows.schema.names
        if isinstance(rows, pd.DataFrame) and not len(rows):
            names = []
        if names and target == "ledger":
            first = batches[0]
            consts = {"source_id": first.source_id, "file": first.file, "batch_id": first.batch_id}
            extra = [k for k in consts if k not in names]
            if extra and len(batches) > 1:
                raise ValueError(f"rows of several batches lack {', '.join(extra)}")
            self.insert_ledger(con, rows, {k: consts[k] for k in extra})
        elif names:
            cols = _quoted(names)
            con.register("_rows", rows)
            con.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM _rows")
            con.unregister("_rows")
        if len(quarantine):
            con.register("_q", quarantine)
            cols = ", ".join(f'"{c}"' for c in quarantine.columns)
            con.execute(f"INSERT INTO quarantine ({cols}) SELECT {cols} FROM _q")
            con.unregister("_q")
        records = pd.DataFrame([asdict(b) for b in batches])
        records["skipped"] = [json.dumps(b.skipped) for b in batches]
        records["notes"] = [json.dumps(b.notes) for b in batches]
        con.register("_b", records)
        cols = ", ".join(records.columns)
        con.execute(f"INSERT INTO batches ({cols}) SELECT {cols} FROM _b")
        con.unregister("_b")

    def insert_ledger(
        self,
        con: duckdb.DuckDBPyConnection,
        rows: Any,
        constants: dict[str, str] | None = None,
    ) -> int:
        """Ledger rows (a DataFrame, an Arrow table or a stream of Arrow batches, in ledger
        columns; ``constants`` fills columns they lack) into ``ledger_rows`` and their keys
        into ``ledger_keys``, inside the caller's transaction. Returns the rows written."""
        import pandas as pd
        import pyarrow as pa

        from totalplace.ledger.keys import KeySplitter

        if isinstance(rows, pd.DataFrame):  # DuckDB's own reading of the frame, as before
            con.register("_frame", rows)
            rows = con.sql("SELECT * FROM _frame").to_arrow_table()
            con.unregister("_frame")
        reader = rows.to_reader() if isinstance(rows, pa.Table) else rows
        first = con.execute(f"SELECT coalesce(max({KEY_ID}) + 1, 0) FROM ledger_keys").fetchall()
        splitter = KeySplitter(int(first[0][0]), constants)
        schema = splitter.row_schema(reader.schema)
        narrow = pa.RecordBatchReader.from_batches(schema, splitter.split_all(reader))
        cols = _quoted(schema.names)
        con.register("_rows", narrow)
        written = con.execute(
            f"INSERT INTO ledger_rows ({cols}) SELECT {cols} FROM _rows"
        ).fetchall()
        con.unregister("_rows")
        con.register("_keys", splitter.keys())
        cols = _quoted([KEY_ID, *KEY_COLUMNS])
        con.execute(f"INSERT INTO ledger_keys ({cols}) SELECT {cols} FROM _keys")
        con.unregister("_keys")
        return int(written[0][0])

    def append_ledger(self, rows: Any) -> int:
        """`insert_ledger` in a transaction of its own (tests and benchmarks that fill a
        ledger without ingesting files)."""
        with self.transaction() as con:
            return self.insert_ledger(con, rows)

    def _delete_batch(self, con: duckdb.DuckDBPyConnection, batch_id: str) -> None:
        target = con.execute("SELECT target FROM batches WHERE batch_id = ?", [batch_id]).fetchone()
        if target is not None and target[0] == "ledger":
            con.execute(
                f"DELETE FROM ledger_rows WHERE {KEY_ID} IN "
                f"(SELECT {KEY_ID} FROM ledger_keys WHERE batch_id = ?)",
                [batch_id],
            )
            con.execute("DELETE FROM ledger_keys WHERE batch_id = ?", [batch_id])
        elif target is not None:
            con.execute(f"DELETE FROM {target[0]} WHERE batch_id = ?", [batch_id])
        con.execute("DELETE FROM quarantine WHERE batch_id = ?", [batch_id])
        con.execute("DELETE FROM batches WHERE batch_id = ?", [batch_id])

    def replace_table(self, table: str, frame: pd.DataFrame) -> None:
        """(Re)create a reference table from a frame, atomically."""
        if not table.isidentifier():
            raise ValueError(f"bad table name {table!r}")
        with self.transaction() as con:
            con.register("_frame", frame)
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _frame")
            con.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", [f"table:{table}", frame_digest(frame)]
            )
            self._tables = None
            con.unregister("_frame")

    def forget_tables(self) -> None:
        """Forget the cached table names (after creating or dropping a table directly)."""
        self._tables = None

    # -- reads --------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        """Table names (cached: only `replace_table` and `init_schema` create tables)."""
        if self._tables is None:
            self._tables = [r[0] for r in self.con.execute("SHOW TABLES").fetchall()]
        return list(self._tables)

    def query(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a read query and return a DataFrame."""
        return self.con.execute(sql, params or []).df()

    def query_arrow(
        self, sql: str, params: list[Any] | dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """``query`` through Arrow: about twice as fast for wide text results."""
        return self.con.sql(sql, params=params or None).to_arrow_table().to_pandas()

    def fingerprint(self) -> str:
        """A digest of the store's content: every ingested batch (file checksum and target)
        and every reference table (the digest ``replace_table`` recorded). It changes when an
        ingest or a build changes what a count could read, and not otherwise; results computed
        from the store are cached under it (``totalplace.results``)."""
        digest = hashlib.sha256()
        for table, sql in (
            ("meta", "SELECT key, value FROM meta ORDER BY key"),
            ("batches", "SELECT batch_id, content_sha256, target FROM batches ORDER BY batch_id"),
        ):
            if table in self.tables():
                for row in self.con.execute(sql).fetchall():
                    digest.update(repr(row).encode("utf-8"))
        return digest.hexdigest()

    def copy_ledger_to_parquet(self, directory: Path, partition_by: tuple[str, ...]) -> None:
        """Write the ledger as hive-partitioned Parquet under ``directory``
        (``col=value/.../data_0.parquet``). DuckDB percent-encodes partition values
        (``local:a/b.csv`` is ``local%3Aa%2Fb.csv``), which hive readers decode."""
        unknown = [c for c in partition_by if c not in LEDGER_COLUMNS]
        if unknown:
            raise ValueError(f"not ledger columns: {', '.join(unknown)}")
        target = str(directory).replace("'", "''")
        cols = ", ".join(f'"{c}"' for c in partition_by)
        self.con.execute(
            f"COPY (SELECT {_quoted(LEDGER_COLUMNS)} FROM ledger ORDER BY {cols}, file, row) "
            f"TO '{target}' "
            f"(FORMAT PARQUET, PARTITION_BY ({cols}))"
        )

    def table(self, name: str) -> pd.DataFrame:
        if name not in self.tables():
            raise StoreError(f"the store has no table {name!r}: run `totalplace build`")
        return self.query(f"SELECT * FROM {name}")


def raise_if_busy(path: Path) -> None:
    """Raise `StoreBusyError` when another process has the store at ``path`` open (so it is
    not deleted under a running ingest); a damaged store is no objection."""
    try:
        Store(path).open().close()
    except StoreBusyError:
        raise
    except StoreError:
        pass
