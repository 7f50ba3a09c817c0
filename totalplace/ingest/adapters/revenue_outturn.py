"""DCLG Revenue Outturn Summary (RS) by local authority: net current expenditure by service.

One ledger row per authority and service line with a non-zero amount (the service columns
between 'Class' and 'TOTAL SERVICE EXPENDITURE'; the total itself is never a ledger row).
The header is found by its 'E-code' cell, the year and unit in the title rows
('Revenue Outturn Summary (RS): 2010-11 data', 'Net current expenditure (£ thousand)').
Authorities are keyed by DCLG E-code and mapped to GSS codes with mySociety's register
(``context.options['ecode_to_gss']``, else the register in the data mirror); an authority the
register lacks (police, fire, waste, transport, park authorities) keeps ``ECODE:<code>``.

Skipped keys: ``title``, ``header``, ``blank``, ``total`` (ENGLAND), ``subtotal`` (class rows),
``heading or footnote`` are not data rows; ``excluded: all zero`` is an authority row with no
non-zero service line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from totalplace.config import default_mirror
from totalplace.errors import InputFileError
from totalplace.ingest.base import Adapter, ParseContext, ParseResult
from totalplace.ingest.codes import MYSOCIETY_REGISTER, ecode_to_gss
from totalplace.ingest.excel import (
    Row,
    Workbook,
    cell,
    is_blank,
    is_xls,
    is_xlsx,
    open_workbook,
    raw_text,
    text,
)
from totalplace.ingest.values import normalise_financial_year, parse_amount_pence

EXCLUDED_ALL_ZERO = "excluded: all zero"
CLASSES = ("SC", "SD", "UA", "MD", "L", "O")
ECODE = re.compile(r"^E\d{4}$")
_TOTAL_COLUMN = re.compile(r"^total service expenditure", re.IGNORECASE)
_TITLE_YEAR = re.compile(r"\b(\d{4}\s*[-/]\s*\d{2,4})\b")
_UNITS = (
    (re.compile(r"£\s*(thousand|000s?|'000s?|k)\b", re.IGNORECASE), 1000, "£ thousand"),
    (re.compile(r"£\s*(million|m)\b", re.IGNORECASE), 1_000_000, "£ million"),
)
_NO_AMOUNT = {"", "-", "–", "—"}


@dataclass(frozen=True)
class _Sheet:
    """Where the data sits in the workbook and what the title rows say about it."""

    name: str
    header_no: int
    header: Row
    year: str
    unit: str
    scale: int


def _is_header(row: Row) -> bool:
    return any(text(v).casefold() == "e-code" for v in row)


def _title(row: Row) -> str:
    """A title row's text: its first cell (group headings further right are not titles)."""
    return text(cell(row, 0))


def _net_current(book: Workbook) -> tuple[str, int, Row] | None:
    """The net current expenditure sheet (a title names it) and its 'E-code' header row."""
    for name in book.sheet_names:
        titles: list[str] = []
        for number, row in book.rows(name, max_rows=30):
            if _is_header(row):
                if any(t.casefold().startswith("net current expenditure") for t in titles):
                    return name, number, row
                break
            titles.append(_title(row))
    return None


class RevenueOutturnAdapter(Adapter):
    """DCLG Revenue Outturn Summary (RS) by local authority, net current expenditure sheet."""

    name: ClassVar[str] = "revenue_outturn"
    title: ClassVar[str] = "DCLG Revenue Outturn Summary (RS) by local authority"
    target: ClassVar[str] = "ledger"
    suffixes: ClassVar[tuple[str, ...]] = (".xls", ".xlsx")

    def sniff(self, path: Path, head: bytes) -> bool:
        if not (is_xls(head) or is_xlsx(head)):
            return False
        try:
            with open_workbook(path) as book:
                return _net_current(book) is not None
        except Exception:  # sniff never raises: any unreadable file is simply not ours
            return False

    def parse(self, path: Path, context: ParseContext) -> ParseResult:
        result = ParseResult()
        with open_workbook(path) as book:
            found = _net_current(book)
            if found is None:
                raise InputFileError(
                    path,
                    "no sheet with a 'Net current expenditure' title and an 'E-code' header row",
                )
            name, header_no, header = found
            rows = list(book.rows(name))
        sheet = _describe_sheet(path, name, header_no, header, rows)
        columns = _columns(path, sheet)
        gss = _ecode_lookup(context, result)
        _parse_rows(sheet, columns, rows, gss, result)
        return result


