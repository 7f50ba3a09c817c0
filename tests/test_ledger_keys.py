"""The ledger kept as narrow rows and shared keys: the split loses nothing and the view gives
back every row as written; a store of the one-table layout is moved over unchanged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from totalplace.ledger.keys import KeySplitter
from totalplace.ledger.schema import KEY_COLUMNS, KEY_ID, LEDGER_COLUMNS, LEDGER_FIELDS, ROW_COLUMNS
from totalplace.ledger.store import SCHEMA_VERSION, Batch, Store

_text = st.one_of(st.none(), st.sampled_from(["", "a", "b", "Kent", "Kent ", "é", "a,b"]))


def _rows_of(values: list[dict[str, Any]], dictionary: set[str]) -> pa.RecordBatch:
    arrays = {}
    for name in values[0]:
        arr = pa.array([v[name] for v in values], pa.string())
        arrays[name] = arr.dictionary_encode() if name in dictionary else arr
    return pa.RecordBatch.from_pydict(arrays)


def _joined(splitter: KeySplitter, narrow: list[pa.RecordBatch]) -> list[dict[str, Any]]:
    keys = {r[KEY_ID]: r for r in splitter.keys().to_pylist()}
    out = []
    for batch in narrow:
        for row in batch.to_pylist():
            key = keys[row.pop(KEY_ID)]
            out.append({**row, **{k: v for k, v in key.items() if k != KEY_ID}})
    return out


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.fixed_dictionaries({c: _text for c in KEY_COLUMNS[:6]}), min_size=1),
    cut=st.integers(min_value=0, max_value=50),
    dictionary=st.sets(st.sampled_from(KEY_COLUMNS[:6])),
)
def test_split_then_joined_gives_every_row_back(
    rows: list[dict[str, Any]], cut: int, dictionary: set[str]
) -> None:
    for i, r in enumerate(rows):
        r["description"] = f"row {i}"  # a row column, kept on the row
    cut = min(cut, len(rows))
    batches = [b for b in (rows[:cut], rows[cut:]) if b]
    splitter = KeySplitter(7, constants={"file": "a.csv"})
    narrow = [splitter.split(_rows_of(b, dictionary)) for b in batches]
    assert all(set(b.schema.names) == {"description", KEY_ID} for b in narrow)
    expected = [{**r, **{c: None for c in KEY_COLUMNS[6:]}, "file": "a.csv"} for r in rows]
    assert _joined(splitter, narrow) == expected
    keys = splitter.keys().to_pylist()
    ids = [k[KEY_ID] for k in keys]
    assert ids == list(range(7, 7 + len(ids)))  # numbered from the first, as first met
    distinct = {tuple(r[c] for c in KEY_COLUMNS) for r in expected}
    assert len(keys) == len(distinct)  # one key per distinct combination, across batches


def test_an_empty_batch_makes_no_key_and_a_dictionary_holding_a_value_twice_one() -> None:
    splitter = KeySplitter(0)
    empty = splitter.split(pa.RecordBatch.from_pydict({"agency": pa.array([], pa.string())}))
    assert empty.num_rows == 0 and splitter.keys().num_rows == 0
    # a parser's dictionary of bodies by their cells: two entries, one value
    agency = pa.DictionaryArray.from_arrays(pa.array([0, 1, 1, 0]), pa.array(["Kent", "Kent"]))
    year = pa.DictionaryArray.from_arrays(pa.array([0, 0, 1, 1]), pa.array(["2010-11", "2011-12"]))
    narrow = splitter.split(pa.RecordBatch.from_pydict({"agency": agency, "year": year}))
    assert narrow.column(KEY_ID).to_pylist() == [0, 0, 1, 1]
    assert [(k["agency"], k["year"]) for k in splitter.keys().to_pylist()] == [
        ("Kent", "2010-11"),
        ("Kent", "2011-12"),
    ]


def test_many_distinct_values_in_every_key_column_keep_keys_exact() -> None:
    # 14 columns of 300 distinct values: the combined code is re-numbered as it grows
    n = 3_000
    rows = {c: [f"{c}-{(i * (j + 7)) % 300}" for i in range(n)] for j, c in enumerate(KEY_COLUMNS)}
    rows["row"] = list(range(n))
    splitter = KeySplitter(0)
    narrow = splitter.split(pa.RecordBatch.from_pydict(rows))
    back = _joined(splitter, [narrow])
    assert back == [{c: rows[c][i] for c in rows} for i in range(n)]
    assert splitter.keys().num_rows == len(
        {tuple(rows[c][i] for c in KEY_COLUMNS) for i in range(n)}
    )


def _ledger_row(i: int, batch: str, agency: str) -> dict[str, Any]:
    return {
        "year": "2010-11",
        "date": dt.date(2010, 4, 1) + dt.timedelta(days=i % 300),
        "area_code": "E10000016",
        "area_name": "Kent",
        "area_level": "upper_tier",
        "agency": agency,
        "agency_type": "council",
        "service_line": f"line {i % 3}",
        "counterparty": f"supplier {i % 5}",
        "amount_pence": 100 * i - 5_000,
        "source_id": "local:kent.csv",
        "file": "kent.csv",
        "row": i + 2,
        "batch_id": batch,
    }


def _one_table_store(path: Path) -> list[tuple[Any, ...]]:
    """A store in the layout before schema 2: the ledger one table, with a deleted batch."""
    cols = ", ".join(f'"{f.name}" {f.sql}' for f in LEDGER_FIELDS)
    con = duckdb.connect(str(path))
    con.execute(f"CREATE TABLE ledger ({cols})")
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    frame = pa.Table.from_pylist(
        [
            _ledger_row(i, f"b{i % 3}", "Kent County Council" if i % 4 else "Kent Police")
            for i in range(500)
        ]
    )
    con.register("_r", frame)
    con.execute(f"INSERT INTO ledger ({', '.join(frame.schema.names)}) SELECT * FROM _r")
    con.execute("DELETE FROM ledger WHERE batch_id = 'b1'")  # rowids with gaps
    kept = con.execute(f"SELECT {', '.join(LEDGER_COLUMNS)} FROM ledger ORDER BY rowid").fetchall()
    con.close()
    return kept


def test_a_one_table_store_is_moved_to_rows_and_keys_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    kept = _one_table_store(path)
    with Store(path, read_only=True) as s:  # read-only: read as it is, not moved
        assert s.query("SELECT count(*) AS n FROM ledger")["n"][0] == len(kept)
        before = s.fingerprint()
    with Store(path) as s:
        kinds = dict(
            s.con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall()
        )
        assert (
            kinds["ledger"] == "VIEW"
            and kinds["ledger_rows"] == kinds["ledger_keys"] == "BASE TABLE"
        )
        cols = ", ".join(LEDGER_COLUMNS)
        assert s.con.execute(f"SELECT {cols} FROM ledger ORDER BY rowid").fetchall() == kept
        assert s.con.execute("SELECT count(*) FROM ledger_keys").fetchall() == [
            (4,)
        ]  # 2 batches x 2 agencies
        assert s.check() == []
        assert s.fingerprint() != before  # results computed on the old layout are not reused
        version = s.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        assert version == [(str(SCHEMA_VERSION),)]
    with Store(path) as s:  # opened again: nothing more to do
        assert s.con.execute(f"SELECT {cols} FROM ledger ORDER BY rowid").fetchall() == kept


def _batch(batch_id: str, n: int) -> Batch:
    return Batch(batch_id, "local:kent.csv", "kent.csv", "sha", "spend", "ledger", n, n, 0, 0)


def test_rows_written_and_replaced_through_the_store_keep_keys_and_rows_together(
    tmp_path: Path,
) -> None:
    import pandas as pd

    rows = [_ledger_row(i, "b1", "Kent County Council") for i in range(40)]
    stream = pa.Table.from_pylist(rows).drop_columns(["source_id", "file", "batch_id"])
    empty = pd.DataFrame()
    with Store(tmp_path / "s.duckdb") as s:
        s.write_batch(_batch("b1", 40), stream, empty)  # provenance filled from the batch
        frame = pd.DataFrame([_ledger_row(i, "b2", "Kent Police") for i in range(10)])
        s.write_batch(_batch("b2", 10), frame, empty)
        got = s.query(f"SELECT {', '.join(LEDGER_COLUMNS)} FROM ledger ORDER BY batch_id, row")
        assert got["batch_id"].tolist() == ["b1"] * 40 + ["b2"] * 10
        assert got["agency"].tolist() == ["Kent County Council"] * 40 + ["Kent Police"] * 10
        assert got["amount_pence"].tolist() == [r["amount_pence"] for r in rows] + [
            r["amount_pence"] for r in rows[:10]
        ]
        assert pd.to_datetime(got["date"]).dt.date.tolist()[:40] == [r["date"] for r in rows]
        assert s.query("SELECT key_id FROM ledger_keys ORDER BY key_id")["key_id"].tolist() == [
            0,
            1,
        ]
        s.write_batch(_batch("b3", 10), frame.assign(batch_id="b3"), empty, replaces=["b2"])
        keys = s.query("SELECT key_id, batch_id FROM ledger_keys ORDER BY key_id")
        assert keys.values.tolist() == [[0, "b1"], [1, "b3"]]  # b2's key went with its rows
        assert s.query("SELECT count(*) AS n FROM ledger_rows")["n"][0] == 50
        assert s.check() == []
        s.con.execute("DELETE FROM ledger_keys WHERE key_id = 0")  # damage: rows without a key
        assert "40 ledger rows name no key in ledger_keys" in s.check()


def test_every_ledger_column_is_kept_once_and_keys_are_text() -> None:
    assert sorted([*KEY_COLUMNS, *ROW_COLUMNS]) == sorted(LEDGER_COLUMNS)
    assert {f.sql for f in LEDGER_FIELDS if f.name in KEY_COLUMNS} == {"VARCHAR"}
