"""Columnar parsing of transaction-level spend CSV: each file read once, in chunks of whole
lines, its fields split by pyarrow's CSV reader and its amounts, dates, paying bodies, text and
financial years parsed by vectorised operations.

Strict by construction. A row is taken here only when every value matches a named pattern
below whose meaning the row-level rules (`spend._read_rows`) give identically; dates, paying
bodies and text are parsed once per distinct value *by the row-level functions themselves*
(`parse_date`, `Payer.body_of`, `spend._text`) and spread to the rows by index. Every other row
(fused or quoted-across-lines fields, short or long rows, total and blank rows, odd amounts, odd
or implausible dates, unknown bodies) goes to `spend._read_rows` through the same `Table`, so
it keeps the row-level recovery, skip counts and quarantine reasons with file and line. A file
whose records might span lines, whose bytes are not cleanly UTF-8 or Windows-1252, or that is a
spreadsheet is parsed by the row-level adapter as a whole. tests/test_columnar_conformance.py
runs both paths over every mirror spend file, the fixtures and the generator's data and
compares the ledger and quarantine row for row.

Memory is bounded by the chunk size (`CHUNK_BYTES`), not by the file's size: batches are
yielded as they are parsed.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from totalplace.errors import InputFileError
from totalplace.ingest.adapters import spend
from totalplace.ingest.base import ParseContext, ParseResult
from totalplace.ingest.tabular import TOTAL_WORD, Limits, Table, open_table, utf8_pair
from totalplace.ingest.values import financial_year, parse_date, plausible_years
from totalplace.ledger.schema import ledger_arrow_schema, to_ledger_arrow

_T = TypeVar("_T")
#: Whether pyarrow's CSV reader may use threads (off in worker processes: they are the threads).
USE_THREADS = True
#: Bytes of whole lines parsed at once (bounds memory whatever the file's size).
CHUNK_BYTES = 16 * 1024 * 1024

# -- the strict patterns (named so they can be aligned with the row-level rules) ----------------
#: Digits of an amount: plain (up to 15 digits) or in well-formed thousands groups
#: (``1,234,567``; never ``1,2,3`` or ``0,123``).
AMOUNT_DIGITS = r"(?:[1-9]\d{0,2}(?:,\d{3}){1,4}|\d{1,15})"
#: An amount taken by the vectorised path: those digits with at most two decimals, an optional
#: leading minus, or in brackets (a credit), padded with spaces at most (report exports).
AMOUNT_PATTERN = (
    rf"^ *(?:(?P<minus>-?)(?P<plain>{AMOUNT_DIGITS})(?:\.(?P<plain_frac>\d{{1,2}}))?"
    rf"|\((?P<bracket>{AMOUNT_DIGITS})(?:\.(?P<bracket_frac>\d{{1,2}}))?\)) *$"
)
#: Date forms taken by the vectorised path (each distinct value is still parsed by
#: `parse_date`): UK dd/mm/yyyy, ISO date, ISO date with a valid time of day.
DATE_PATTERNS: tuple[str, ...] = (
    r"[0-9]{2}/[0-9]{2}/[0-9]{4}",
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}",
    r"[0-9]{4}-[0-9]{2}-[0-9]{2} (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]",
)
#: Encodings (as `scan_text` names them) whose files this path decodes; others go row-level.
ENCODINGS = ("utf-8-sig", "cp1252")
_DATE_RE = re.compile("|".join(f"(?:{p})" for p in DATE_PATTERNS))


class RowLevel(Exception):
    """This file must go through the row-level adapter as a whole (the reason says why)."""


@dataclass
class _Columns:
    """Column indices the spend rules read, found exactly as `spend._read_rows` finds them."""

    amount: int
    date: int
    supplier: int
    area: int | None
    kind: int | None
    source: int | None
    body: tuple[int, ...]

    @classmethod
    def of(cls, table: Table) -> _Columns:
        col = table.column
        i_amount, i_date, i_supplier = col(spend.AMOUNT), col(spend.DATE), col(spend.SUPPLIER)
        assert i_amount is not None and i_date is not None and i_supplier is not None
        i_area, i_type = col(spend.AREA), col(spend.TYPE)
        if i_area is not None and i_area == i_type:
            i_type = None
        body = (spend.BODY_NAME, spend.BODY_CODE, spend.CENTRAL_FAMILY, spend.CENTRAL_ENTITY)
        found = sorted({i for i in (col(s) for s in body) if i is not None})
        return cls(i_amount, i_date, i_supplier, i_area, i_type, col(spend.SOURCE), tuple(found))


def parse_spend(
    path: Path, context: ParseContext, result: ParseResult, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[pa.RecordBatch]:
    """Ledger rows of one spend CSV as Arrow batches (every ledger column but source_id, file
    and batch_id); ``result`` gets the counts, skips, notes and quarantine as the row-level
    adapter would give them. Raises `RowLevel` (perhaps after some batches, which the caller
    then discards) when the file must be parsed row by row, and `InputFileError` when it
    cannot be used at all."""
    chunks = _Chunks.open(path, context, result)
    try:
        for piece in chunks.pieces(chunk_bytes):
            yield from _one(_parse_pieces([piece])[0])
        chunks.finish()
    finally:
        chunks.table.close()


def parse_spend_many(
    items: list[tuple[Path, ParseContext, ParseResult]], chunk_bytes: int = CHUNK_BYTES
) -> list[list[pa.RecordBatch] | Exception]:
    """`parse_spend` of several files at once: for each file its batches, or what
    `parse_spend` would have raised for it (`RowLevel`, `InputFileError`, ...).

    Small files of one layout (the same delimiter, columns and plausible years: a council's
    monthly files) are parsed together, their lines joined into one chunk of at most
    ``chunk_bytes``, so the fixed cost of each vectorised step (a few milliseconds a file,
    as much as parsing 3,000 rows) is paid once for them all. Each row keeps its own file's
    paying body, line number, row-level rules and quarantine; each file's batches are what
    `parse_spend` gives it (tests/test_columnar_conformance.py)."""
    out: list[list[pa.RecordBatch] | Exception] = [[] for _ in items]
    files: list[_Chunks | None] = [None] * len(items)
    joinable: dict[tuple[Any, ...], list[tuple[int, _Piece]]] = {}
    try:
        for i, (path, context, result) in enumerate(items):
            try:
                files[i] = chunks = _Chunks.open(path, context, result)
                pieces = list(chunks.pieces(chunk_bytes))
            except Exception as exc:
                out[i] = exc
                continue
            if len(pieces) == 1 and pieces[0].data.endswith(b"\n"):
                joinable.setdefault(chunks.layout(), []).append((i, pieces[0]))
            else:  # no data lines, several chunks, or no final line end: alone
                out[i] = _each_alone([(i, p) for p in pieces]).get(i, [])
        for group in joinable.values():
            for run in runs(group, lambda item: len(item[1].data), chunk_bytes):
                for i, batches in _joined(run).items():
                    out[i] = batches
        for i, opened in enumerate(files):
            if opened is not None and not isinstance(out[i], Exception):
                try:
                    opened.finish()
                except Exception as exc:
                    out[i] = exc
    finally:
        for opened in files:
            if opened is not None:
                opened.table.close()
    return out


def _one(batches: list[pa.RecordBatch] | Exception) -> list[pa.RecordBatch]:
    if isinstance(batches, Exception):
        raise batches
    return batches


def runs(items: Iterable[_T], size: Callable[[_T], int], limit: int) -> Iterator[list[_T]]:
    """Consecutive ``items`` in runs of at most ``limit`` in all by ``size`` (a larger one
    alone)."""
    run: list[_T] = []
    total = 0
    for item in items:
        n = size(item)
        if run and total + n > limit:
            yield run
            run, total = [], 0
        run.append(item)
        total += n
    if run:
        yield run


def _joined(run: list[tuple[int, _Piece]]) -> dict[int, list[pa.RecordBatch] | Exception]:
    """Each file's batches from the pieces of ``run`` parsed as one chunk; when something
    about the joined chunk sends it row-level (a quote or carriage return of one file), each
    piece is parsed alone instead, so only its own file goes row-level."""
    if len(run) > 1:
        try:
            parsed = _parse_pieces([p for _, p in run])
        except RowLevel:
            return _each_alone(run)
        return {i: b for (i, _), b in zip(run, parsed, strict=True)}
    return _each_alone(run)


def _each_alone(pieces: list[tuple[int, _Piece]]) -> dict[int, list[pa.RecordBatch] | Exception]:
    """Each file's batches from its pieces parsed one at a time, in order (as `parse_spend`
    does); the first exception of a file is its outcome."""
    out: dict[int, list[pa.RecordBatch] | Exception] = {}
    for i, piece in pieces:
        done = out.setdefault(i, [])
        if isinstance(done, Exception):
            continue
        try:
            done.extend(_one(_parse_pieces([piece])[0]))
        except Exception as exc:
            out[i] = exc
    return out


@dataclass
class _Piece:
    """Whole data lines of one file (UTF-8) and the number of the first."""

    owner: _Chunks
    first_line: int
    data: bytes


def _parse_pieces(pieces: list[_Piece]) -> list[list[pa.RecordBatch] | Exception]:
    """Each piece's batches (its rows taken here, then its other rows by the row-level rules
    of its own file), or what its file's row-level rules raised; the pieces are of files of
    one layout and parsed as one chunk. Raises `RowLevel` when something of the chunk as a
    whole must go row-level."""
    lead = pieces[0].owner
    data = pieces[0].data if len(pieces) == 1 else b"".join(p.data for p in pieces)
    lines, ends = _lines(data)
    n = len(lines)
    delim = ord(lead.delim)
    quotes = _check_quoting(data, ends, delim)
    blank = _blank(data, ends)  # the reader gives a row of empty fields for these
    fields, other_shape = lead._split(data)
    if other_shape is None:  # the threaded reader does not number them: count here
        counts = _fields_per_line(data, ends, delim, quotes)
        other_shape = np.flatnonzero((counts != lead.ncols) & ~blank)
    split = np.delete(np.arange(n), other_shape)  # the line of each row the reader gave
    if len(split) != fields.num_rows:  # pragma: no cover - guarded by the line checks
        raise RowLevel("the CSV reader saw other records than the lines")
    good = ~blank
    good[other_shape] = False
    if _has_total_word(data):  # lines that may be a total row: the row rules decide
        good &= ~np.asarray(pc.match_substring(lines, TOTAL_WORD, ignore_case=True))
    # the piece of each line, and its number in its file
    starts = np.cumsum([0, *(len(p.data) for p in pieces[:-1])])
    first = np.searchsorted(ends, starts, side="right")  # each piece's first line
    piece = np.repeat(np.arange(len(pieces)), np.diff(np.append(first, n)))
    line_no = np.array([p.first_line for p in pieces], dtype=np.int64)[piece]
    line_no += np.arange(n) - first[piece]
    fallback = np.flatnonzero(~good)
    taken = good[split]
    idx = split[taken]
    out: list[list[pa.RecordBatch] | Exception] = [[] for _ in pieces]
    if len(idx):
        if len(idx) != len(split):
            fields = fields.filter(pa.array(taken))
        rejected, batches = lead._values(fields, line_no[idx], piece[idx], pieces)
        fallback = np.sort(np.concatenate([fallback, idx[rejected]]))
        for k, (accepted, batch) in enumerate(batches):
            if batch is not None:
                pieces[k].owner.result.rows_read += accepted
                out[k] = [batch]
    if len(fallback):
        texts = lines.take(pa.array(fallback)).to_pylist()
        bounds = np.searchsorted(piece[fallback], np.arange(len(pieces) + 1))
        for k, p in enumerate(pieces):
            lo, hi = int(bounds[k]), int(bounds[k + 1])
            if lo == hi:
                continue
            done = out[k]
            assert not isinstance(done, Exception)
            try:
                done.extend(p.owner._row_level(line_no[fallback[lo:hi]].tolist(), texts[lo:hi]))
            except Exception as exc:
                out[k] = exc
    return out


class _Chunks:
    """One file's data lines, parsed chunk by chunk."""

    @classmethod
    def open(cls, path: Path, context: ParseContext, result: ParseResult) -> _Chunks:
        """The file's table opened and checked for the vectorised path (else `RowLevel`)."""
        limits = Limits.from_options(context.options)
        with path.open("rb") as fh:
            head = fh.read(8)
        if not head or head.startswith(b"PK") or head.startswith(b"\xd0\xcf\x11\xe0"):
            raise RowLevel("a spreadsheet")
        table = open_table(
            path,
            spend.is_spend_header,
            limits=limits,
            expected="amount, date and supplier columns",
        )
        try:
            if table.encoding not in ENCODINGS or table.delimiter is None:
                raise RowLevel(f"encoding {table.encoding}")
            payer = spend.Payer.for_table(table, context.options)
            chunks = cls(path, table, payer, result, plausible_years(context.options))
            chunks.check_file(limits)
        except BaseException:
            table.close()
            raise
        return chunks

    def finish(self) -> None:
        """After the last piece: the table's notes and skips, and the paying bodies' notes."""
        self.table.finish(self.result)
        self.result.notes.extend(self.payer.notes)

    def layout(self) -> tuple[Any, ...]:
        """What files must share for their lines to be parsed as one chunk."""
        return (self.delim, self.ncols, tuple(self.used), repr(self.cols), self.years)

    def __init__(
        self,
        path: Path,
        table: Table,
        payer: spend.Payer,
        result: ParseResult,
        years: tuple[int, int],
    ) -> None:
        self.path, self.table, self.payer, self.result = path, table, payer, result
        self.years = years
        self.cols = _Columns.of(table)
        self.ncols = len(table.header)
        assert table.delimiter is not None
        self.delim = table.delimiter
        self.cp1252 = table.encoding == "cp1252"
        self.names = [f"c{i}" for i in range(self.ncols)]
        c = self.cols
        wanted = {c.amount, c.date, c.supplier, c.area, c.kind, c.source, *c.body}
        #: The columns the rules read (the others are split but never converted).
        self.used = sorted(i for i in wanted if i is not None)
        self.schema = ledger_arrow_schema(exclude=_PROVENANCE, dictionary=True)

    def check_file(self, limits: Limits) -> None:
        """File-level conditions the vectorised path needs (before any row is parsed)."""
        if self.ncols < 2:
            raise RowLevel("fewer than two columns")

    # -- reading ------------------------------------------------------------------------------
    def _raw_chunks(self, chunk_bytes: int) -> Iterator[tuple[int, bytes]]:
        """(number of the chunk's first line, bytes of whole lines) after the header."""
        line = 1
        with self.path.open("rb") as fh:
            skip = self.table.header_row
            while skip:  # the header (and any title rows) end after `header_row` newlines
                buf = fh.readline()
                if not buf:
                    return
                if buf.endswith(b"\n"):
                    skip -= 1
                    line += 1
            rest = b""
            block = fh.read(chunk_bytes)
            while block:
                data = rest + block
                block = fh.read(chunk_bytes)  # one block ahead: the last chunk needs no count
                if not block:
                    yield line, data
                    return
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest = data
                    continue
                yield line, data[:cut]
                line += data.count(b"\n", 0, cut)
                rest = data[cut:]
            if rest:
                yield line, rest

    def pieces(self, chunk_bytes: int) -> Iterator[_Piece]:
        """The file's data lines in pieces of about ``chunk_bytes``, as UTF-8."""
        for first_line, data in self._raw_chunks(chunk_bytes):
            if self.cp1252:
                if utf8_pair(data):
                    raise RowLevel("cp1252 mixed with UTF-8")
                data = data.decode("cp1252").encode("utf-8")
            yield _Piece(self, first_line, data)

    def _split(self, body: bytes) -> tuple[pa.Table, np.ndarray | None]:
        """The used fields of every line of ``body`` with the header's number of fields (a
        blank line gives a row of empty fields), and the indices of the other lines, which
        it skips (None when the reader, using threads, cannot number them)."""
        names = self.names
        other: list[int | None] = []

        def other_shape(row: pacsv.InvalidRow) -> str:
            other.append(None if row.number is None else row.number - 1)
            return "skip"

        fields = pacsv.read_csv(
            pa.BufferReader(body),
            read_options=pacsv.ReadOptions(
                column_names=names, block_size=1 << 22, use_threads=USE_THREADS
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=self.delim,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=False,
                invalid_row_handler=other_shape,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                include_columns=[names[i] for i in self.used],
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=False,  # the file's bytes were checked (or made) UTF-8 already
            ),
        )
        if None in other:
            return fields, None
        return fields, np.array(other, dtype=np.int64)

    def _values(
        self, fields: pa.Table, rows: np.ndarray, piece: np.ndarray, pieces: list[_Piece]
    ) -> tuple[np.ndarray, list[tuple[int, pa.RecordBatch | None]]]:
        """Parse the values of well-shaped rows (``rows``: their line numbers, ``piece``:
        their piece): the indices of rows not taken, and each piece's rows taken (how many,
        and as a ledger batch)."""
        c = self.cols
        col = {i: _one_chunk(fields.column(self.names[i])) for i in self.used}
        pence, ok_amount = _amounts(col[c.amount])
        days, years, date_codes, ok_date = self._dates(col[c.date])
        ok = ok_amount & ok_date
        bodies, body_codes, ok_body = self._bodies(col, days, ok, piece, pieces)
        ok &= ok_body
        keep = np.flatnonzero(ok)
        rejected = np.flatnonzero(~ok)
        if not len(keep):
            return rejected, [(0, None)] * len(pieces)
        kind = _texts(col[c.kind], keep) if c.kind is not None else None
        area = _texts(col[c.area], keep) if c.area is not None else kind
        if c.source is not None:
            kind = _with_source(kind, _texts(col[c.source], keep), len(keep))
        values: dict[str, pa.Array | None] = {
            "year": _coded(years, date_codes[keep]),
            "date": pa.array(days[keep], pa.int32()).cast(pa.date32()),
            **{k: _coded(v, body_codes[keep]) for k, v in bodies.items()},
            "service_line": area,
            "counterparty": _texts(col[c.supplier], keep),
            "description": kind,
            "amount_pence": pa.array(pence[keep], pa.int64()),
            "row": pa.array(rows[keep], pa.int64()),
        }
        if len(pieces) == 1:
            return rejected, [(len(keep), to_ledger_arrow(values, len(keep), self.schema))]
        bounds = np.searchsorted(piece[keep], np.arange(len(pieces) + 1))
        out: list[tuple[int, pa.RecordBatch | None]] = []
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            part = {
                k: None if v is None else _compact(v.slice(lo, hi - lo)) for k, v in values.items()
            }
            out.append((hi - lo, to_ledger_arrow(part, hi - lo, self.schema) if hi > lo else None))
        return rejected, out

    def _dates(self, raw: pa.Array) -> tuple[np.ndarray, list[str | None], np.ndarray, np.ndarray]:
        """Days since 1970, the distinct financial years and each row's code into them, and
        an ok mask; each distinct date text is parsed once."""
        enc = pc.dictionary_encode(raw)
        parsed = [self._date(v) for v in enc.dictionary.to_pylist()]
        ok_d = np.array([p is not None for p in parsed], dtype=bool)
        day_d = np.array([p[0] if p else 0 for p in parsed], dtype=np.int32)
        codes = np.asarray(enc.indices)
        return day_d[codes], [p[1] if p else None for p in parsed], codes, ok_d[codes]

    def _date(self, text: str) -> tuple[int, str] | None:
        """(days since 1970, financial year) of a date taken here, else None: only dates in the
        file's plausible years (`values.plausible_years`: options min_year, max_year)."""
        key = (text, self.years)
        hit = _DATES.get(key, False)
        if hit is not False:
            return hit  # type: ignore[return-value]
        value: tuple[int, str] | None = None
        if _DATE_RE.fullmatch(text):
            try:
                day = parse_date(text)
            except ValueError:
                day = None
            if day is not None and self.years[0] <= day.year <= self.years[1]:
                value = ((day - _EPOCH).days, financial_year(day))
        if len(_DATES) > 100_000:
            _DATES.clear()
        _DATES[key] = value
        return value

    def _bodies(
        self,
        col: dict[int, pa.Array],
        days: np.ndarray,
        ok: np.ndarray,
        piece: np.ndarray,
        pieces: list[_Piece],
    ) -> tuple[dict[str, list[Any]], np.ndarray, np.ndarray]:
        """The paying body of each row (its distinct values and each row's code into them),
        resolved by its file's `Payer.body_of` once per file, distinct body cells and year
        (its own cache key), for the rows whose amount and date were taken."""
        n = len(days)
        key = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
        key = key * len(pieces) + piece
        encoded = []
        for i in self.cols.body:
            enc = pc.dictionary_encode(col[i])
            codes = np.asarray(enc.indices).astype(np.int64)
            encoded.append((i, enc.dictionary.to_pylist(), codes))
            key = key * (len(enc.dictionary) + 1) + codes
        keys = pc.dictionary_encode(pa.array(key))  # by hash: no sort of the rows
        inverse, n_keys = np.asarray(keys.indices), len(keys.dictionary)
        # each key's first row whose amount and date were taken (the row-level order)
        rows_ok = np.flatnonzero(ok)
        first_ok = np.full(n_keys, n, dtype=np.int64)
        np.minimum.at(first_ok, inverse[rows_ok], rows_ok)
        out: dict[str, list[Any]] = {k: [None] * n_keys for k in _BODY_FIELDS}
        ok_u = np.zeros(n_keys, dtype=bool)
        for u in np.argsort(first_ok, kind="stable"):
            row = int(first_ok[u])
            if row == n:
                break
            cells: list[Any] = [None] * self.ncols
            for i, values, codes in encoded:
                cells[i] = values[codes[row]]
            day = _EPOCH + dt.timedelta(days=int(days[row]))
            try:
                agency, body = pieces[int(piece[row])].owner.payer.body_of(cells, day)
            except ValueError:
                continue
            ok_u[u] = True
            for k, v in zip(
                _BODY_FIELDS,
                (body.gss, body.name, body.level, agency, body.code, body.agency_type),
                strict=True,
            ):
                out[k][u] = v
        return out, inverse, ok_u[inverse]

    # -- the row-level rules, for the rows taken nowhere else -----------------------------------
    def _row_level(self, line_numbers: list[int], texts: list[str]) -> Iterator[pa.RecordBatch]:
        table, delim = self.table, self.delim
        table.known_lines.update(zip(line_numbers, texts, strict=True))

        def records() -> Iterator[tuple[int, list[str]]]:
            for line, text in zip(line_numbers, texts, strict=True):
                table.end_line = line
                try:
                    cells = next(csv.reader([text], delimiter=delim), [])
                except csv.Error as exc:
                    raise InputFileError(self.path, f"malformed CSV ({exc})", line=line) from exc
                yield line, cells

        table._source = records()
        self.result.frame = None
        spend._read_rows(table, self.result, self.payer, self.years)
        if self.result.skipped.get("footer"):
            # rows held back after a total are a footer only if nothing follows them in the
            # whole file, which this chunk's broken rows alone cannot tell
            raise RowLevel("rows after a total row")
        frame, self.result.frame = self.result.frame, None
        if frame is not None and len(frame):
            yield to_ledger_arrow(
                {k: pa.array(frame[k], from_pandas=True) for k in frame.columns},
                len(frame),
                self.schema,
            )