def _describe_sheet(
    path: Path, name: str, header_no: int, header: Row, rows: list[tuple[int, Row]]
) -> _Sheet:
    titles = [_title(row) for _, row in rows[: header_no - 1]]
    found = next((m.group(1) for t in titles if (m := _TITLE_YEAR.search(t))), None)
    try:
        year = normalise_financial_year(found or "")
    except ValueError as exc:
        raise InputFileError(
            path, "the title rows name no financial year (e.g. '2010-11 data')"
        ) from exc
    units = [(scale, unit) for pattern, scale, unit in _UNITS if any(map(pattern.search, titles))]
    if not units:
        raise InputFileError(path, "the title rows state no unit (e.g. '(£ thousand)')")
    scale, unit = units[0]
    return _Sheet(name, header_no, header, year, unit, scale)


def _ecode_lookup(context: ParseContext, result: ParseResult) -> dict[str, str]:
    given = context.options.get("ecode_to_gss")
    if given is not None:
        return {str(k).strip().upper(): str(v).strip() for k, v in dict(given).items() if v}
    mirror = default_mirror()
    register = mirror / MYSOCIETY_REGISTER if mirror is not None else None
    if register is None or not register.is_file():
        result.notes.append(
            "no E-code to GSS lookup (options['ecode_to_gss'] or the mySociety register in the "
            "data mirror): every authority keeps area_code 'ECODE:<e-code>'"
        )
        return {}
    result.notes.append(f"E-codes mapped to GSS with {MYSOCIETY_REGISTER}")
    return ecode_to_gss(register)


@dataclass(frozen=True)
class Columns:
    """Where the E-code, name, class, service lines and their published total are."""

    ecode: int
    name: int
    klass: int
    total: int
    services: list[tuple[int, str]]


def _columns(path: Path, sheet: _Sheet) -> Columns:
    """Columns of E-code, name, class, the service lines (name by column) and their total."""
    keys = [text(v).casefold() for v in sheet.header]
    ecode_col = keys.index("e-code")
    try:
        name_col = keys.index("local authority")
        class_col = keys.index("class")
        total_col = next(i for i, k in enumerate(keys) if _TOTAL_COLUMN.match(k))
    except (ValueError, StopIteration) as exc:
        raise InputFileError(
            path,
            f"sheet {sheet.name!r} header row {sheet.header_no} lacks 'Local authority', "
            "'Class' or 'TOTAL SERVICE EXPENDITURE'",
        ) from exc
    services = [(i, text(sheet.header[i])) for i in range(class_col + 1, total_col) if keys[i]]
    return Columns(ecode_col, name_col, class_col, total_col, services)


