"""Transaction-level spend files: councils' "spending over £500" and central government's
"over £25,000" (HM Treasury's layout: Departmental Family, Entity, Date, Expense Type, Expense
Area, Supplier, Transaction Number, Amount), as CSV, XLS or XLSX.

Columns are found by header synonyms, so each council's own headings work (``Amount`` /
``Net Amount`` / ``SumOfNet Amt``; ``Date`` / ``PymtDate`` / ``Invoice Payment Date``...).
One ledger row per transaction: year = financial year of the date; area = the paying body's GSS
code (``area_level`` 'authority'); service_line = expense area; description = expense type (or
the file's own name for it: ``Subj Description``, ``G/L Description``, ``Purpose``...).
When a file publishes several amounts (gross, VAT, net) the net one is taken, and the batch
notes say so. The paying body comes from ``--option body=…`` or the file's body columns (a
name, GSS code or an old code such as Devon's ``18``; Salford's ``Authority Name``); a body
that resolves to no council quarantines its rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from totalplace.errors import InputFileError
from totalplace.ingest.base import Adapter, ParseContext, ParseResult
from totalplace.ingest.bodies import Bodies, Body, area_level_of, central_agency_type
from totalplace.ingest.tabular import (
    LedgerRows,
    Limits,
    Table,
    amount_pence,
    open_table,
    sniff_header,
)
from totalplace.ingest.values import (
    check_plausible_date,
    financial_year,
    parse_date,
    plausible_years,
)

SUFFIXES = (".csv", ".txt", ".tsv", ".xls", ".xlsx")

#: Header synonyms (normalised: lower case, punctuation as spaces), preferred first.
AMOUNT = (
    "net amount",
    "invoice nett amount",
    "invoice net amount",
    "sumofnet amt",
    "net amt",
    "nett amount",
    "net value",
    "net",
    "amount",
    "amount gbp",
    "amount excl vat",
    "transaction amount",
    "payment amount",
    "amount paid",
    "value",
    "line amount",
    "gross amount",
    "sumofgross amt",
    "gross",
)
#: VAT columns: never the amount, but named when the report says which amount was taken.
VAT = ("vat", "vat amount", "vat amt", "sumofvatamt", "non recoverable vat", "irrecoverable vat")
DATE = (
    "date",
    "payment date",
    "invoice payment date",
    "date of payment",
    "pymtdate",
    "transaction date",
    "paid date",
    "date paid",
    "payment run date",
    "posting date",
    "invoice date",
    "invoice creation date",
    "clearing date",
    "effective date",
)
SUPPLIER = (
    "supplier name",
    "supplier",
    "vendor",
    "vendor name",
    "enentity name",
    "paid to",
    "payee",
    "payee name",
    "merchant name",
    "creditor name",
    "beneficiary",
    "supplier details",
)
AREA = (
    "expense area",
    "service area",
    "service label",
    "service",
    "spending area",
    "directorate",
    "department",
    "service division",
    "portfolio",
    "cost centre description",
    "service expense area",
    "description",
)
#: What was bought, preferred first: the transparency code's expense type, then the
#: finance system's own account names (subjective, general ledger), then free text.
TYPE = (
    "expense type",
    "expenses type",
    "expenditure category",
    "element description",
    "account description",
    "accountdescription",
    "expense description",
    "expenditure type",
    "subjective description",
    "subj description",
    "subjective name",
    "subjective",
    "g l description",
    "gl description",
    "general ledger description",
    "ledger description",
    "spend type",
    "spend category",
    "expense category",
    "category",
    "purpose of expenditure",
    "purpose",
    "expenditure description",
    "description",
)
BODY_NAME = (
    "name of body",
    "body name",
    "organisation name",
    "authority name",
    "local authority name",
    "council name",
    "paid by",
    "council",
    "local authority",
    "authority",
    "organisation",
)
BODY_CODE = ("body", "body code", "organisation code", "la code", "gss code", "ons code")
CENTRAL_FAMILY = ("departmental family",)
CENTRAL_ENTITY = ("entity",)
SOURCE = ("source", "source file")


def is_spend_header(keys: list[str]) -> bool:
    """An amount, a date and a supplier column (any synonym of each)."""
    present = set(keys)
    return bool(
        present.intersection(AMOUNT)
        and present.intersection(DATE)
        and present.intersection(SUPPLIER)
    )


class SpendAdapter(Adapter):
    """Transaction-level spend (over £500 / £25k) in any council's or HM Treasury's layout."""

    name = "spend"
    title = "Spend over £500 / £25k (transactions; CSV, XLS, XLSX)"
    suffixes: ClassVar[tuple[str, ...]] = SUFFIXES

    def sniff(self, path: Path, head: bytes) -> bool:
        return sniff_header(path, head, is_spend_header)

    def parse(self, path: Path, context: ParseContext) -> ParseResult:
        result = ParseResult()
        limits = Limits.from_options(context.options)
        with open_table(
            path,
            is_spend_header,
            limits=limits,
            sheet=context.options.get("sheet"),
            expected="amount, date and supplier columns",
        ) as table:
            payer = Payer.for_table(table, context.options)
            _read_rows(table, result, payer, plausible_years(context.options))
            table.finish(result)
            if note := amount_note(table):
                result.notes.append(note)
            result.notes.extend(payer.notes)
        return result


def amount_note(table: Table) -> str | None:
    """Which amount column was taken when the file offers several (``amount: Net (of Gross,
    VAT, Net)``), for the batch notes and the ingest report; None when there is one."""
    offered = [h for h, k in zip(table.header, table.keys, strict=True) if k in AMOUNT or k in VAT]
    i_amount = table.column(AMOUNT)
    if len(offered) < 2 or i_amount is None:
        return None
    return f"amount: {table.header[i_amount]} (of {', '.join(offered)})"


def _read_rows(table: Table, result: ParseResult, payer: Payer, years: tuple[int, int]) -> None:
    col = table.column
    i_amount, i_date, i_supplier = col(AMOUNT), col(DATE), col(SUPPLIER)
    assert i_amount is not None and i_date is not None and i_supplier is not None
    # a column both lists name (``Description``) is the description; the area takes another
    i_type, i_source = col(TYPE), col(SOURCE)
    i_area = col(AREA, taken=(i_type,))
    out = LedgerRows()
    add = out.add
    dates: dict[Any, tuple[dt.date, str]] = {}
    body_of = payer.body_of
    for line, cells in table.rows(result):
        try:
            pence = amount_pence(cells[i_amount])
        except ValueError as exc:
            table.quarantine(result, line, str(exc), cells)
            continue
        raw_date = cells[i_date]
        when = dates.get(raw_date)
        if when is None:
            try:
                day = check_plausible_date(parse_date(raw_date), years)
            except ValueError as exc:
                table.quarantine(result, line, str(exc), cells)
                continue
            when = dates[raw_date] = (day, financial_year(day))
        try:
            agency, body = body_of(cells, when[0])
        except ValueError as exc:
            table.quarantine(result, line, str(exc), cells)
            continue
        kind = _text(cells[i_type]) if i_type is not None else None
        area = _text(cells[i_area]) if i_area is not None else kind
        if i_source is not None and (src := _text(cells[i_source])):
            kind = f"{kind} [source: {src}]" if kind else f"[source: {src}]"
        add(
            (
                when[1],
                when[0],
                body.gss,
                body.name,
                body.level,
                agency,
                body.code,
                body.agency_type,
                None,
                area,
                _text(cells[i_supplier]),
                kind,
                pence,
                line,
            )
        )
    out.into(result)


def _text(value: Any) -> str | None:
    if type(value) is str:
        return " ".join(value.split()) or None
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(str(value).split())
    return text or None


class Area:
    """Where and who: the ledger's area and agency columns for one paying body."""

    __slots__ = ("agency_type", "code", "gss", "level", "name")

    def __init__(
        self, gss: str, name: str | None, level: str, code: str | None, agency_type: str
    ) -> None:
        self.gss, self.name, self.level = gss, name, level
        self.code, self.agency_type = code, agency_type

    @classmethod
    def of(cls, body: Body, level: str = "authority") -> Area:
        return cls(body.gss, body.area_name, level, body.gss, body.agency_type)


