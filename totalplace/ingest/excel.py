"""Read spreadsheet sheets into numbered rows: .xlsx with openpyxl (read-only), .xls with xlrd.

Adapters see every sheet the same way: ``(row number as Excel shows it, tuple of cell values)``,
empty cells as ``None``, numbers as int/float, text as published (not stripped). The format is
decided by the file's first bytes, not its name, so a misnamed file is still read correctly::

    with open_workbook(path) as book:
        for number, row in book.rows("Sheet1"):
            ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from totalplace.errors import InputFileError

Row = tuple[Any, ...]

#: Office Open XML (.xlsx) files are zip archives.
XLSX_MAGIC = b"PK\x03\x04"
#: Excel 97-2003 (.xls) files are OLE2 compound documents.
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def is_xlsx(head: bytes) -> bool:
    return head.startswith(XLSX_MAGIC)


def is_xls(head: bytes) -> bool:
    return head.startswith(XLS_MAGIC)


class Workbook:
    """An open workbook (use as a context manager): sheet names, rows, row counts."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fh: IO[bytes] | None = None
        self._xlsx: Any = None
        self._xls: Any = None
        try:
            self._fh = self.path.open("rb")
        except OSError as exc:
            raise InputFileError(self.path, f"cannot be read ({exc.strerror or exc})") from exc
        head = self._fh.read(8)
        self._fh.seek(0)
        try:
            if is_xlsx(head):
                self._xlsx = _open_xlsx(self.path, self._fh)
            elif is_xls(head):
                self._xls = _open_xls(self.path, self._fh)
            else:
                raise InputFileError(self.path, "is not an Excel workbook (.xlsx or .xls)")
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._xlsx is not None:
            self._xlsx.close()
            self._xlsx = None
        if self._xls is not None:
            self._xls.release_resources()
            self._xls = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    @property
    def sheet_names(self) -> list[str]:
        if self._xlsx is not None:
            return list(self._xlsx.sheetnames)
        return list(self._xls.sheet_names())

    def rows(
        self, sheet: str | int = 0, *, max_rows: int | None = None
    ) -> Iterator[tuple[int, Row]]:
        """Yield ``(row_number, values)`` for every row of ``sheet`` (name or 0-based index).

        Row numbers are 1-based as Excel shows them; blank rows are yielded (as empty or
        all-None tuples) so numbering never drifts. Rows may differ in length: use `cell`.
        """
        if self._xlsx is not None:
            return _xlsx_rows(self.path, self._xlsx, sheet, max_rows)
        return _xls_rows(self.path, self._xls, sheet, max_rows)

    def row_counts(self) -> dict[str, int]:
        """Rows in each sheet as the workbook declares them (for range checks)."""
        if self._xlsx is not None:
            return {ws.title: int(ws.max_row or 0) for ws in self._xlsx.worksheets}
        return {n: self._xls.sheet_by_name(n).nrows for n in self._xls.sheet_names()}

    def find_header(
        self,
        is_header: Callable[[Row], bool],
        *,
        scan_rows: int = 30,
        sheets: Callable[[str], bool] | None = None,
    ) -> tuple[str, int, Row] | None:
        """The first ``(sheet, row_number, header)`` whose row satisfies ``is_header``.

        Looks at the first ``scan_rows`` rows of each sheet (optionally only sheets whose name
        passes ``sheets``): cheap enough for `sniff`. None when no sheet has such a row.
        """
        for name in self.sheet_names:
            if sheets is not None and not sheets(name):
                continue
            for number, row in self.rows(name, max_rows=scan_rows):
                if is_header(row):
                    return name, number, row
        return None


def open_workbook(path: Path) -> Workbook:
    """Open an .xlsx or .xls file (decided by its first bytes); InputFileError if neither."""
    return Workbook(path)


def cell(row: Row, index: int) -> Any:
    """``row[index]``, or None when the row is shorter (or ``index`` is negative)."""
    return row[index] if 0 <= index < len(row) else None


