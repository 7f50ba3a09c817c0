"""HM Treasury Country and Regional Analysis (CRA) databases: CRA 2010 (PESA 2010 chapter 9) and
the CRA 2014 combined database.

One ledger row per input row and year with a non-zero amount, at the region (or nation) the
row gives. Only identifiable spend is kept: non-identifiable rows are counted under
``excluded: non-identifiable``. The release, and with it the unit (£ million in 2010, £ thousand
in 2014), is recognised from the header row, never from the file name.

Skipped keys: ``title``, ``header``, ``blank``, ``total``, ``footnote`` are not data rows;
``excluded: non-identifiable`` and ``excluded: no amounts`` are data rows left out on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from totalplace.errors import InputFileError
from totalplace.ingest.base import Adapter, ParseContext, ParseResult
from totalplace.ingest.codes import agency_type_for, cra_region
from totalplace.ingest.excel import Row, cell, is_blank, is_xlsx, open_workbook, raw_text, text
from totalplace.ingest.values import (
    floats_to_pence,
    normalise_financial_year,
    parse_amount_pence,
)

EXCLUDED_NON_ID = "excluded: non-identifiable"
EXCLUDED_NO_AMOUNTS = "excluded: no amounts"

#: COFOG divisions as CRA prints them (after the number).
COFOG_DIVISIONS: dict[int, str] = {
    1: "General public services",
    2: "Defence",
    3: "Public order and safety",
    4: "Economic affairs",
    5: "Environment protection",
    6: "Housing and community amenities",
    7: "Health",
    8: "Recreation, culture and religion",
    9: "Education",
    10: "Social protection",
}
#: CRA's lines outside the COFOG divisions: label -> function_code.
NON_FUNCTIONAL = {"departmental unallocated provision": "UNALLOC", "eu transactions": "EU"}
_NON_FUNCTIONAL_LABELS = {"UNALLOC": "Departmental unallocated provision", "EU": "EU transactions"}
#: Local government published as one "department".
AGENCY_NAMES = {
    "eng_la": "Local government (England)",
    "local government england": "Local government (England)",
}
LEVELS = {"CG": "CG", "LG": "LG", "LA": "LG", "PC": "PC", "BOE": "BOE"}
SPEND_KINDS = {"CUR": "current", "CAP": "capital"}


@dataclass(frozen=True)
class Layout:
    """One CRA release's database layout: which header names which field, and the unit."""

    release: str
    unit: str
    scale: int
    #: field -> header text (compared case-insensitively, whitespace collapsed)
    columns: dict[str, str]
    #: True when the subfunction column holds COFOG groups ('3.1 Police services'); False when
    #: it holds HMT's functional classification ('4. Economic affairs - of which: transport').
    cofog_subfunctions: bool
    remarks: tuple[str, ...] = ()

    def matches(self, header: Row) -> bool:
        keys = {_key(v) for v in header}
        return all(_key(h) in keys for h in self.columns.values()) and bool(_year_columns(header))


CRA_2010 = Layout(
    release="CRA 2010",
    unit="£ million",
    scale=1_000_000,
    columns={
        "agency_code": "Dept Code",
        "department": "Dept Name",
        "function": "COFOG level 1",
        "subfunction": "HMT Functional Classification",
        "description_code": "Programme Object Group",
        "description": "Programme Object Group Alias",
        "identifiable": "ID or non-ID",
        "kind": "CAP or CUR",
        "level": "CG, LG or PC",
        "region": "NUTS 1 region",
    },
    cofog_subfunctions=False,
    remarks=("CRA 2010: 2009-10 is estimated outturn and 2010-11 plans, not outturn",),
)
CRA_2014 = Layout(
    release="CRA 2014",
    unit="£ thousand",
    scale=1000,
    columns={
        "department": "Department",
        "function": "COFOG Level 0",
        "subfunction": "COFOG Level 1",
        "description": "CRA Segment Description",
        "identifiable": "ID/non-ID",
        "kind": "CAP or CUR",
        "level": "CG, LG or PC",
        "region": "NUTS Region",
    },
    cofog_subfunctions=True,
)
LAYOUTS: tuple[Layout, ...] = (CRA_2010, CRA_2014)


