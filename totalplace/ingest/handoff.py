"""The hand-off from the parsing workers to the one writer: Arrow IPC streams in a scratch
folder beside the store, in the ledger's Arrow schema without provenance.

* `Sink`: one file's rows, written as they are parsed (memory stays bounded whatever the
  file's size); a columnar attempt that falls back to the row-level way starts it afresh.
* `GroupSink`: the rows of several small files in one stream, file after file, each file's
  rows put in only once it has parsed whole: one stream to make and read for the group.
* `with_provenance`: the writer's side, each row given its own file's source, file and batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from totalplace.ledger.schema import ledger_arrow_schema

if TYPE_CHECKING:
    from totalplace.ledger.store import Batch

#: The columns the writer adds to each row (`with_provenance`); the streams lack them.
PROVENANCE = ("source_id", "file", "batch_id")
#: The streams' schema: the ledger's Arrow schema, dictionary-encoded, without `PROVENANCE`.
SCHEMA = ledger_arrow_schema(exclude=PROVENANCE, dictionary=True)


class Sink:
    """Where a worker puts one file's ledger rows: `start` before each attempt at parsing it
    (an attempt by the columnar parser that falls back to the row-level way is discarded),
    `write` for each part of its rows, `keep` once the file has parsed whole, `close` at the
    end."""

    def __init__(self, ipc: Path) -> None:
        self.ipc, self.stream, self.written = ipc, None, 0

    def start(self) -> None:  # a fresh stream: what an earlier attempt wrote is gone
        self.close()
        self.stream, self.written = pa.ipc.new_stream(self.ipc, SCHEMA), 0

    def write(self, part: pa.RecordBatch | pa.Table) -> None:
        assert self.stream is not None
        if isinstance(part, pa.Table):
            self.stream.write_table(part)
        else:
            self.stream.write_batch(part)
        self.written += part.num_rows

    def keep(self) -> None:
        """The file parsed whole: its rows stay (here they are in the stream already)."""

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None


class GroupSink(Sink):
    """One stream for a group of small files, each file's rows in it only once the file has
    parsed whole (`keep`), so the stream holds the good files' rows in order: one stream to
    make and read for the group, not one a file (the writer's `with_provenance`)."""

    def __init__(self, ipc: Path) -> None:
        super().__init__(ipc)
        self.stream = pa.ipc.new_stream(ipc, SCHEMA)
        self.parts: list[pa.RecordBatch | pa.Table] = []

    def start(self) -> None:
        self.parts, self.written = [], 0

    def write(self, part: pa.RecordBatch | pa.Table) -> None:
        self.parts.append(part)
        self.written += part.num_rows

    def keep(self) -> None:
        for part in self.parts:
            super().write(part)
        self.parts = []


def with_provenance(rows: Any, batches: list[Batch], counts: list[int]) -> Any:
    """``rows`` (a table, or a stream of batches: ``counts[k]`` rows of ``batches[k]``'s
    file, then the next file's) with each row's provenance columns, dictionary-encoded
    (each file's values once, no copy of the text per row)."""
    names = list(PROVENANCE)
    values = [pa.array([getattr(b, k) for b in batches], pa.string()) for k in names]
    ends = np.cumsum(counts)

    def extra(start: int, n: int) -> list[pa.Array]:
        member: np.ndarray = (
            np.zeros(n, dtype=np.int32)
            if len(batches) == 1
            else np.searchsorted(ends, np.arange(start, start + n), side="right")
        )
        indices = pa.array(member.astype(np.int32))
        return [pa.DictionaryArray.from_arrays(indices, v) for v in values]

    def check(n: int) -> None:  # a worker's count and its stream disagree: write nothing
        if n != int(ends[-1]):
            raise ValueError(f"{n:,} rows in the stream for {int(ends[-1]):,}")

    if isinstance(rows, pa.Table):
        check(rows.num_rows)
        for name, arr in zip(names, extra(0, rows.num_rows), strict=True):
            rows = rows.append_column(name, arr)
        return rows
    schema = rows.schema
    for name, arr in zip(names, extra(0, 0), strict=True):
        schema = schema.append(pa.field(name, arr.type))

    def with_extra() -> Iterator[pa.RecordBatch]:
        start = 0
        for b in rows:
            if start + b.num_rows > int(ends[-1]):
                check(start + b.num_rows)
            yield pa.RecordBatch.from_arrays([*b.columns, *extra(start, b.num_rows)], schema=schema)
            start += b.num_rows
        check(start)

    return pa.RecordBatchReader.from_batches(schema, with_extra())
