"""Supplier-total files: a council's spend for a period summed by supplier, with no dates.

Lambeth published months as ``Supplier Name,Sum of Invoice Nett Amount``. The file itself says
neither which council paid nor which period it covers, so both must be given, as options
(``--option year=2010-11 --option body=Lambeth``, or ``--option period=2011-01`` for a month) or
in a sidecar ``<file stem>.meta.yaml`` / ``.meta.toml`` with the same keys. Without them the
file is refused with a message saying so, rather than guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, ClassVar

from totalplace.errors import InputFileError
from totalplace.ingest.adapters.mapped import read_config
from totalplace.ingest.adapters.spend import DATE as DATE_HEADERS
from totalplace.ingest.adapters.spend import SUFFIXES, SUPPLIER, fixed_payer
from totalplace.ingest.base import Adapter, ParseContext, ParseResult
from totalplace.ingest.tabular import LedgerRows, Limits, amount_pence, open_table, sniff_header
from totalplace.ingest.values import financial_year, normalise_financial_year

TOTAL_AMOUNT = (
    "sum of invoice nett amount",
    "sum of invoice net amount",
    "sum of net amount",
    "sum of amount",
    "sum of net",
    "total amount",
    "total spend",
    "total net amount",
    "net amount",
    "invoice nett amount",
    "amount",
    "total",
    "value",
    "spend",
)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def is_supplier_total_header(keys: list[str]) -> bool:
    """A supplier and an amount column, and no date column (those are transaction files)."""
    present = set(keys)
    return bool(
        present.intersection(SUPPLIER)
        and present.intersection(TOTAL_AMOUNT)
        and not present.intersection(DATE_HEADERS)
    )


def period_year(year: object, period: object) -> tuple[str, str]:
    """The financial year and a label for the period: ``year`` ('2010-11') wins; else a month
    ``period`` ('2011-01') gives its financial year. Raises ValueError."""
    if year not in (None, ""):
        fy = normalise_financial_year(str(year))
        return fy, str(period or fy)
    month = _MONTH.match(str(period or "").strip())
    if not month or not 1 <= int(month.group(2)) <= 12:
        raise ValueError(f"period {period!r} is not a month like 2011-01")
    return financial_year(dt.date(int(month.group(1)), int(month.group(2)), 1)), month.group(0)


def sidecar_options(path: Path) -> dict[str, Any]:
    """Options from ``<stem>.meta.yaml``/``.yml``/``.toml`` beside the file, if there is one."""
    for suffix in (".meta.yaml", ".meta.yml", ".meta.toml"):
        candidate = path.with_name(path.stem + suffix)
        if candidate.is_file():
            return read_config(candidate)
    return {}


class SupplierTotalsAdapter(Adapter):
    """Spend summed by supplier for one council and period (no transaction dates)."""

    name = "supplier_totals"
    title = "Supplier totals for a period (Supplier Name, Sum of Invoice Nett Amount)"
    suffixes: ClassVar[tuple[str, ...]] = SUFFIXES

    def sniff(self, path: Path, head: bytes) -> bool:
        return sniff_header(path, head, is_supplier_total_header)

    def parse(self, path: Path, context: ParseContext) -> ParseResult:
        options = {**sidecar_options(path), **context.options}
        has_period = options.get("year") or options.get("period")
        if not has_period or not (options.get("body") or options.get("area_code")):
            raise InputFileError(
                path,
                "a supplier-total file gives no period or paying body: pass both, e.g. "
                "--option year=2010-11 --option body=Lambeth (or a <name>.meta.yaml beside it)",
            )
        try:
            year, label = period_year(options.get("year"), options.get("period"))
        except ValueError as exc:
            raise InputFileError(path, f"options year/period: {exc}") from exc
        payer = fixed_payer(path, options)
        assert payer is not None
        agency, area = payer
        result = ParseResult()
        what = f"supplier total for {label}"
        with open_table(
            path,
            is_supplier_total_header,
            limits=Limits.from_options(options),
            expected="supplier and amount columns",
        ) as table:
            i_supplier, i_amount = table.column(SUPPLIER), table.column(TOTAL_AMOUNT)
            assert i_supplier is not None and i_amount is not None
            out = LedgerRows()
            for line, cells in table.rows(result):
                try:
                    pence = amount_pence(cells[i_amount])
                except ValueError as exc:
                    table.quarantine(result, line, str(exc), cells)
                    continue
                supplier = " ".join(str(cells[i_supplier] or "").split()) or None
                out.add(
                    (
                        year,
                        None,
                        area.gss,
                        area.name,
                        area.level,
                        agency,
                        area.code,
                        area.agency_type,
                        None,
                        None,
                        supplier,
                        what,
                        pence,
                        line,
                    )
                )
            out.into(result)
            table.finish(result)
        result.notes.append(f"period {label} and paying body {agency} ({area.gss}) from options")
        return result