def _key(value: Any) -> str:
    return text(value).casefold()


def _year_columns(header: Row) -> list[tuple[int, str]]:
    """(column index, 'YYYY-YY') for every financial-year heading."""
    years = []
    for i, v in enumerate(header):
        try:
            years.append((i, normalise_financial_year(text(v))))
        except ValueError:
            continue
    return years


def _layout_of(header: Row) -> Layout | None:
    return next((layout for layout in LAYOUTS if layout.matches(header)), None)


class CraAdapter(Adapter):
    """HM Treasury Country and Regional Analysis database (CRA 2010 or CRA 2014 layout)."""

    name: ClassVar[str] = "cra"
    title: ClassVar[str] = "HM Treasury Country and Regional Analysis database (CRA 2010 / 2014)"
    target: ClassVar[str] = "ledger"
    suffixes: ClassVar[tuple[str, ...]] = (".xlsx",)

    def sniff(self, path: Path, head: bytes) -> bool:
        if not is_xlsx(head):
            return False
        try:
            with open_workbook(path) as book:
                return (
                    book.find_header(lambda r: _layout_of(r) is not None, scan_rows=10) is not None
                )
        except Exception:  # sniff never raises: any unreadable file is simply not ours
            return False

    def parse(self, path: Path, context: ParseContext) -> ParseResult:
        result = ParseResult()
        with open_workbook(path) as book:
            found = book.find_header(lambda r: _layout_of(r) is not None)
            if found is None:
                raise InputFileError(
                    path, "no CRA 2010 or CRA 2014 header row (e.g. 'Dept Code, Dept Name, …')"
                )
            sheet, header_no, header = found
            layout = _layout_of(header)
            assert layout is not None
            dept_col = [_key(v) for v in header].index(_key(layout.columns["department"]))
            data: list[tuple[int, Row]] = []
            for number, row in book.rows(sheet):
                kind = _non_data(row, number, header_no, dept_col)
                if kind is not None:
                    result.skip(kind)
                    continue
                result.rows_read += 1
                data.append((number, row))
        years = _year_columns(header)
        result.notes.append(
            f"{layout.release}: sheet {sheet!r}, header on row {header_no}, amounts in "
            f"{layout.unit}, years {years[0][1]} to {years[-1][1]}"
        )
        result.notes.extend(layout.remarks)
        result.frame = _ledger_rows(layout, header, years, data, result, context.reference_dir)
        return result


def _non_data(row: Row, number: int, header_no: int, dept_col: int) -> str | None:
    """The kind of a row that is not data ('title', 'header', 'blank', 'total', 'footnote')."""
    if number > header_no and cell(row, dept_col) not in (None, ""):
        return None  # the common case, decided cheaply
    if is_blank(row):
        return "blank"
    if number < header_no:
        return "title"
    if number == header_no:
        return "header"
    filled = [text(v) for v in row if text(v)]
    if re.match(r"^(grand\s+)?totals?\b", filled[0], re.IGNORECASE):
        return "total"
    if len(filled) == 1 and isinstance(row[0], str):
        return "footnote"
    return None