_EPOCH = dt.date(1970, 1, 1)
_PROVENANCE = ("source_id", "file", "batch_id")
#: Distinct date texts already parsed (they repeat across a council's files).
_DATES: dict[tuple[str, tuple[int, int]], tuple[int, str] | None] = {}
_BODY_FIELDS = ("area_code", "area_name", "area_level", "agency", "agency_code", "agency_type")


def _has_total_word(data: bytes) -> bool:
    """``data`` holds `TOTAL_WORD` in any case: one pass over the chunk as a single value
    (RE2 over a whole chunk is a few times faster than `bytes.find` twice or a match by
    line; most chunks have none, and only those that do are matched line by line)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    whole = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    return bool(pc.count_substring(whole, TOTAL_WORD, ignore_case=True)[0].as_py())


def _lines(data: bytes) -> tuple[pa.StringArray, np.ndarray]:
    """The lines of ``data`` (each with its line ending) as one Arrow array, zero-copy, and
    the offset just past each line."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10) + 1
    if len(data) and data[-1:] != b"\n":
        ends = np.append(ends, len(data))
    offsets = np.concatenate([[0], ends]).astype(np.int32)
    lines = pa.StringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(data))
    return lines, ends


_QUOTE, _CR, _LF = ord('"'), ord("\r"), ord("\n")


