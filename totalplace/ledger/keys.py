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


def _codes(column: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Each row's index into the column's distinct values (a null is their count), and the
    distinct values."""
    if not pa.types.is_dictionary(column.type):
        if not pa.types.is_string(column.type):
            column = column.cast(pa.string())  # as DuckDB's VARCHAR would take it
        column = pc.dictionary_encode(column)
    indices = column.indices
    if indices.null_count:
        indices = indices.fill_null(len(column.dictionary))
    return np.asarray(indices).astype(np.int64), column.dictionary


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
        names = set(batch.schema.names)
        code = np.zeros(n, dtype=np.int64)
        space = 1
        columns: list[tuple[np.ndarray, list[Any]] | None] = []
        for name in KEY_COLUMNS:
            if name not in names:
                columns.append(None)
                continue
            codes, values = _codes(batch.column(name))
            columns.append((codes, [*values.to_pylist(), None]))
            width = len(values) + 1
            if space * width >= _CODE_BOUND:  # re-number the codes so far: 0 .. distinct - 1
                encoded = pc.dictionary_encode(pa.array(code))
                code, space = np.asarray(encoded.indices).astype(np.int64), len(encoded.dictionary)
            code = code * width + codes
            space *= width
        encoded = pc.dictionary_encode(pa.array(code))
        inverse = np.asarray(encoded.indices)
        some_row = np.zeros(len(encoded.dictionary), dtype=np.int64)
        some_row[inverse] = np.arange(n)  # any row of a code has that code's key values
        ids = np.fromiter(
            (self._id(self._key(columns, int(r))) for r in some_row),
            dtype=np.int32,
            count=len(some_row),
        )
        schema = self.row_schema(batch.schema)
        arrays = [batch.column(f.name) for f in schema if f.name != KEY_ID]
        return pa.RecordBatch.from_arrays([*arrays, pa.array(ids[inverse])], schema=schema)

    def split_all(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield self.split(batch)

    def _key(self, columns: list[tuple[np.ndarray, list[Any]] | None], row: int) -> tuple[Any, ...]:
        return tuple(
            self.constants.get(name) if col is None else col[1][col[0][row]]
            for name, col in zip(KEY_COLUMNS, columns, strict=True)
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