def _ledger_rows(
    layout: Layout,
    header: Row,
    years: list[tuple[int, str]],
    data: list[tuple[int, Row]],
    result: ParseResult,
    reference_dir: Path,
) -> pd.DataFrame:
    index = {_key(v): i for i, v in reversed(list(enumerate(header)))}
    cols = {f: index[_key(h)] for f, h in layout.columns.items()}
    raw = [r for _, r in data]
    columns = _transpose(raw, len(header))
    df = pd.DataFrame({f: _text_column(columns[i]) for f, i in cols.items()})
    df["row"] = np.array([n for n, _ in data], dtype="int64")

    flag = df["identifiable"].map(lambda v: re.sub(r"[^a-z]", "", v.casefold()))
    non_id = flag.eq("nonid")
    regions = {v: cra_region(v, reference_dir) for v in df["region"].unique()}
    region = df["region"].map(regions)
    level = df["level"].map(lambda v: LEVELS.get(v.upper()))
    kind = df["kind"].map(lambda v: SPEND_KINDS.get(v.upper()))
    functions = {v: _function(v) for v in df["function"].unique()}
    function = df["function"].map(functions)
    amounts, amount_problems = _amounts([(fy, columns[i]) for i, fy in years], layout.scale)

    checks: list[tuple[pd.Series, pd.Series, str]] = [
        (
            ~flag.isin(["id", "nonid"]),
            df["identifiable"],
            "ID or non-ID column holds {!r}, neither 'ID' nor 'non-ID'",
        ),
        (df["department"].eq(""), df["department"], "department is empty"),
        (region.isna(), df["region"], "region {!r} is not in data/codes/cra_regions.csv"),
        (
            level.isna(),
            df["level"],
            "'CG, LG or PC' column holds {!r} (expected CG, LG/LA, PC or BOE)",
        ),
        (kind.isna(), df["kind"], "'CAP or CUR' column holds {!r} (expected CAP or CUR)"),
        (
            function.isna(),
            df["function"],
            "function {!r} is not a COFOG division or a CRA non-functional line",
        ),
        (amount_problems.ne(""), amount_problems, "{}"),
    ]
    failed = np.logical_or.reduce([m.to_numpy(dtype=bool) for m, _, _ in checks])
    bad = pd.Series(failed, index=df.index) & ~non_id
    numbers = [n for n, _ in data]
    for i in (int(x) for x in np.flatnonzero(bad.to_numpy())):
        reason = "; ".join(t.format(v.iat[i]) for m, v, t in checks if m.iat[i])
        result.quarantine_row(numbers[i], reason, raw_text(raw[i]))
    if non_id.any():
        result.skip(EXCLUDED_NON_ID, int(non_id.sum()))

    ok = ~bad & ~non_id
    has_amount = (amounts.fillna(0) != 0).any(axis=1)
    no_amounts = ok & ~has_amount
    if no_amounts.any():
        result.skip(EXCLUDED_NO_AMOUNTS, int(no_amounts.sum()))
    keep = (ok & has_amount).to_numpy()

    out = df.loc[keep].copy()
    out["function_code"] = function[keep].map(lambda f: f[0])
    out["function"] = function[keep].map(lambda f: f[1])
    out["spend_kind"] = kind[keep]
    out["level"] = level[keep]
    reg = region[keep]
    out["area_code"] = reg.map(lambda r: r.area_code)
    out["area_name"] = reg.map(lambda r: r.area_name)
    out["area_level"] = reg.map(lambda r: r.area_level)
    _describe(out, layout)
    out["agency"] = out["department"].map(lambda d: AGENCY_NAMES.get(d.casefold(), d))
    if "agency_code" in out:
        out["agency_code"] = out["agency_code"].replace("", None)
    else:
        out["agency_code"] = None
    keys = list(zip(out["department"], out["level"], out["type_code"], strict=True))
    types = {k: agency_type_for(*k, reference_dir=reference_dir) for k in set(keys)}
    out["agency_type"] = [types[k] for k in keys]
    out["service_line"] = None

    long = amounts.loc[keep].melt(ignore_index=False, var_name="year", value_name="amount_pence")
    long = long[long["amount_pence"].notna() & long["amount_pence"].ne(0)]
    fields = [
        "agency",
        "agency_code",
        "agency_type",
        "area_code",
        "area_name",
        "area_level",
        "function_code",
        "function",
        "subfunction",
        "service_line",
        "spend_kind",
        "description",
        "row",
    ]
    frame = long.join(out[fields]).sort_values(["row", "year"], kind="stable")
    frame["amount_pence"] = frame["amount_pence"].astype("int64")
    frame["date"] = None
    frame["counterparty"] = None
    return frame.reset_index(drop=True)