def _blank(data: bytes, ends: np.ndarray) -> np.ndarray:
    """Which lines are empty (nothing before their LF or CRLF)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)[: len(ends)]
    length, first = ends - starts, buf[starts]  # every line has at least one byte
    return ((length == 1) & (first == _LF)) | ((length == 2) & (first == _CR))


def _check_quoting(data: bytes, ends: np.ndarray, delim: int) -> np.ndarray:
    """The positions of the quotes in ``data``, for lines whose quoting is well formed:
    every field unquoted (no quote in it) or wholly quoted with ``""`` for a quote, so each
    record is one line and Python's csv module and pyarrow's reader split it alike. Raises
    `RowLevel` for any other quoting (a quote that might open a field running over lines)
    and for a carriage return that does not end a line.

    Once every line has an even number of quotes, they pair up (opening, closing) in order;
    each is checked by what stands before or after it."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if b"\r" in data:  # every CR must end a line (CRLF)
        cr = np.flatnonzero(buf == _CR)
        if cr[-1] == len(buf) - 1 or (buf[cr + 1] != _LF).any():
            raise RowLevel("a carriage return inside a line")
    qpos = np.flatnonzero(buf == _QUOTE)
    if not len(qpos):
        return qpos
    q_line = np.searchsorted(ends, qpos, side="right")
    if (np.bincount(q_line, minlength=len(ends)) % 2).any():
        raise RowLevel("a quote left open at the end of a line (may span lines)")
    opening = np.arange(len(qpos)) % 2 == 0
    prev = buf[np.maximum(qpos - 1, 0)]
    nxt = buf[np.minimum(qpos + 1, len(buf) - 1)]
    open_ok = (qpos == 0) | (prev == _LF) | (prev == delim) | (prev == _QUOTE)
    close_ok = (qpos == len(buf) - 1) | (nxt == delim) | (nxt == _QUOTE)
    close_ok |= (nxt == _CR) | (nxt == _LF)
    if not np.where(opening, open_ok, close_ok).all():
        raise RowLevel("a quote inside an unquoted field or after a closing quote")
    return qpos


