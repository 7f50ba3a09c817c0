"""Read published tables (CSV, XLS, XLSX) into numbered rows, safely and as a stream.

One seam for every tabular adapter:

* **Safety first**: a file over the size limit, a binary file (NUL bytes), a physical line longer
  than the line limit, or an .xlsx whose zip directory promises a huge expansion (zip bomb) is
  refused with one `InputFileError` naming the file, before any parser sees it.
* **Encoding**: UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark (Excel's
  "Unicode text"), else Windows-1252, else Latin-1; a file that mixes UTF-8 lines with
  Windows-1252 ones is decoded line by line. The choice goes into the result's notes. Decoding
  happens here, in Python: DuckDB never sees cp1252.
* **Layout**: the header row is found by the adapter's test (synonyms), so title rows before it
  are skipped; blank rows and total/footer rows are skipped and never counted as data.
* **Row accounting**: `Table.rows` counts every data row in ``rows_read`` and quarantines rows
  with too few or too many fields itself; quarantined rows keep their original text (re-read
  from the file, so multi-line records come back exactly), their line and the reason.

CSV goes through the `csv` module (quoted fields may span lines); the line given for a row is
the physical line where its record starts. Spreadsheet rows are numbered as Excel shows them.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NoReturn

import numpy as np

from totalplace.errors import InputFileError
from totalplace.ingest import excel
from totalplace.ingest.base import ParseResult
from totalplace.ingest.values import parse_amount_pence

MIB = 1024 * 1024
#: Header test: receives the row's cells normalised with `norm`.
HeaderTest = Callable[[list[str]], bool]
Cells = Sequence[Any]

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_TOTAL = re.compile(
    r"^(grand |sub |overall )?totals?"
    r"( (for|of|spend|spending|expenditure|payments?|amount|value|paid|gbp|net|gross|all|month"
    r"|period|year|page|to date)\b.*| [0-9].*)?$"
)
#: The five bytes Windows-1252 leaves undefined, as a lookup table indexed by byte value.
_CP1252_UNDEFINED = np.zeros(256, dtype=bool)
_CP1252_UNDEFINED[[0x81, 0x8D, 0x8F, 0x90, 0x9D]] = True
_NON_ASCII = re.compile(rb"[\x80-\xff]")
#: What a row holds, in any case, before it is tested as a total (a total's label is matched
#: regardless of case, so this cheap test is too); the vectorised path seeks the same.
TOTAL_WORD = "otal"
#: `Table.encoding` of a file decoded line by line (`decode_line`).
MIXED = "utf-8, else cp1252, by line"
#: Line numbers shown in the note on a mixed-encoding file.
_SHOWN_LINES = 5
_DELIMITERS = (",", "\t", ";", "|")


_PLAIN_AMOUNT = re.compile(r"-?\d{1,15}(?:\.\d{0,2})?")


def amount_pence(value: object, scale: int = 1) -> int:
    """`parse_amount_pence` with a fast path for the common plain form (``1424.00``,
    ``-99.5``, ``2000``): same result, a fraction of the cost. Raises ValueError."""
    if scale == 1 and type(value) is str and _PLAIN_AMOUNT.fullmatch(value):
        negative = value[0] == "-"
        whole, _, frac = (value[1:] if negative else value).partition(".")
        pence = int(whole) * 100 + (int(frac) * (10 if len(frac) == 1 else 1) if frac else 0)
        return -pence if negative else pence
    return parse_amount_pence(value, scale)


def norm(value: object) -> str:
    """A header or label in comparable form: lower case, runs of punctuation as one space."""
    if value is None:
        return ""
    return _NON_ALNUM.sub(" ", str(value).lower()).strip()


def is_total_label(value: object) -> bool:
    """'Total', 'Grand Total', 'Sub-total', 'Total for May 2010' (not 'TOTAL BUTLER LTD')."""
    return bool(_TOTAL.match(norm(value)))


@dataclass(frozen=True)
class Limits:
    """What a file may be before it is refused. Options can raise or lower each one."""

    max_bytes: int = 512 * MIB
    max_line_bytes: int = MIB
    max_unzipped_bytes: int = 1024 * MIB
    #: Compression ratio above which a large zip member (over 1 MiB expanded) is refused.
    max_ratio: int = 200
    #: Rows searched for the header (title rows allowed before it).
    scan_rows: int = 30

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Limits:
        """Limits with any of ``max_bytes``, ``max_line_bytes``, ``max_unzipped_bytes`` set."""
        names = ("max_bytes", "max_line_bytes", "max_unzipped_bytes", "max_ratio", "scan_rows")
        given = {k: int(options[k]) for k in names if options.get(k) not in (None, "")}
        return cls(**given)


# -- safety checks --------------------------------------------------------------------------------
def check_size(path: Path, limits: Limits) -> int:
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise InputFileError(
            path,
            f"is {size:,} bytes, over the {limits.max_bytes:,}-byte limit for one file "
            "(option max_bytes)",
        )
    return size


def check_zip(path: Path, limits: Limits) -> None:
    """Refuse an .xlsx whose zip directory promises too much data (a zip bomb), unopened."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputFileError(path, f"is not a readable .xlsx workbook ({exc})") from exc
    total = sum(i.file_size for i in infos)
    if total > limits.max_unzipped_bytes:
        raise InputFileError(
            path,
            f"refused: the workbook would expand to {total:,} bytes, over the "
            f"{limits.max_unzipped_bytes:,}-byte limit (possible zip bomb)",
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MIB and ratio > limits.max_ratio:
            raise InputFileError(
                path,
                f"refused: {info.filename} expands {ratio:,.0f} times "
                f"(limit {limits.max_ratio}; possible zip bomb)",
            )


@dataclass
class _Scan:
    encoding: str
    note: str


def is_utf16(head: bytes) -> bool:
    """The file starts with a UTF-16 byte-order mark (Excel's "Unicode text" export)."""
    return head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def scan_text(path: Path, limits: Limits) -> _Scan:
    """One streaming pass over the bytes: size, NUL bytes, line lengths, and the encoding."""
    check_size(path, limits)
    with path.open("rb") as fh:
        if is_utf16(fh.read(2)):
            return _scan_utf16(path, limits)
    chunk_size = max(1, min(limits.max_line_bytes, MIB))
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8_ok = True
    offset, since = 0, 0  # bytes before this chunk; bytes of the line it continues
    bom = False
    with path.open("rb") as fh:
        first = True
        while chunk := fh.read(chunk_size):
            if first:
                bom, first = chunk.startswith(codecs.BOM_UTF8), False
            if b"\x00" in chunk:
                raise InputFileError(path, "is a binary file (NUL bytes), not CSV text")
            nl = chunk.find(b"\n")
            if nl < 0:
                since += len(chunk)
                if since > limits.max_line_bytes:
                    _too_long(path, _line_at(path, offset), limits)
            else:
                if since + nl > limits.max_line_bytes:
                    _too_long(path, _line_at(path, offset), limits)
                since = len(chunk) - chunk.rfind(b"\n") - 1
            offset += len(chunk)
            # ASCII is UTF-8: decode only chunks that are not, or that end a sequence begun
            # in the chunk before
            if utf8_ok and not (chunk.isascii() and not decoder.getstate()[0]):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8_ok = False
    if utf8_ok:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    if utf8_ok:
        return _Scan(
            "utf-8-sig", "encoding: UTF-8 with byte-order mark" if bom else "encoding: UTF-8"
        )
    utf8_lines, other_lines, cp1252_ok = _classify_lines(path)
    if utf8_lines and other_lines:
        return _Scan(
            MIXED,
            f"encoding: mixed, decoded line by line: {_lines(utf8_lines)} UTF-8, "
            f"{_lines(other_lines)} Windows-1252 (cp1252)"
            + ("" if cp1252_ok else " or, with a byte undefined there, Latin-1"),
        )
    if cp1252_ok:
        return _Scan("cp1252", "encoding: not UTF-8; read as Windows-1252 (cp1252)")
    return _Scan("latin-1", "encoding: neither UTF-8 nor Windows-1252; read as Latin-1")


def _lines(numbers: list[int]) -> str:
    """'2 lines (3, 5)', '12 lines (first 2, 4, 6, 8, 10)'."""
    shown = ", ".join(f"{n:,}" for n in numbers[:_SHOWN_LINES])
    first = "first " if len(numbers) > _SHOWN_LINES else ""
    return f"{len(numbers):,} line{'s' if len(numbers) != 1 else ''} ({first}{shown})"


def _classify_lines(path: Path) -> tuple[list[int], list[int], bool]:
    """For a file that is not UTF-8 as a whole: the numbers of its non-ASCII lines that are
    valid UTF-8 and of those that are not, and whether no byte (of those lines that are not
    UTF-8) is one of the five that Windows-1252 leaves undefined. Lines are looked at one by
    one only when some bytes of the file could be UTF-8 (a lead byte and a continuation byte),
    and then only non-ASCII ones."""
    cp1252_ok, maybe_utf8 = True, False
    with path.open("rb") as fh:
        tail = b""
        while chunk := fh.read(MIB):
            if cp1252_ok and cp1252_undefined(chunk):
                cp1252_ok = False
            maybe_utf8 = maybe_utf8 or utf8_pair(tail + chunk)
            tail = chunk[-1:]
    utf8: list[int] = []
    other: list[int] = []
    if not maybe_utf8:
        return utf8, other, cp1252_ok
    line, cp1252_ok = 1, True
    rest = b""
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(MIB)
            data = rest + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            data, rest = data[:cut], data[cut:]
            at = 0
            while m := _NON_ASCII.search(data, at):
                start = data.rfind(b"\n", 0, m.start()) + 1
                end = data.find(b"\n", m.start())
                end = len(data) if end < 0 else end
                line += data.count(b"\n", at, start)
                try:
                    data[start:end].decode("utf-8")
                    utf8.append(line)
                except UnicodeDecodeError:
                    other.append(line)
                    if cp1252_ok and cp1252_undefined(data[start:end]):
                        cp1252_ok = False
                at = start
                if end == len(data):
                    break
                line, at = line + 1, end + 1
            line += data.count(b"\n", at)
            if not chunk:
                return utf8, other, cp1252_ok


def utf8_pair(data: bytes) -> bool:
    """``data`` holds a UTF-8 lead byte followed by a continuation byte: no text without one
    is UTF-8 beyond ASCII (so a "Windows-1252" file holding one may be mixed UTF-8 and
    cp1252, which only the row-level decoding sorts out)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    high = np.flatnonzero(buf[:-1] >= 0xC2)  # non-ASCII bytes are few: look only at those
    lead = high[buf[high] <= 0xF4]
    follow = buf[lead + 1]
    return bool(((follow >= 0x80) & (follow <= 0xBF)).any())


def cp1252_undefined(data: bytes) -> bool:
    """``data`` holds one of the five bytes Windows-1252 leaves undefined."""
    buf = np.frombuffer(data, dtype=np.uint8)
    return bool(_CP1252_UNDEFINED[buf[buf >= 0x81]].any())


def decode_line(raw: bytes) -> str:
    """One line of a mixed-encoding file: UTF-8 where the line is valid UTF-8, else
    Windows-1252, else (a byte Windows-1252 leaves undefined) Latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class _LineDecoded(io.TextIOBase):
    r"""A text stream over a mixed-encoding file, each line decoded by `decode_line`.

    Lines end at ``\n`` (``\r\n`` kept), as ``open(newline="")`` gives them to `csv`."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._raw = path.open("rb")

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]
        """The next whole line (``size`` is ignored: `csv` reads whole lines)."""
        return decode_line(self._raw.readline())

    def read(self, size: int | None = -1, /) -> str:
        """Whole lines, at least ``size`` characters of them (all with a negative size)."""
        parts: list[str] = []
        n = 0
        while size is None or size < 0 or n < size:
            line = self.readline()
            if not line:
                break
            parts.append(line)
            n += len(line)
        return "".join(parts)

    def seek(self, offset: int, whence: int = 0) -> int:
        if (offset, whence) != (0, 0):
            raise io.UnsupportedOperation("only seek(0)")
        return self._raw.seek(0)

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_text(path: Path, encoding: str) -> IO[str]:
    """``path`` as text for `csv` (``newline=""``) in the encoding `scan_text` chose."""
    if encoding == MIXED:
        return _LineDecoded(path)  # type: ignore[return-value]
    return path.open(encoding=encoding, newline="")


def _scan_utf16(path: Path, limits: Limits) -> _Scan:
    """A file with a UTF-16 byte-order mark: valid UTF-16, no NUL character, no long line."""
    decoder = codecs.getincrementaldecoder("utf-16")()
    line, since = 1, 0
    with path.open("rb") as fh:
        try:
            while chunk := fh.read(MIB):
                text = decoder.decode(chunk)
                if "\x00" in text:
                    raise InputFileError(path, "is a binary file (NUL characters), not CSV text")
                *ended, last = text.split("\n")
                for piece in ended:
                    if (since + len(piece)) * 2 > limits.max_line_bytes:
                        _too_long(path, line, limits)
                    line, since = line + 1, 0
                since += len(last)
                if since * 2 > limits.max_line_bytes:
                    _too_long(path, line, limits)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise InputFileError(
                path, f"starts with a UTF-16 byte-order mark but is not UTF-16 text ({exc.reason})"
            ) from exc
    return _Scan("utf-16", "encoding: UTF-16 with byte-order mark (Excel 'Unicode text')")


def _line_at(path: Path, offset: int) -> int:
    """The number of the line holding byte ``offset`` (counted only for an error message)."""
    newlines = 0
    with path.open("rb") as fh:
        while offset > 0 and (block := fh.read(min(offset, MIB))):
            newlines += block.count(b"\n")
            offset -= len(block)
    return newlines + 1


def _too_long(path: Path, line: int, limits: Limits) -> NoReturn:
    raise InputFileError(
        path,
        f"line {line:,} is longer than {limits.max_line_bytes:,} bytes: not a table this "
        "tool reads (option max_line_bytes)",
    )


# -- header search --------------------------------------------------------------------------------
def _decode_head(head: bytes) -> str:
    if is_utf16(head):
        text = head[: len(head) // 2 * 2].decode("utf-16", errors="replace")
        return text[: text.rfind("\n") + 1] or text
    cut = head.rfind(b"\n")
    body = head if cut < 0 else head[: cut + 1]
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "".join(decode_line(line) for line in body.splitlines(keepends=True))


def _find_header_text(
    text: str, is_header: HeaderTest, scan_rows: int, *, shared: bool = True
) -> tuple[str, int] | None:
    """(delimiter, 0-based record index of the header) found in ``text``, or None.
    ``shared``: the text's records are kept for the next adapter sniffing the same head
    (`sniff_header`); a table opened once does without the cache (and hashing its text)."""
    records_of = _head_records if shared else _head_records.__wrapped__
    for delim in _DELIMITERS:
        for index, record in enumerate(records_of(text, delim, scan_rows)):
            if is_header(list(record)):
                return delim, index
    return None


@lru_cache(maxsize=32)
def _head_records(text: str, delim: str, scan_rows: int) -> _HeadRecords | tuple[()]:
    """The first ``scan_rows`` records of ``text`` split at ``delim``, each cell normalised
    (`norm`), split as they are asked for; none when no line among the first ``scan_rows``
    holds ``delim``. Several adapters sniff one file: it is split once, and only as far as the
    header is looked for."""
    head = _head_lines(text, scan_rows)
    if not any(delim in line for line in head):
        return ()
    rest = text[sum(map(len, head)) :]
    lines = chain(head, io.StringIO(rest, newline="") if rest else ())
    return _HeadRecords(csv.reader(lines, delimiter=delim), scan_rows)


_LINE_END = re.compile(r"\r\n|\r|\n")


def _head_lines(text: str, n: int) -> list[str]:
    """The first ``n`` lines of ``text`` with their endings, split as a file read with
    ``newline=""`` splits them (at CRLF, CR or LF), without splitting the rest."""
    end = 0
    for count, match in enumerate(_LINE_END.finditer(text), start=1):
        end = match.end()
        if count >= n:
            break
    else:
        end = len(text)
    return list(io.StringIO(text[:end], newline=""))


class _HeadRecords:
    """Records read from ``reader`` on demand and kept, up to ``limit`` and only those before
    the first malformed one."""

    def __init__(self, reader: Iterator[list[str]], limit: int) -> None:
        self._reader: Iterator[list[str]] | None = reader
        self._limit = limit
        self._rows: list[tuple[str, ...]] = []

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        i = 0
        while True:
            if i < len(self._rows):
                yield self._rows[i]
                i += 1
                continue
            if self._reader is None or len(self._rows) >= self._limit:
                return
            try:
                record = next(self._reader)
            except (StopIteration, csv.Error):
                self._reader = None
                return
            self._rows.append(tuple(norm(c) for c in record))


ExcelHead = tuple[tuple[str, tuple[tuple[int, tuple[Any, ...]], ...]], ...]


def _excel_head(book: excel.Workbook, scan_rows: int) -> ExcelHead:
    """The first ``scan_rows`` rows of every sheet."""
    return tuple((name, tuple(book.rows(name, max_rows=scan_rows))) for name in book.sheet_names)


@lru_cache(maxsize=8)
def _cached_excel_head(path: Path, _mtime_ns: int, _size: int, scan_rows: int) -> ExcelHead:
    # Detection asks several adapters about one workbook: open it once.
    with excel.open_workbook(path) as book:
        return _excel_head(book, scan_rows)


def _excel_header(
    head: ExcelHead, is_header: HeaderTest, sheet: str | int | None
) -> tuple[str, int, list[str]] | None:
    sheets = head
    if sheet is not None:
        sheets = tuple(
            s
            for i, s in enumerate(head)
            if (i == sheet if isinstance(sheet, int) else s[0] == sheet)
        )
    for name, rows in sheets:
        for number, row in rows:
            if is_header([norm(excel.text(v)) for v in row]):
                return name, number, [excel.text(v) for v in row]
    return None


def sniff_header(
    path: Path,
    head: bytes,
    is_header: HeaderTest,
    limits: Limits | None = None,
    *,
    hint: bytes | None = None,
) -> bool:
    """Cheaply say whether a header row passing ``is_header`` is near the top of the file.

    ``hint``: lower-case ASCII that every header passing ``is_header`` holds (once
    normalised, so in the text too); a text head without it is refused unparsed.
    Never raises: a binary "CSV", a zip bomb or a broken workbook is simply not recognised
    (`open_table` gives the reason when the file is parsed with a named adapter).
    """
    limits = limits or Limits()
    try:
        if excel.is_xlsx(head) or excel.is_xls(head):
            check_size(path, limits)
            if excel.is_xlsx(head):
                check_zip(path, limits)
            stat = path.stat()
            head_rows = _cached_excel_head(
                path.resolve(), stat.st_mtime_ns, stat.st_size, limits.scan_rows
            )
            return _excel_header(head_rows, is_header, None) is not None
        if not head or (b"\x00" in head and not is_utf16(head)):
            return False
        if hint is not None and not is_utf16(head) and hint not in head.lower():
            return False
        return _find_header_text(_decode_head(head), is_header, limits.scan_rows) is not None
    except Exception:  # sniff answers yes or no, whatever the file holds
        return False


# -- the table ------------------------------------------------------------------------------------
def _filled(value: object) -> bool:
    return value is not None and bool(str(value).strip())


def _is_footer_like(cells: Cells, ncols: int) -> bool:
    """At most half the cells filled (as in a total row) and none of them an amount."""
    filled = [v for v in cells if _filled(v)]
    if len(filled) > max(2, ncols // 2):
        return False
    for value in filled:
        try:
            amount_pence(value)
        except ValueError:
            continue
        return False
    return True


@dataclass
class Table:
    """An opened table positioned after its header; iterate `rows`, then call `finish`."""

    path: Path
    kind: str  # 'csv' | 'xls' | 'xlsx'
    header: list[str]
    keys: list[str]
    header_row: int
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    notes: list[str] = field(default_factory=list)
    before_header: dict[str, int] = field(default_factory=dict)
    #: Last physical line of the most recent CSV record (for quarantine spans).
    end_line: int = 0
    _source: Iterator[tuple[int, Cells]] | None = None
    _fh: IO[str] | None = None
    _book: excel.Workbook | None = None
    _pending: list[tuple[int, int, dict[str, Any], Cells]] = field(default_factory=list)
    #: Text of lines already read (line number -> text with its ending), so `finish` need not
    #: read the file again for the raw text of rows quarantined from them.
    known_lines: dict[int, str] = field(default_factory=dict)

    def column(self, synonyms: Sequence[str], taken: Sequence[int | None] = ()) -> int | None:
        """Index of the first header cell equal (normalised) to one of ``synonyms``, in order,
        leaving out the columns in ``taken`` (already chosen for another field)."""
        for s in synonyms:
            for i, key in enumerate(self.keys):
                if key == s and i not in taken:
                    return i
        return None

    def rows(self, result: ParseResult) -> Iterator[tuple[int, Cells]]:
        """Data rows as ``(line, cells)``, each counted in ``rows_read``.

        Blank and total rows are skipped (and counted in ``skipped``); rows with the wrong
        number of fields are quarantined here. After a total row, rows that fill at most half
        their cells and hold no amount (``,†††††† ,,,,``) are held back: when nothing but such
        rows follows to the end of the file they are the report's footer (``skipped``
        'footer', and a note with their lines); when data follows, they are read as data.
        Cells of CSV rows are strings as published; spreadsheet cells are typed values (None
        when empty).
        """
        assert self._source is not None, "table is closed"
        ncols = len(self.header)
        csv_kind = self.kind == "csv"
        after_total = False
        held: list[tuple[int, int, Cells]] = []
        for line, cells in self._source:
            if csv_kind:
                joined = "".join(cells)
                if not joined.strip():
                    result.skip("blank")
                    continue
            else:
                joined = "".join(["" if v is None else str(v) for v in cells])
                if not joined.strip():
                    result.skip("blank")
                    continue
            if TOTAL_WORD in joined.lower() and self._is_total(cells, ncols):
                result.skip("total")
                after_total = True
                continue
            if after_total:
                if _is_footer_like(cells, ncols):
                    held.append((line, self.end_line, cells))
                    continue
                after_total = False
                if held:  # data follows: the held rows were data after all
                    end = self.end_line
                    for h_line, h_end, h_cells in held:
                        self.end_line = h_end
                        result.rows_read += 1
                        fitted = self._fitted(result, h_line, h_cells, ncols, csv_kind)
                        if fitted is not None:
                            yield h_line, fitted
                    held.clear()
                    self.end_line = end
            result.rows_read += 1
            if len(cells) != ncols:
                fitted = self._fitted(result, line, cells, ncols, csv_kind)
                if fitted is None:
                    continue
                cells = fitted
            yield line, cells
        if held:
            self._footer(result, held)

    def _fitted(
        self, result: ParseResult, line: int, cells: Cells, ncols: int, csv_kind: bool
    ) -> Cells | None:
        """``cells`` with exactly ``ncols`` fields (empty extras dropped, short spreadsheet
        rows padded), or None when the row is quarantined for its field count."""
        n = len(cells)
        if n == ncols:
            return cells
        extra = cells[ncols:]
        if n > ncols and all(v is None or not str(v).strip() for v in extra):
            return cells[:ncols]
        if n < ncols and not csv_kind:
            return tuple(cells) + (None,) * (ncols - n)
        what = "too many" if n > ncols else "too few"
        reason = f"{what} fields: the row has {n}, the header has {ncols}"
        if self.end_line > line:
            reason += (
                f" (the record runs from line {line:,} to "
                f"{self.end_line:,}: check for an unclosed quote)"
            )
        self.quarantine(result, line, reason, cells)
        return None

    def _footer(self, result: ParseResult, held: list[tuple[int, int, Cells]]) -> None:
        """Count the rows after the last total as the footer, and say which lines they were."""
        result.skip("footer", len(held))
        first, last = held[0][0], held[-1][1]
        where = f"line {first:,}" if first == last else f"lines {first:,}-{last:,}"
        text = " | ".join(
            " ".join(str(v).split()) for *_, cells in held for v in cells if _filled(v)
        )
        self.notes.append(f"footer after the total row skipped ({where}: {text[:80]!r})")

    @staticmethod
    def _is_total(cells: Cells, ncols: int) -> bool:
        filled = [v for v in cells if _filled(v)]
        if len(filled) > max(2, ncols // 2):
            return False
        return any(isinstance(v, str) and is_total_label(v) for v in filled)

    def quarantine(self, result: ParseResult, line: int, reason: str, cells: Cells) -> None:
        """Set one data row aside; its original text is filled in by `finish`. A spreadsheet
        row's reason names its sheet and row, as Excel shows them."""
        if self.sheet is not None:
            reason = f"sheet {self.sheet!r} row {line:,}: {reason}"
        result.quarantine_row(line, reason, "")
        end = self.end_line if self.kind == "csv" else line
        self._pending.append((line, max(end, line), result.quarantine[-1], cells))

    def finish(self, result: ParseResult) -> None:
        """Add notes and pre-header skips to ``result`` and fill quarantined rows' raw text."""
        for what, n in self.before_header.items():
            result.skip(what, n)
        result.notes.extend(self.notes)
        if not self._pending:
            return
        if self.kind != "csv":
            for _line, _end, record, cells in self._pending:
                record["raw"] = excel.raw_text(tuple(cells))
            return
        spans = sorted(self._pending, key=lambda p: p[0])
        needed = {n for start, end, _r, _c in spans for n in range(start, end + 1)}
        wanted = {n: self.known_lines[n] for n in needed if n in self.known_lines}
        if len(wanted) < len(needed):
            last = max(needed - set(wanted))
            with open_text(self.path, self.encoding or "utf-8") as fh:
                for number, text in enumerate(fh, start=1):
                    if number in needed:
                        wanted[number] = text
                    if number >= last:
                        break
        for start, end, record, _cells in spans:
            raw = "".join(wanted.get(n, "") for n in range(start, end + 1))
            record["raw"] = raw.rstrip("\r\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._book is not None:
            self._book.close()
            self._book = None
        self._source = None

    def __enter__(self) -> Table:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_table(
    path: Path,
    is_header: HeaderTest,
    *,
    limits: Limits | None = None,
    sheet: str | int | None = None,
    expected: str = "the expected columns",
) -> Table:
    """Open ``path`` (CSV, XLS or XLSX, decided by its first bytes) positioned after its header.

    Raises `InputFileError` naming the file when it is unsafe, unreadable or has no header
    (``expected`` says what the header should contain, for the message).
    """
    limits = limits or Limits()
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(8)
    if excel.is_xlsx(head) or excel.is_xls(head):
        return _open_excel(path, is_header, limits, sheet, expected, excel.is_xlsx(head))
    return _open_csv(path, is_header, limits, expected)


def _no_header(path: Path, limits: Limits, expected: str) -> InputFileError:
    return InputFileError(
        path, f"no header row with {expected} in the first {limits.scan_rows} rows (unknown layout)"
    )


def _open_csv(path: Path, is_header: HeaderTest, limits: Limits, expected: str) -> Table:
    scan = scan_text(path, limits)
    fh = open_text(path, scan.encoding)
    try:
        found = _find_header_text(fh.read(256 * 1024), is_header, limits.scan_rows, shared=False)
        if found is None:
            raise _no_header(path, limits, expected)
        delim, index = found
        fh.seek(0)
        reader = csv.reader(fh, delimiter=delim)
        before: dict[str, int] = {}
        for _ in range(index):
            record = next(reader)
            kind = "title" if "".join(record).strip() else "blank"
            before[kind] = before.get(kind, 0) + 1
        header = [c.strip() for c in next(reader)]
    except BaseException:
        fh.close()
        raise
    while header and not header[-1]:
        header.pop()
    table = Table(
        path=path,
        kind="csv",
        header=header,
        keys=[norm(c) for c in header],
        header_row=reader.line_num,
        encoding=scan.encoding,
        delimiter=delim,
        notes=[scan.note]
        + ([f"delimiter: {delim!r}"] if delim != "," else [])
        + ([f"header on line {reader.line_num}"] if reader.line_num > 1 else []),
        before_header=before,
        _fh=fh,
    )
    table.end_line = reader.line_num
    table._source = _csv_records(table, reader)
    return table


def _csv_records(table: Table, reader: Any) -> Iterator[tuple[int, Cells]]:
    prev = table.end_line
    try:
        for cells in reader:
            end = reader.line_num
            table.end_line = end
            yield prev + 1, cells
            prev = end
    except csv.Error as exc:
        raise InputFileError(table.path, f"malformed CSV ({exc})", line=prev + 1) from exc


def _open_excel(
    path: Path,
    is_header: HeaderTest,
    limits: Limits,
    sheet: str | int | None,
    expected: str,
    xlsx: bool,
) -> Table:
    check_size(path, limits)
    if xlsx:
        check_zip(path, limits)
    book = excel.open_workbook(path)
    try:
        found = _excel_header(_excel_head(book, limits.scan_rows), is_header, sheet)
        if found is None:
            raise _no_header(path, limits, expected)
    except BaseException:
        book.close()
        raise
    name, number, header = found
    while header and not header[-1]:
        header.pop()
    table = Table(
        path=path,
        kind="xlsx" if xlsx else "xls",
        header=header,
        keys=[norm(c) for c in header],
        header_row=number,
        sheet=name,
        notes=[f"sheet {name!r}, header on row {number}"],
        _book=book,
    )
    table._source = _excel_records(table, book, name, number)
    return table


def _excel_records(
    table: Table, book: excel.Workbook, sheet: str, header_row: int
) -> Iterator[tuple[int, Cells]]:
    for number, row in book.rows(sheet):
        if number < header_row:
            kind = "blank" if excel.is_blank(row) else "title"
            table.before_header[kind] = table.before_header.get(kind, 0) + 1
            continue
        if number == header_row:
            continue
        yield number, row


# -- output ---------------------------------------------------------------------------------------
#: Ledger columns an adapter fills, in the order of `LedgerRows.add`'s tuple.
OUTPUT_FIELDS: tuple[str, ...] = (
    "year",
    "date",
    "area_code",
    "area_name",
    "area_level",
    "agency",
    "agency_code",
    "agency_type",
    "function",
    "service_line",
    "counterparty",
    "description",
    "amount_pence",
    "row",
)


class LedgerRows:
    """Collects output rows as tuples (one append per row) and hands the pipeline one frame."""

    def __init__(self, fields: tuple[str, ...] = OUTPUT_FIELDS) -> None:
        self.fields = fields
        self.rows: list[tuple[Any, ...]] = []
        self.add = self.rows.append

    def __len__(self) -> int:
        return len(self.rows)

    def into(self, result: ParseResult) -> None:
        """Put the collected rows into ``result.frame`` (nothing when there are none)."""
        if not self.rows:
            return
        import pandas as pd

        frame = pd.DataFrame.from_records(self.rows, columns=list(self.fields))
        result.frame = frame if result.frame is None else pd.concat([result.frame, frame])