def _parse_rows(
    sheet: _Sheet,
    columns: Columns,
    rows: list[tuple[int, Row]],
    gss: dict[str, str],
    result: ParseResult,
) -> None:
    ecode_col, name_col, class_col, services = (
        columns.ecode,
        columns.name,
        columns.klass,
        columns.services,
    )
    result.notes.append(
        f"RS {sheet.year}: sheet {sheet.name!r}, header on row {sheet.header_no}, amounts in "
        f"{sheet.unit}, {len(services)} service lines"
    )
    unmapped: list[str] = []
    off_total: list[int] = []  # pence by which service lines miss the published total
    records: list[dict[str, Any]] = []
    for number, row in rows:
        kind = _non_data(row, number, sheet.header_no, ecode_col, name_col, services)
        if kind is not None:
            result.skip(kind)
            continue
        result.rows_read += 1
        ecode = text(cell(row, ecode_col)).upper()
        name = text(cell(row, name_col))
        klass = text(cell(row, class_col)).upper()
        problems = []
        if not ECODE.match(ecode):
            problems.append(f"E-code {ecode!r} is not a DCLG E-code like E0101")
        if klass not in CLASSES:
            problems.append(f"class {klass!r} is not one of {', '.join(CLASSES)}")
        if not name:
            problems.append("authority name is empty")
        amounts: list[tuple[str, int]] = []
        for col, service in services:
            value = cell(row, col)
            if value is None or (isinstance(value, str) and value.strip() in _NO_AMOUNT):
                continue
            try:
                pence = parse_amount_pence(value, scale=sheet.scale)
            except ValueError as exc:
                problems.append(f"{service}: {exc}")
                continue
            if pence:
                amounts.append((service, pence))
        if problems:
            result.quarantine_row(number, "; ".join(problems), raw_text(row))
            continue
        if not amounts:
            result.skip(EXCLUDED_ALL_ZERO)
            continue
        difference = _off_total(row, columns.total, sheet.scale, amounts)
        if difference:
            off_total.append(difference)
        area = gss.get(ecode)
        if area is None:
            unmapped.append(ecode)
        common = {
            "year": sheet.year,
            "area_code": area or f"ECODE:{ecode}",
            "area_name": name,
            "area_level": "authority",
            "agency": name,
            "agency_code": ecode,
            "agency_type": agency_type(name, klass),
            "spend_kind": "current",
            "description": f"RS {sheet.year} net current expenditure",
            "row": number,
        }
        records += [{**common, "service_line": s, "amount_pence": p} for s, p in amounts]
    if unmapped:
        result.notes.append(
            f"{len(unmapped)} authorities have no GSS code in the E-code lookup and keep "
            f"area_code 'ECODE:<e-code>': {', '.join(unmapped[:8])}"
            + (", …" if len(unmapped) > 8 else "")
        )
    if off_total:
        worst = max(abs(d) for d in off_total) / 100 / sheet.scale
        result.notes.append(
            f"{len(off_total)} authorities' service lines differ from their published "
            f"TOTAL SERVICE EXPENDITURE (rounding; at most {worst:g} in {sheet.unit})"
        )
    frame = pd.DataFrame.from_records(records)
    if not frame.empty:
        frame["amount_pence"] = frame["amount_pence"].astype("int64")
        frame["row"] = frame["row"].astype("int64")
        for empty in ("function_code", "function", "subfunction", "date", "counterparty"):
            frame[empty] = None
    result.frame = frame


def _off_total(row: Row, total_col: int, scale: int, amounts: list[tuple[str, int]]) -> int:
    """Service lines' sum minus the row's published total, in pence (0 if no total)."""
    try:
        total = parse_amount_pence(cell(row, total_col), scale=scale)
    except ValueError:
        return 0
    return sum(p for _, p in amounts) - total


def agency_type(name: str, klass: str) -> str:
    """Police authorities, fire (and rescue / civil defence) authorities, other bodies, councils."""
    n = name.casefold()
    if klass == "O" and re.search(r"\bpolice\b", n):
        return "Police"
    if klass == "O" and re.search(r"\bfire\b", n):
        return "Fire and rescue"
    if klass == "O":
        return "Other local bodies"
    return "Councils"


def _non_data(
    row: Row,
    number: int,
    header_no: int,
    ecode_col: int,
    name_col: int,
    services: list[tuple[int, str]],
) -> str | None:
    """The kind of a row that is not an authority (None for data rows)."""
    if is_blank(row):
        return "blank"
    if number < header_no:
        return "title"
    if number == header_no:
        return "header"
    ecode = text(cell(row, ecode_col))
    if ECODE.match(ecode.upper()):
        return None
    numbers = any(isinstance(cell(row, c), int | float) for c, _ in services)
    if not ecode and numbers:
        label = text(cell(row, name_col)).casefold()
        return "total" if label == "england" or "total" in label else "subtotal"
    if not numbers:
        return "heading or footnote"
    return None  # a data row with a malformed E-code: read, then quarantined