def _fields_per_line(data: bytes, ends: np.ndarray, delim: int, qpos: np.ndarray) -> np.ndarray:
    """CSV fields on each line, given the quotes `_check_quoting` found well formed.

    Delimiters are counted line by line in one pass (`np.add.reduceat`), less those between
    each opening quote and its closing one."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if not len(ends):
        return np.zeros(0, dtype=np.int32)
    is_delim = buf == delim
    starts = np.concatenate([[0], ends[:-1]])
    fields = np.add.reduceat(is_delim, starts, dtype=np.int32) + 1
    if not len(qpos):
        return fields
    q_line = np.searchsorted(ends, qpos[0::2], side="right")
    # delimiters from each opening quote up to its closing one, looking only at those bytes
    opens = qpos[0::2]
    spans = qpos[1::2] - opens  # >= 1: the opening quote itself
    first = np.cumsum(spans) - spans  # where each span starts among the bytes looked at
    at = np.arange(int(spans.sum())) + np.repeat(opens - first, spans)
    inside = np.add.reduceat(is_delim[at], first, dtype=np.int32)
    np.subtract.at(fields, q_line, inside)
    return fields


def _one_chunk(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _amounts(raw: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Pence and an ok mask, for amounts matching `AMOUNT_PATTERN` (others: ok False).

    Matched texts lose their padding, brackets and commas and are cast to a decimal with two
    places, whose unscaled value (read from its buffer) is the pence; brackets make it a
    credit. The pattern allows at most 15 digits and two decimals, so every value fits."""
    ok = np.asarray(pc.match_substring_regex(raw, AMOUNT_PATTERN))
    text = raw if ok.all() else pc.if_else(pa.array(ok), raw, "0")
    # the pattern allows spaces and brackets only around the number, commas only inside it;
    # each is looked for in the texts' bytes at once, and removed only where some text has it
    data = text.buffers()[2]
    chars = b"" if data is None else data.to_pybytes()
    credit = np.asarray(pc.match_substring(text, "(")) if b"(" in chars else False
    if b" " in chars or b"(" in chars:
        text = pc.utf8_trim(text, " ()")
    if b"," in chars:
        text = pc.replace_substring(text, ",", "")
    decimal = pc.cast(text, pa.decimal128(18, 2))
    # little-endian 128-bit unscaled values: the low 64 bits hold every value that fits
    words = np.frombuffer(decimal.buffers()[1], dtype=np.int64).reshape(-1, 2)
    pence = words[decimal.offset : decimal.offset + len(decimal), 0].copy()
    return np.where(credit, -pence, pence), ok


