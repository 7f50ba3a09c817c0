"""The ledger's shared columns split from its rows, as the store keeps them.

Most of a ledger row's columns hold the same values for thousands of rows: a spend file's
rows share their year, paying body, source, file and batch; a CRA release's rows share their
region, department and function. The store keeps those columns once, as a *key* (a row of
``ledger_keys``), and each amount as a narrow row of ``ledger_rows`` naming its key; the
``ledger`` view joins them back into `LEDGER_FIELDS`. DuckDB's insert costs about the same
per value whether a column holds one value or many, so this halves the cost of writing a
transaction-level file (measured in BENCHMARKS.md) and the view reads as fast as the table.

The columns are named in `totalplace.ledger.schema` (`KEY_COLUMNS`, `ROW_COLUMNS`).
`KeySplitter` does the split for Arrow batches, vectorised: each row's key is a code combined
from its key columns' dictionary indices, so Python only sees each distinct key once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from totalplace.ledger.schema import KEY_COLUMNS, KEY_ID

#: Combined codes are re-numbered before they could pass this (they stay exact in int64).
_CODE_BOUND = 1 << 40


def _constant(column: pa.Array) -> tuple[bool, Any]:
    """(True, the value) when every row of ``column`` holds the same value (or none), else
    (False, None): most key columns of a parsed file's batch, found without a pass of Python."""
    n = len(column)
    if column.null_count == n:
        return True, None
    if column.null_count or not pa.types.is_dictionary(column.type):
        return False, None
    indices = np.asarray(column.indices)
    first = indices[0]
    if len(column.dictionary) == 1 or (indices.min() == first == indices.max()):
        return True, column.dictionary[int(first)].as_py()
    return False, None


def _codes(column: pa.Array) -> tuple[np.ndarray, list[Any]]:
    """Each row's index into the column's distinct values (a null is their count), and the
    distinct values, then None. A dictionary may hold a value more than once (a parser's
    dictionary of paying bodies by their cells): its entries are made distinct first, so rows
    with the same value have the same index."""
    if pa.types.is_dictionary(column.type):
        entries = pc.dictionary_encode(column.dictionary)
        values = entries.dictionary
        remap = np.append(np.asarray(entries.indices.fill_null(len(values))), len(values))
    else:  # encoded here: its entries are distinct already
        if not pa.types.is_string(column.type):
            column = column.cast(pa.string())  # as DuckDB's VARCHAR would take it
        column = pc.dictionary_encode(column)
        values = column.dictionary
        remap = None
    indices = column.indices
    if indices.null_count:
        indices = indices.fill_null(len(column.dictionary))
    codes = np.asarray(indices)
    return (codes if remap is None else remap[codes]), [*values.to_pylist(), None]


class KeySplitter:
    """Splits batches of ledger rows into narrow rows and the keys they name.

    Keys are numbered from ``first_id`` in the order they are first met; a key met again in a
    later batch (a file streamed in chunks) gets its first number. ``constants`` fills key
    columns a batch lacks (a file's provenance); other missing key columns are empty."""

    def __init__(self, first_id: int, constants: Mapping[str, str] | None = None) -> None:
        self.next_id = first_id
        self.constants = dict(constants or {})
        self._ids: dict[tuple[Any, ...], int] = {}

    def row_schema(self, schema: pa.Schema) -> pa.Schema:
        """The narrow rows' schema for batches of ``schema``."""
        fields = [f for f in schema if f.name not in KEY_COLUMNS]
        return pa.schema([*fields, pa.field(KEY_ID, pa.int32(), False)])

    def split(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """``batch``'s rows without their key columns, with their key's number."""
        n = batch.num_rows
        schema = self.row_schema(batch.schema)
        if not n:  # no rows, no key
            return pa.RecordBatch.from_pylist([], schema=schema)
        names = set(batch.schema.names)
        code = np.zeros(n, dtype=np.int64)
        space = 1
        fixed: dict[str, Any] = {}  # key columns with one value in the batch
        varying: dict[str, tuple[np.ndarray, list[Any]]] = {}
        for name in KEY_COLUMNS:
            if name not in names:
                fixed[name] = self.constants.get(name)
                continue
            column = batch.column(name)
            one, value = _constant(column)
            if one:
                fixed[name] = value
                continue
            codes, values = varying[name] = _codes(column)
            width = len(values)
            if space * width >= _CODE_BOUND:  # re-number the codes so far: 0 .. distinct - 1
                encoded = pc.dictionary_encode(pa.array(code))
                code, space = np.asarray(encoded.indices).astype(np.int64), len(encoded.dictionary)
            code = code * width + codes
            space *= width
        if varying:
            encoded = pc.dictionary_encode(pa.array(code))
            inverse = np.asarray(encoded.indices)
            some_row = np.zeros(len(encoded.dictionary), dtype=np.int64)
            some_row[inverse] = np.arange(n)  # any row of a code has that code's key values
        else:
            inverse, some_row = np.zeros(n, dtype=np.int32), np.zeros(1, dtype=np.int64)
        ids = np.fromiter(
            (self._id(self._key(fixed, varying, int(r))) for r in some_row),
            dtype=np.int32,
            count=len(some_row),
        )
        arrays = [batch.column(f.name) for f in schema if f.name != KEY_ID]
        return pa.RecordBatch.from_arrays([*arrays, pa.array(ids[inverse])], schema=schema)

    def split_all(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield self.split(batch)

    @staticmethod
    def _key(
        fixed: dict[str, Any], varying: dict[str, tuple[np.ndarray, list[Any]]], row: int
    ) -> tuple[Any, ...]:
        return tuple(
            fixed[name] if name in fixed else varying[name][1][varying[name][0][row]]
            for name in KEY_COLUMNS
        )

    def _id(self, key: tuple[Any, ...]) -> int:
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = self.next_id
            self.next_id += 1
        return found

    def keys(self) -> pa.Table:
        """Every key met so far, numbered (``ledger_keys``' columns)."""
        ids = list(self._ids.values())
        columns = list(zip(*self._ids, strict=True)) or [()] * len(KEY_COLUMNS)
        return pa.table(
            {
                KEY_ID: pa.array(ids, pa.int32()),
                **{
                    name: pa.array(values, pa.string())
                    for name, values in zip(KEY_COLUMNS, columns, strict=True)
                },
            }
        )