class Payer:
    """Works out the paying body of each row: from options, the body columns, or (central
    government) the Entity column. Resolution is cached per distinct value."""

    def __init__(
        self,
        body_of: Callable[[Any, dt.date], tuple[str, Area]],
        notes: list[str],
        seen: dict[str, str] | None = None,
    ) -> None:
        self.body_of = body_of
        self._notes = notes
        self.seen: dict[str, str] = {} if seen is None else seen

    @property
    def notes(self) -> list[str]:
        """What was decided about paying bodies, for the batch record."""
        return self._notes + [f"paying body {k!r} → {v}" for k, v in sorted(self.seen.items())]

    @classmethod
    def for_table(cls, table: Table, options: Mapping[str, Any]) -> Payer:
        fixed = fixed_payer(table.path, options)
        if fixed is not None:
            agency, area = fixed
            return cls(
                lambda _cells, _day: (agency, area),
                [f"paying body (from options): {agency} → {area.gss}"],
            )
        family, entity = table.column(CENTRAL_FAMILY), table.column(CENTRAL_ENTITY)
        if family is not None:
            return _central(entity if entity is not None else family, options)
        i_name, i_code = table.column(BODY_NAME), table.column(BODY_CODE)
        if i_name is None and i_code is None:
            raise InputFileError(
                table.path,
                "the file names no paying body: pass --option body=NAME "
                "(a council name or GSS code), or --option area_code=GSS with "
                "--option agency=NAME and --option agency_type=TYPE",
            )
        return _from_columns(table.path, i_name, i_code, Bodies.from_options(options))