def _coded(values: list[Any], codes: np.ndarray) -> pa.DictionaryArray:
    """Rows given as codes into distinct ``values`` (None for empty), dictionary-encoded."""
    empty = np.array([v is None for v in values] + [True], dtype=bool)
    indices = pa.array(codes.astype(np.int32), mask=empty[codes])
    return pa.DictionaryArray.from_arrays(
        indices, pa.array(["" if v is None else v for v in values], pa.string())
    )


#: Dictionaries longer than this are cut to the values a file's rows use (`_compact`).
COMPACT_OVER = 256


def _compact(column: pa.Array) -> pa.Array:
    """A slice of a dictionary column with a long dictionary (the joined files' texts) as
    the same values with a dictionary of only those its rows use, so each file's batch
    carries its own texts, not every joined file's."""
    if not pa.types.is_dictionary(column.type) or len(column.dictionary) <= COMPACT_OVER:
        return column
    valid = None if not column.null_count else np.asarray(column.is_valid())
    indices = column.indices.fill_null(0) if valid is not None else column.indices
    codes = np.asarray(indices)
    used = np.zeros(len(column.dictionary), dtype=bool)
    used[codes if valid is None else codes[valid]] = True
    renumber = (np.cumsum(used) - 1).astype(np.int32)
    return pa.DictionaryArray.from_arrays(
        pa.array(renumber[codes], mask=None if valid is None else ~valid),
        column.dictionary.filter(pa.array(used)),
    )