def _transpose(rows: list[Row], width: int) -> list[tuple[Any, ...]]:
    """Columns of ``rows`` (each padded or cut to ``width`` cells)."""
    if not rows:
        return [() for _ in range(width)]
    padded = (r[:width] if len(r) >= width else r + (None,) * (width - len(r)) for r in rows)
    return list(zip(*padded, strict=True))


def _text_column(values: tuple[Any, ...]) -> pd.Series:
    """Cells as stripped text, converting each distinct value once."""
    series = pd.Series(values, dtype=object)
    return series.map({v: text(v) for v in series.unique()}).astype(object)


def _amounts(
    years: list[tuple[str, tuple[Any, ...]]], scale: int
) -> tuple[pd.DataFrame, pd.Series]:
    """Amounts in pence per row and year (nullable Int64), and a problem text per row."""
    n = len(years[0][1])
    problems = [""] * n
    frame = pd.DataFrame(index=range(n))
    for fy, cells in years:
        pence: list[int | None] = [None] * len(cells)
        numeric = [i for i, v in enumerate(cells) if type(v) in (float, int)]
        numeric_done: set[int] = set()
        try:
            converted = floats_to_pence([cells[i] for i in numeric], scale)
        except ValueError:  # a value too large: the cell-by-cell pass below names it
            converted = None
        if converted is not None:
            for i, p in zip(numeric, converted, strict=True):
                pence[i] = int(p)
            numeric_done = set(numeric)
        for i, v in enumerate(cells):
            if i in numeric_done or v is None or (isinstance(v, str) and not v.strip()):
                continue
            try:
                pence[i] = parse_amount_pence(v, scale=scale)
            except ValueError as exc:
                problems[i] = "; ".join(x for x in (problems[i], f"{fy}: {exc}") if x)
        frame[fy] = pd.array(pence, dtype="Int64")
    return frame, pd.Series(problems, dtype=object)


def _function(label: str) -> tuple[str, str] | None:
    """(function_code, canonical label) of a COFOG division as CRA prints it, or None."""
    m = re.match(r"^(\d{1,2})\s*\.\s*(.+)$", label)
    if m:
        n = int(m.group(1))
        name = COFOG_DIVISIONS.get(n)
        if name is not None and m.group(2).casefold() == name.casefold():
            return str(n), f"{n}. {name}"
        return None
    code = NON_FUNCTIONAL.get(label.casefold())
    return (code, _NON_FUNCTIONAL_LABELS[code]) if code else None


_SUBFUNCTION_CODE = re.compile(r"^(\d{1,2}\.[0-9A-Z]{1,2}|EU\d{2})\b")


def _describe(out: pd.DataFrame, layout: Layout) -> None:
    """Fill subfunction, the code agency-type rules match on, and description."""
    if layout.cofog_subfunctions:
        out["subfunction"] = out["subfunction"].replace("", None)
        sub_code = out["subfunction"].map(
            lambda s: m.group(1) if (m := _SUBFUNCTION_CODE.match(s or "")) else None
        )
        out["type_code"] = sub_code.where(sub_code.notna(), out["function_code"])
    else:
        out["subfunction"] = [
            None if not s or s.casefold() == f.casefold() else _of_which(s)
            for s, f in zip(out["subfunction"], out["function"], strict=True)
        ]
        out["type_code"] = out["function_code"]
        fallback = out.get("description_code")
        if fallback is not None:
            out["description"] = out["description"].where(out["description"].ne(""), fallback)
    out["description"] = out["description"].replace("", None)


def _of_which(label: str) -> str:
    """'4. Economic affairs - of which: Enterprise …' -> '… of which: enterprise …'."""
    return re.sub(r"(of which:\s*)(\w)", lambda m: m.group(1) + m.group(2).lower(), label)