def text(value: Any) -> str:
    """A cell as stripped text with inner whitespace collapsed ('' for empty cells)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())


def is_blank(row: Row) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def raw_text(row: Row) -> str:
    """A row as one line of text for quarantine (cells joined by ' | ', empty cells blank)."""
    cells = ["" if v is None else str(v) for v in row]
    while cells and not cells[-1]:
        cells.pop()
    return " | ".join(cells)


# -- xlsx ---------------------------------------------------------------------------------------
def _open_xlsx(path: Path, fh: IO[bytes]) -> Any:
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        return openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise InputFileError(path, f"is not a readable .xlsx workbook ({exc})") from exc


def _xlsx_rows(
    path: Path, wb: Any, sheet: str | int, max_rows: int | None
) -> Iterator[tuple[int, Row]]:
    try:
        ws = wb[sheet] if isinstance(sheet, str) else wb.worksheets[sheet]
    except (KeyError, IndexError) as exc:
        raise InputFileError(path, f"has no sheet {sheet!r}") from exc
    # Declared dimensions are sometimes wrong (some writers say A1): read what is there.
    expected = 1
    with ws._get_source() as src:
        parser = _tolerant_parser()(
            src,
            ws._shared_strings,
            data_only=ws.parent.data_only,
            epoch=ws.parent.epoch,
            date_formats=ws.parent._date_formats,
            timedelta_formats=ws.parent._timedelta_formats,
        )
        for number, cells in parser.parse():
            for missing in range(expected, min(number, (max_rows or number) + 1)):
                yield missing, ()
            if max_rows is not None and number > max_rows:
                break
            # as openpyxl's own rows: as wide as the row's last cell
            width = cells[-1]["column"] if cells else 0
            values: list[Any] = [None] * width
            for c in cells:
                if 1 <= c["column"] <= width:
                    values[c["column"] - 1] = c["value"]
            yield number, tuple(values)
            expected = number + 1


@lru_cache(maxsize=1)
def _tolerant_parser() -> type:
    """openpyxl's sheet parser, except that a cell whose value is not of its declared type
    (``<c r="B3"><v>#DIV/0!</v></c>``: no ``t="e"``, so "a number") comes back as its text
    instead of stopping the whole sheet with ``invalid literal for int()``: the adapter then
    quarantines that one row."""
    from openpyxl.utils.cell import coordinate_to_tuple
    from openpyxl.worksheet._reader import VALUE_TAG, WorkSheetParser

    class TolerantParser(WorkSheetParser):
        def parse_cell(self, element: Any) -> dict[str, Any]:
            try:
                return super().parse_cell(element)
            except ValueError:
                # the parser has already placed the cell (col_counter) before casting it
                coordinate = element.get("r")
                row, column = (
                    coordinate_to_tuple(coordinate)
                    if coordinate
                    else (self.row_counter, self.col_counter)
                )
                value = element.findtext(VALUE_TAG)
                return {"row": row, "column": column, "value": value, "data_type": "s"}

    return TolerantParser


# -- xls ----------------------------------------------------------------------------------------
def _open_xls(path: Path, fh: IO[bytes]) -> Any:
    import xlrd

    try:
        return xlrd.open_workbook(file_contents=fh.read(), on_demand=True)
    except (xlrd.XLRDError, OSError, AssertionError, IndexError, KeyError, ValueError) as exc:
        raise InputFileError(path, f"is not a readable .xls workbook ({exc})") from exc


def _xls_value(ctype: int, value: Any) -> Any:
    import xlrd

    if ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(value)
    if ctype == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(value, "#ERR")
    return value


def _xls_rows(
    path: Path, book: Any, sheet: str | int, max_rows: int | None
) -> Iterator[tuple[int, Row]]:
    import xlrd

    try:
        ws = book.sheet_by_name(sheet) if isinstance(sheet, str) else book.sheet_by_index(sheet)
    except (xlrd.XLRDError, IndexError) as exc:
        raise InputFileError(path, f"has no sheet {sheet!r}") from exc
    n = ws.nrows if max_rows is None else min(ws.nrows, max_rows)
    for i in range(n):
        types, values = ws.row_types(i), ws.row_values(i)
        yield i + 1, tuple(_xls_value(t, v) for t, v in zip(types, values, strict=True))