#: What `str.split()` splits on (Unicode whitespace), for RE2.
_WS = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}"
    r"\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
)
#: Text that `spend._text` leaves as it is: words joined by single spaces.
_NORMAL_TEXT = rf"^[^{_WS}]+(?: [^{_WS}]+)*$"


def _texts(raw: pa.Array, keep: np.ndarray) -> pa.DictionaryArray:
    """`spend._text` of the rows ``keep`` of ``raw``, computed once per distinct value (and
    only for values it would change: the others stay in Arrow, never made Python strings)."""
    enc = pc.dictionary_encode(raw)
    distinct = enc.dictionary
    odd = np.flatnonzero(~np.asarray(pc.match_substring_regex(distinct, _NORMAL_TEXT)))
    codes = np.asarray(enc.indices)[keep]
    if not len(odd):
        return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), distinct)
    fixed = [spend._text(v) for v in distinct.take(pa.array(odd)).to_pylist()]
    replaced = np.zeros(len(distinct), dtype=bool)
    replaced[odd] = True
    dictionary = pc.replace_with_mask(
        distinct, pa.array(replaced), pa.array(["" if v is None else v for v in fixed], pa.string())
    )
    blank = np.zeros(len(distinct), dtype=bool)  # texts that are nothing once tidied: null
    blank[odd[[v is None for v in fixed]]] = True
    return pa.DictionaryArray.from_arrays(
        pa.array(codes, pa.int32(), mask=blank[codes]), dictionary
    )


def _with_source(kind: pa.Array | None, src: pa.Array, n: int) -> pa.Array:
    """The description with `` [source: …]`` appended where the row names a source file."""
    src = src.cast(pa.string())
    kind = None if kind is None else kind.cast(pa.string())
    tag = pc.binary_join_element_wise("[source: ", src, "]", "")
    if kind is None:
        return pc.if_else(pc.is_valid(src), tag, pa.nulls(n, pa.string()))
    both = pc.binary_join_element_wise(kind, tag, " ")
    return pc.if_else(pc.is_valid(src), pc.if_else(pc.is_valid(kind), both, tag), kind)


#: Adapters with a columnar parser, by adapter name.
COLUMNAR: dict[str, Callable[..., Iterator[pa.RecordBatch]]] = {"spend": parse_spend}
#: Adapters whose columnar parser can take several files at once (`parse_spend_many`).
COLUMNAR_MANY: dict[str, Callable[..., list[list[pa.RecordBatch] | Exception]]] = {
    "spend": parse_spend_many
}
