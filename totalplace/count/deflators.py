"""Real terms with HM Treasury's GDP deflators ("GDP deflators at market prices, and money GDP",
published quarterly on gov.uk as an .xlsx).

The workbook's financial-year block has the year in one column ('2009-10') and the deflator
index in the next numeric cell to its right. `read_hmt_deflators` reads that layout; the
series is then kept in the store (`totalplace deflators FILE.xlsx`), with the file name as its
vintage. Without it, counts are in cash terms and say so.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from totalplace.errors import TotalPlaceError

_FY = re.compile(r"^\s*(\d{4})\s*[-/]\s*(\d{2})\b")
PUBLISHER_PAGE = (
    "https://www.gov.uk/government/collections/gdp-deflators-at-market-prices-and-money-gdp"
)


def read_hmt_deflators(path: Path) -> pd.DataFrame:
    """``year, index`` for every financial year in an HM Treasury GDP deflator workbook."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a non-workbook
        raise TotalPlaceError(f"{path.name}: not an .xlsx workbook ({exc})") from exc
    found: dict[str, float] = {}
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            cells = list(row)
            for i, cell in enumerate(cells):
                m = _FY.match(str(cell)) if isinstance(cell, str) else None
                if not m or int(m.group(2)) != (int(m.group(1)) + 1) % 100:
                    continue
                value = next((c for c in cells[i + 1 :] if isinstance(c, int | float)), None)
                year = f"{m.group(1)}-{m.group(2)}"
                if value is not None and year not in found:
                    found[year] = float(value)
                break
    book.close()
    if not found:
        raise TotalPlaceError(
            f"{path.name}: no financial-year deflator rows (like '2009-10' "
            "followed by an index) found"
        )
    return pd.DataFrame(sorted(found.items()), columns=["year", "index"])


def real_terms_factor(
    deflators: pd.DataFrame, year: str, base: str | None = None
) -> tuple[float, str]:
    """Multiply ``year``'s cash by the factor to express it in ``base``-year prices (default:
    the latest year in the series). Raises if either year is missing."""
    series = dict(zip(deflators["year"], deflators["index"], strict=True))
    base_year = base or max(series)
    if year not in series or base_year not in series:
        raise TotalPlaceError(f"no GDP deflator for {year if year not in series else base_year}")
    return series[base_year] / series[year], base_year
