"""ONS mid-year population estimates by area and single year of age (wide CSV).

Layout: ``ltla19_code, ltla19_name, total_population, 0, 1, …, 89, 90+`` (also ``utla19_…``,
``ltla20_…``, ``lad19_…``). The mid-year comes from the code column's prefix (ltla19 -> 2019).
Output rows go to the store's ``population`` table, one per area and age (90 = 90 and over):
``area_code, area_name, mid_year, age, persons, row``. A row whose ages do not add up to its
total is quarantined with both numbers.

Skipped keys: ``title``, ``header``, ``blank``, ``total`` are not data rows (this adapter
excludes no data rows on purpose).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import ClassVar

import pandas as pd

from totalplace.errors import InputFileError
from totalplace.ingest.base import Adapter, ParseContext, ParseResult

POPULATION_COLUMNS = ("area_code", "area_name", "mid_year", "age", "persons", "row")
MAX_AGE = 90
_CODE_COLUMN = re.compile(r"^(?:ltla|utla|lad)(\d{2})_?(?:code|cd)$", re.IGNORECASE)
_AGE = re.compile(r"^(\d{1,3})(\+)?$")
_ENCODINGS = ("utf-8-sig", "cp1252")


def _decode(data: bytes) -> str:
    for encoding in _ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")  # pragma: no cover - cp1252 leaves only 5 bytes undefined


def _is_header(cells: list[str]) -> bool:
    return (
        len(cells) > 3
        and bool(_CODE_COLUMN.match(cells[0].strip()))
        and "total_population" in {c.strip().casefold() for c in cells}
    )


def _counts(
    cells: list[str], columns: list[tuple[str, int]], problems: list[str]
) -> list[int] | None:
    """Whole, non-negative counts from ``columns``; None (reasons added) if any is not one."""
    out: list[int] = []
    for label, i in columns:
        s = cells[i].strip().replace(",", "")
        if re.fullmatch(r"\d+(\.0*)?", s):
            out.append(int(s.split(".")[0]))
        else:
            problems.append(f"{label}: {cells[i].strip()!r} is not a whole number of persons")
    return None if problems else out


class OnsPopulationAdapter(Adapter):
    """ONS mid-year estimates: persons by local authority and single year of age."""

    name: ClassVar[str] = "ons_population"
    title: ClassVar[str] = "ONS mid-year population estimates by area and single year of age"
    target: ClassVar[str] = "population"
    suffixes: ClassVar[tuple[str, ...]] = (".csv",)

    def sniff(self, path: Path, head: bytes) -> bool:
        try:
            lines = _decode(head).splitlines()[:10]
            return any(_is_header(next(csv.reader([line]), [])) for line in lines)
        except Exception:  # sniff never raises
            return False

    def parse(self, path: Path, context: ParseContext) -> ParseResult:
        result = ParseResult()
        try:
            content = _decode(path.read_bytes())
        except OSError as exc:
            raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from exc
        try:
            records = _records(content)
        except csv.Error as exc:
            raise InputFileError(path, f"is not a readable CSV file ({exc})") from exc
        header_at = next((i for i, (_, cells) in enumerate(records) if _is_header(cells)), None)
        if header_at is None:
            raise InputFileError(path, "no header like 'ltla19_code,ltla19_name,total_population'")
        line, header = records[header_at]
        mid_year, total_col, ages = _layout(path, line, header)
        labelled_ages = [(f"age {header[i].strip()}", i) for i in ages]
        for _, cells in records[:header_at]:
            result.skip("blank" if not any(c.strip() for c in cells) else "title")
        result.skip("header")

        good: list[tuple[int, str, str, list[int]]] = []
        for line_no, cells in records[header_at + 1 :]:
            if not any(c.strip() for c in cells):
                result.skip("blank")
                continue
            if not cells[0].strip() and re.search(r"\btotal\b", ",".join(cells), re.IGNORECASE):
                result.skip("total")
                continue
            result.rows_read += 1
            raw = ",".join(cells)
            if len(cells) != len(header):
                result.quarantine_row(
                    line_no, f"has {len(cells)} fields but the header has {len(header)}", raw
                )
                continue
            code, name = cells[0].strip(), cells[1].strip()
            problems = [] if code else ["area code is empty"]
            values = _counts(cells, [("total_population", total_col), *labelled_ages], problems)
            if values is None:
                result.quarantine_row(line_no, "; ".join(problems), raw)
                continue
            total, persons = values[0], values[1:]
            if sum(persons) != total:
                problems.append(
                    f"ages 0-{MAX_AGE}+ add up to {sum(persons):,} "
                    f"but total_population is {total:,}"
                )
            if problems:
                result.quarantine_row(line_no, "; ".join(problems), raw)
                continue
            good.append((line_no, code, name, persons))

        result.notes.append(f"mid-{mid_year} estimates, {len(ages)} ages (90 = 90 and over)")
        result.frame = _long(good, mid_year)
        return result


def _records(content: str) -> list[tuple[int, list[str]]]:
    """CSV records with the line each starts on (quoted fields may span lines)."""
    reader = csv.reader(io.StringIO(content, newline=""))
    out: list[tuple[int, list[str]]] = []
    start = 1
    for cells in reader:
        out.append((start, cells))
        start = reader.line_num + 1
    return out


def _layout(path: Path, line: int, header: list[str]) -> tuple[int, int, list[int]]:
    """(mid-year, column of total_population, columns of ages 0..90+ in age order)."""
    m = _CODE_COLUMN.match(header[0].strip())
    assert m is not None
    yy = int(m.group(1))
    mid_year = 2000 + yy if yy < 70 else 1900 + yy
    keys = [h.strip().casefold() for h in header]
    total_col = keys.index("total_population")
    by_age: dict[int, int] = {}
    for i, key in enumerate(keys):
        a = _AGE.match(key)
        if a:
            by_age[int(a.group(1))] = i
    if sorted(by_age) != list(range(MAX_AGE + 1)):
        raise InputFileError(path, f"header (line {line}) lacks single-year ages 0 to 90+", line)
    return mid_year, total_col, [by_age[a] for a in range(MAX_AGE + 1)]


def _long(good: list[tuple[int, str, str, list[int]]], mid_year: int) -> pd.DataFrame:
    """One row per area and age."""
    n = MAX_AGE + 1
    frame = pd.DataFrame(
        {
            "area_code": [code for _, code, _, _ in good for _ in range(n)],
            "area_name": [name for _, _, name, _ in good for _ in range(n)],
            "mid_year": pd.Series([mid_year] * (n * len(good)), dtype="int64"),
            "age": pd.Series(list(range(n)) * len(good), dtype="int64"),
            "persons": pd.Series([p for *_, ps in good for p in ps], dtype="int64"),
            "row": pd.Series([line for line, *_ in good for _ in range(n)], dtype="int64"),
        },
        columns=list(POPULATION_COLUMNS),
    )
    return frame
