"""Any CSV/XLS/XLSX plus a small mapping file: for returns with no adapter of their own (NHS
bodies, police and fire authorities' accounts, one-off tables).

The mapping is YAML or TOML, passed as ``--option mapping=FILE`` or found beside the data file
as ``<stem>.mapping.yaml`` (``.yml``, ``.toml``; ``<name>.mapping.yaml`` also works)::

    columns:                      # ledger field: header text (or a list: first present wins)
      amount: Net expenditure £000
      service_line: [Service, Programme]
      description: Line
    scale: 1000                   # amounts are in £ thousand
    fixed:                        # the same value on every row
      year: 2010-11
      agency: Cumbria Police Authority
      agency_type: Police
      area_code: E23000002
      area_level: police_force_area
    body: Devon                   # optional: a council, resolved to agency + area_code
    skip_blank_amounts: true      # blank amount cells are excluded (counted), not quarantined
    unescape_formulas: true       # text written as '=... by a formula-safe export is read back
    sheet: Data                   # optional, for workbooks

``year`` may instead come from a ``year`` or ``date`` column; ``area_level`` defaults from the
GSS code's prefix. Every required ledger field must come from a column, ``fixed`` or ``body``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml

from totalplace.errors import InputFileError
from totalplace.ingest.adapters.spend import SUFFIXES, fixed_payer
from totalplace.ingest.base import Adapter, ParseContext, ParseResult
from totalplace.ingest.bodies import area_level_of
from totalplace.ingest.tabular import LedgerRows, Limits, Table, amount_pence, norm, open_table
from totalplace.ingest.values import (
    check_plausible_date,
    financial_year,
    normalise_financial_year,
    parse_date,
    plausible_years,
)

TEXT_FIELDS = (
    "area_code",
    "area_name",
    "area_level",
    "agency",
    "agency_code",
    "agency_type",
    "function_code",
    "function",
    "subfunction",
    "service_line",
    "spend_kind",
    "counterparty",
    "description",
)
FIELDS = ("year", "date", *TEXT_FIELDS, "amount_pence", "row")
REQUIRED = ("area_code", "agency", "agency_type")
MAPPING_SUFFIXES = (".mapping.yaml", ".mapping.yml", ".mapping.toml")
SKIP_BLANK = "excluded:blank amount"


#: Characters a spreadsheet treats as the start of a formula; exports prefix such text with "'".
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(text: str) -> str:
    """``'=SUM(A1)`` for ``=SUM(A1)``: text a spreadsheet would run as a formula is defused.

    Text that already looks escaped (``'=x``) gains one more ``'`` so `unescape_formula`
    always gives back exactly what was written.
    """
    return "'" + text if text.lstrip("'").startswith(FORMULA_START) else text


def unescape_formula(text: str) -> str:
    """The inverse of `escape_formula`."""
    escaped = text.startswith("'") and text.lstrip("'").startswith(FORMULA_START)
    return text[1:] if escaped else text


def read_config(path: Path) -> dict[str, Any]:
    """A small YAML or TOML file as a dict; errors name the file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise InputFileError(path, f"cannot be read as a settings file ({exc})") from exc
    if not isinstance(data, dict):
        raise InputFileError(path, "must hold key: value settings")
    return data


def find_mapping(path: Path) -> Path | None:
    """The mapping file beside ``path``, if there is one."""
    for base in (path.stem, path.name):
        for suffix in MAPPING_SUFFIXES:
            candidate = path.with_name(base + suffix)
            if candidate.is_file():
                return candidate
    return None


def load_mapping(path: Path, options: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The mapping for ``path`` (from options or beside it) and where it came from."""
    given = options.get("mapping")
    if isinstance(given, dict):
        return given, "mapping given in options"
    if given:
        candidate = Path(str(given)).expanduser()
        if not candidate.is_file() and (path.parent / candidate).is_file():
            candidate = path.parent / candidate
        if not candidate.is_file():
            raise InputFileError(path, f"mapping file {given} not found")
        return read_config(candidate), candidate.name
    found = find_mapping(path)
    if found is None:
        raise InputFileError(
            path,
            f"no mapping: pass --option mapping=FILE or put {path.stem}.mapping.yaml beside it",
        )
    return read_config(found), found.name


def _synonyms(value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    return tuple(norm(v) for v in values if v is not None and str(v).strip())


class MappedAdapter(Adapter):
    """A table read through a mapping file (columns → ledger fields, scale, fixed values)."""

    name = "mapped"
    title = "Any CSV/XLSX with a mapping file (<name>.mapping.yaml)"
    suffixes: ClassVar[tuple[str, ...]] = SUFFIXES

    def sniff(self, path: Path, head: bytes) -> bool:
        return find_mapping(path) is not None

    def parse(self, path: Path, context: ParseContext) -> ParseResult:
        mapping, origin = load_mapping(path, context.options)
        plan = Plan.build(path, mapping, origin, context.options)
        result = ParseResult(notes=[f"mapping: {origin}"])
        with open_table(
            path,
            plan.is_header,
            limits=Limits.from_options(context.options),
            sheet=mapping.get("sheet"),
            expected=f"the columns named in {origin}",
        ) as table:
            plan.read(table, result)
            table.finish(result)
        return result


class Plan:
    """A checked mapping: where each ledger field comes from."""

    def __init__(
        self,
        origin: str,
        columns: dict[str, tuple[str, ...]],
        fixed: dict[str, Any],
        scale: int,
        skip_blank: bool,
        unescape: bool = False,
        years: tuple[int, int] | None = None,
    ) -> None:
        self.origin, self.columns, self.fixed = origin, columns, fixed
        self.scale, self.skip_blank, self.unescape = scale, skip_blank, unescape
        self.years = years or plausible_years()

    @classmethod
    def build(
        cls, path: Path, mapping: dict[str, Any], origin: str, options: Mapping[str, Any]
    ) -> Plan:
        def bad(problem: str) -> InputFileError:
            return InputFileError(path, f"mapping {origin}: {problem}")

        raw_columns = mapping.get("columns") or {}
        if not isinstance(raw_columns, dict):
            raise bad("'columns' must map ledger fields to header names")
        unknown = sorted(set(raw_columns) - {"year", "date", "amount", *TEXT_FIELDS})
        if unknown:
            raise bad(f"unknown ledger field(s) {', '.join(unknown)}")
        columns = {k: _synonyms(v) for k, v in raw_columns.items() if _synonyms(v)}
        if "amount" not in columns:
            raise bad("'columns' must name the amount column ('amount: <header>')")
        fixed = {str(k): v for k, v in (mapping.get("fixed") or {}).items()}
        body = mapping.get("body") or options.get("body")
        if body and "area_code" not in columns:
            payer = fixed_payer(path, {**options, "body": body, **fixed})
            assert payer is not None
            agency, area = payer
            fixed.setdefault("agency", agency)
            fixed.setdefault("area_code", area.gss)
            fixed.setdefault("area_name", area.name)
            fixed.setdefault("agency_code", area.code)
            fixed.setdefault("agency_type", area.agency_type)
            fixed.setdefault("area_level", area.level)
        if "year" in fixed:
            try:
                fixed["year"] = normalise_financial_year(str(fixed["year"]))
            except ValueError as exc:
                raise bad(f"fixed year: {exc}") from exc
        missing = [f for f in REQUIRED if f not in columns and f not in fixed]
        if not ({"year", "date"} & set(columns)) and "year" not in fixed:
            missing.insert(0, "year")
        if missing:
            raise bad(f"no value for {', '.join(missing)} (add a column or a fixed value)")
        try:
            scale = int(mapping.get("scale", 1))
        except (TypeError, ValueError) as exc:
            raise bad(f"scale {mapping.get('scale')!r} is not a whole number") from exc
        return cls(
            origin,
            columns,
            fixed,
            scale,
            bool(mapping.get("skip_blank_amounts")),
            bool(mapping.get("unescape_formulas")),
            plausible_years(options),
        )

    def is_header(self, keys: list[str]) -> bool:
        present = set(keys)
        return all(present.intersection(names) for names in self.columns.values())

    def read(self, table: Table, result: ParseResult) -> None:
        index = {f: table.column(names) for f, names in self.columns.items()}
        i_amount = index.pop("amount")
        assert i_amount is not None
        i_year, i_date = index.pop("year", None), index.pop("date", None)
        texts = [(f, i) for f, i in index.items() if i is not None and f in TEXT_FIELDS]
        fixed = self.fixed
        out = LedgerRows(FIELDS)
        for line, cells in table.rows(result):
            raw = cells[i_amount]
            if self.skip_blank and (raw is None or not str(raw).strip()):
                result.skip(SKIP_BLANK)
                continue
            try:
                pence = amount_pence(raw, self.scale)
                year, day = self._when(cells, i_year, i_date)
            except ValueError as exc:
                table.quarantine(result, line, str(exc), cells)
                continue
            values = dict(fixed)
            for field, i in texts:
                cell = cells[i]
                text = None if cell is None else " ".join(str(cell).split()) or None
                if text is not None:
                    values[field] = unescape_formula(text) if self.unescape else text
            code = values.get("area_code")
            if not values.get("area_level") and code:
                values["area_level"] = area_level_of(str(code))
            empty = [f for f in (*REQUIRED, "area_level") if not values.get(f)]
            if empty:
                table.quarantine(result, line, f"{', '.join(empty)} is empty", cells)
                continue
            out.add((year, day, *(values.get(f) for f in TEXT_FIELDS), pence, line))
        out.into(result)

    def _when(self, cells: Any, i_year: int | None, i_date: int | None) -> tuple[str, Any]:
        raw = cells[i_date] if i_date is not None else None
        blank = raw is None or not str(raw).strip()
        # A blank date is fine when the year comes from elsewhere (a year column or fixed).
        day = (
            None
            if blank and (i_year is not None or "year" in self.fixed)
            else (check_plausible_date(parse_date(raw), self.years) if i_date is not None else None)
        )
        if i_year is not None:
            return normalise_financial_year(str(cells[i_year])), day
        if day is not None:
            return financial_year(day), day
        return str(self.fixed["year"]), None