def fixed_payer(path: Path, options: Mapping[str, Any]) -> tuple[str, Area] | None:
    """The paying body given in options (``body``; or ``area_code`` + ``agency``), if any."""
    body_text = options.get("body")
    area_code = options.get("area_code")
    agency_type = options.get("agency_type")
    if area_code:
        code = str(area_code).strip()
        level = options.get("area_level") or "authority"
        agency = str(options.get("agency") or body_text or "")
        if not agency:
            raise InputFileError(path, "--option area_code needs --option agency=NAME too")
        return agency, Area(code, None, str(level), code, str(agency_type or "Councils"))
    if not body_text:
        return None
    bodies = Bodies.from_options(options)
    body = bodies.resolve(body_text)
    if body is None:
        raise InputFileError(
            path,
            f"paying body {body_text!r} is not a council this tool knows (try its GSS "
            "code, or --option area_code=GSS --option agency=NAME)",
        )
    area = Area.of(body, str(options.get("area_level") or "authority"))
    if agency_type:
        area.agency_type = str(agency_type)
    return str(options.get("agency") or body.name), area


def _from_columns(path: Path, i_name: int | None, i_code: int | None, bodies: Bodies) -> Payer:
    cache: dict[tuple[Any, Any, int], tuple[str, Area]] = {}
    seen: dict[str, str] = {}

    def body_of(cells: Any, day: dt.date) -> tuple[str, Area]:
        name = cells[i_name] if i_name is not None else None
        code = cells[i_code] if i_code is not None else None
        key = (name, code, day.year)
        hit = cache.get(key)
        if hit is not None:
            return hit
        body = None
        for candidate in (code, name):
            if candidate is not None and str(candidate).strip():
                body = bodies.resolve(candidate, day)
                if body is not None:
                    break
        if body is None:
            shown = " / ".join(repr(_text(v)) for v in (code, name) if _text(v))
            raise ValueError(
                f"paying body {shown or '(blank)'} is not a council this tool knows "
                "(pass --option body=NAME or --option area_code=GSS)"
            )
        hit = cache[key] = (_text(name) or body.name, Area.of(body))
        seen.setdefault(" / ".join(t for v in (code, name) if (t := _text(v))), body.gss)
        return hit

    return Payer(body_of, [], seen)


def _central(i_entity: int, options: Mapping[str, Any]) -> Payer:
    code = str(options.get("area_code") or "E92000001")
    level = str(options.get("area_level") or area_level_of(code) or "nation")
    fixed_type = options.get("agency_type")
    cache: dict[Any, tuple[str, Area]] = {}

    def body_of(cells: Any, _day: dt.date) -> tuple[str, Area]:
        raw = cells[i_entity]
        hit = cache.get(raw)
        if hit is None:
            agency = _text(raw)
            if not agency:
                raise ValueError("the paying entity is blank")
            kind = str(fixed_type) if fixed_type else central_agency_type(agency)
            hit = cache[raw] = (agency, Area(code, None, level, None, kind))
        return hit

    return Payer(
        body_of,
        [
            f"central government file: amounts recorded at {level} level ({code}); "
            "--option area_code=GSS changes that"
        ],
    )
