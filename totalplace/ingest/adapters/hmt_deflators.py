"""HM Treasury's "GDP deflators at market prices, and money GDP" workbook (gov.uk, quarterly).

Layout (Budget March 2020 and later): title rows, then two blocks side by side, financial years
(label column 'Financial year', an index column headed '2018-19 = 100', a 'per cent change on
previous year' column, money GDP) and calendar years ('Calendar year', index '2019 = 100', …),
then footnotes. Outturn years have an index; forecast years have ``-`` in the index column, only
a per-cent change, and footnote marks in their label (``2019-20 (1), (2)``).

The index and per-cent columns are found **by their headers** within the financial-year block,
never by position. A forecast year's index is derived from the previous year's index and its
published per-cent change and marked ``status = 'forecast'``; a per-cent change is never read as
an index. Output rows go to the store's ``deflators`` table:
``year, index, status ('outturn' | 'forecast'), base_year, per_cent_change, row``.

Skipped keys: ``title``, ``header``, ``blank``, ``footnote`` are not data rows. A financial-year
row without a usable index (and, for a forecast, without a per-cent change or a previous year to
apply it to) is quarantined with the reason.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from totalplace.errors import InputFileError
from totalplace.ingest.base import Adapter, ParseContext, ParseResult
from totalplace.ingest.excel import Row, cell, is_blank, is_xls, is_xlsx, open_workbook, raw_text
from totalplace.ingest.excel import text as cell_text

DEFLATOR_COLUMNS = ("year", "index", "status", "base_year", "per_cent_change", "row")
_FY = re.compile(r"^\s*(\d{4})\s*[-/]\s*(\d{2})(?!\d)")
_BASE = re.compile(r"(\d{4})\s*[-/]\s*(\d{2})\s*=\s*100\b")
_PER_CENT = re.compile(r"per\s*cent|%", re.IGNORECASE)
#: How many rows above the index header may hold the rest of a column's header text.
_HEADER_DEPTH = 3


def financial_year(value: Any) -> str | None:
    """'2019-20 (1), (2)' -> '2019-20'; None for anything that is not a financial-year label."""
    m = _FY.match(value) if isinstance(value, str) else None
    if not m or int(m.group(2)) != (int(m.group(1)) + 1) % 100:
        return None
    return f"{m.group(1)}-{m.group(2)}"


def _is_header(row: Row) -> bool:
    cells = [cell_text(v).casefold() for v in row]
    return "financial year" in cells and any(_BASE.search(c) for c in cells)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class _Layout:
    """Where the financial-year block's label, index and per-cent columns are."""

    def __init__(self, path: Path, number: int, header: Row, above: list[Row]) -> None:
        keys = [cell_text(v).casefold() for v in header]
        self.label = keys.index("financial year")
        # the block ends where the calendar-year block begins
        end = next(
            (
                j
                for j in range(self.label + 1, len(header))
                if any(
                    cell_text(cell(r, j)).casefold() == "calendar year" for r in [*above, header]
                )
            ),
            len(header),
        )
        columns = {
            j: " ".join(cell_text(cell(r, j)) for r in [*above, header])
            for j in range(self.label + 1, end)
        }
        base = [
            (j, m) for j, t in columns.items() if (m := _BASE.search(cell_text(cell(header, j))))
        ]
        if not base:
            raise InputFileError(
                path, f"row {number}: no financial-year index column headed 'YYYY-YY = 100'", number
            )
        self.index, m = base[0]
        self.base_year = f"{m.group(1)}-{m.group(2)}"
        self.per_cent = next(
            (j for j, t in columns.items() if j != self.index and _PER_CENT.search(t)), None
        )


def _kind_above_data(number: int, header_no: int) -> str:
    return "header" if number >= header_no - _HEADER_DEPTH else "title"


class HmtDeflatorsAdapter(Adapter):
    """HM Treasury GDP deflators: the financial-year index (outturn, and forecast derived)."""

    name: ClassVar[str] = "hmt_deflators"
    title: ClassVar[str] = "HM Treasury GDP deflators at market prices, and money GDP"
    target: ClassVar[str] = "deflators"
    suffixes: ClassVar[tuple[str, ...]] = (".xlsx", ".xls")

    def sniff(self, path: Path, head: bytes) -> bool:
        if not (is_xlsx(head) or is_xls(head)):
            return False
        try:
            with open_workbook(path) as book:
                return book.find_header(_is_header, scan_rows=30) is not None
        except Exception:  # sniff never raises: an unreadable file is simply not ours
            return False

    def parse(self, path: Path, context: ParseContext) -> ParseResult:
        result = ParseResult()
        with open_workbook(path) as book:
            found = book.find_header(_is_header, scan_rows=60)
            if found is None:
                raise InputFileError(
                    path, "no header row with 'Financial year' and an index 'YYYY-YY = 100'"
                )
            sheet, header_no, header = found
            rows = list(book.rows(sheet))
        above = [r for n, r in rows if header_no - _HEADER_DEPTH <= n < header_no]
        layout = _Layout(path, header_no, header, above)
        out: list[dict[str, Any]] = []
        index_of: dict[str, float] = {}
        for number, row in rows:
            if number <= header_no:
                result.skip("blank" if is_blank(row) else _kind_above_data(number, header_no))
                continue
            if is_blank(row):
                result.skip("blank")
                continue
            year = financial_year(cell(row, layout.label))
            if year is None:
                result.skip("footnote")
                continue
            result.rows_read += 1
            idx = _number(cell(row, layout.index))
            pct = None if layout.per_cent is None else _number(cell(row, layout.per_cent))
            status = "outturn"
            problem = ""
            if year in index_of:
                problem = f"{year} appears twice (first value kept)"
            elif idx is None:
                prev = f"{int(year[:4]) - 1}-{year[2:4]}"
                shown = cell_text(cell(row, layout.index)) or "empty"
                if pct is None:
                    problem = f"index is {shown!r} and there is no per-cent change to derive it"
                elif prev not in index_of:
                    problem = (
                        f"index is {shown!r} and there is no {prev} index to apply its change to"
                    )
                else:
                    idx, status = index_of[prev] * (1 + pct / 100), "forecast"
            if problem or idx is None:
                result.quarantine_row(number, problem, raw_text(row))
                continue
            index_of[year] = idx
            out.append(
                {
                    "year": year,
                    "index": idx,
                    "status": status,
                    "base_year": layout.base_year,
                    "per_cent_change": pct,
                    "row": number,
                }
            )
        frame = pd.DataFrame(out, columns=list(DEFLATOR_COLUMNS)).astype(
            {"index": "float64", "per_cent_change": "float64", "row": "int64"}
        )
        outturn = frame.loc[frame["status"] == "outturn", "year"]
        forecast = frame.loc[frame["status"] == "forecast", "year"]
        result.notes.append(
            f"index {layout.base_year} = 100; outturn "
            + (f"{outturn.min()} to {outturn.max()}" if len(outturn) else "none")
            + (
                f"; forecast {forecast.min()} to {forecast.max()} derived from the published "
                "per-cent changes"
                if len(forecast)
                else ""
            )
        )
        result.frame = frame
        return result
