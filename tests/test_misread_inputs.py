"""Nothing silently mis-read (issues #17 and #15), end to end through the pipeline into the
store: misplaced thousands separators, implausible dates, an xlsx error cell without a type,
mixed UTF-8 / Windows-1252 lines, and Excel's UTF-16 "Unicode text". Each test checks what a
user would see (ledger rows, amounts, quarantine reasons) and the accounting: ledger rows +
quarantine rows = rows read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.fixtures.make_fixtures import mini_lookups
from totalplace.ingest.pipeline import FileReport, ingest_file
from totalplace.ledger.store import Store

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture()
def store(tmp_path: Path) -> Any:
    with Store(tmp_path / "s.duckdb") as s:
        yield s


def ingest(
    store: Store, name: str, **options: Any
) -> tuple[FileReport, pd.DataFrame, pd.DataFrame]:
    report = ingest_file(store, FIXTURES / name, options={**mini_lookups(), **options})
    assert report.status == "ingested", report.message
    ledger = store.query(
        "SELECT row, date, year, counterparty, amount_pence FROM ledger WHERE batch_id = ? "
        "ORDER BY row",
        [report.batch_id],
    )
    quarantine = store.query(
        "SELECT row, reason, raw FROM quarantine WHERE batch_id = ? ORDER BY row",
        [report.batch_id],
    )
    assert report.rows_read == len(ledger) + len(quarantine)
    assert (report.rows_ledger, report.rows_quarantined) == (len(ledger), len(quarantine))
    assert round(report.amount_gbp * 100) == int(ledger["amount_pence"].sum())
    return report, ledger, quarantine


def test_misplaced_thousands_separators(store: Store) -> None:
    """'1,2,3' was £123 and '1,23,4.5,6' £1,234.56; only well-formed groups are amounts."""
    _report, ledger, quarantine = ingest(store, "misplaced-thousands-separators.csv")
    assert ledger["amount_pence"].tolist() == [123456789, 123456789, -123400, -123400]
    assert quarantine["row"].tolist() == [6, 7, 8]
    assert quarantine["reason"].tolist() == [
        f"amount {text!r} has misplaced thousands separators (groups of three digits, as in "
        "1,234,567.89): not read as a number"
        for text in ("1,2,3", "1,23,4.5,6", "1.234,56")
    ]
    assert quarantine["raw"].iloc[0].endswith('T5,"1,2,3"')


def test_implausible_dates_are_quarantined(store: Store) -> None:
    """9999-12-31 became financial year '9999-00' and 01/01/1800 '1799-00'."""
    _report, ledger, quarantine = ingest(store, "date-9999.csv")
    assert ledger["year"].tolist() == ["2010-11"] and ledger["amount_pence"].tolist() == [61240]
    assert quarantine["row"].tolist() == [2, 3]
    assert all(
        "is outside the plausible range 1990-01-01 to " in r and "(options min_year, max_year)" in r
        for r in quarantine["reason"]
    )
    assert quarantine["reason"][0].startswith("date 9999-12-31 ")


def test_plausible_date_range_is_an_ingest_option(store: Store) -> None:
    _report, ledger, quarantine = ingest(store, "date-9999.csv", min_year="1700")
    assert ledger["year"].tolist() == ["1799-00", "2010-11"]  # a well-formed label
    assert quarantine["row"].tolist() == [2]  # 9999 is still after max_year


def test_xlsx_untyped_error_cell(store: Store) -> None:
    """An untyped `#DIV/0!` cell refused the whole workbook; now only its row is set aside,
    with its sheet and row named."""
    _report, ledger, quarantine = ingest(store, "xlsx-untyped-error-cell.xlsx")
    assert ledger["row"].tolist() == [2, 5]
    assert ledger["amount_pence"].tolist() == [75460, -25000]
    assert quarantine.to_dict("records") == [
        {
            "row": 3,
            "reason": "sheet 'Sheet1' row 3: amount '#DIV/0!' is an Excel error value, "
            "not a number",
            "raw": "Devon County Council | 40302 | Adult Services | Dom Care | 1ST CALL | T2 "
            "| #DIV/0!",
        },
        {
            "row": 4,
            "reason": "sheet 'Sheet1' row 4: date '#DIV/0!' is an Excel error value, not a date",
            "raw": "Devon County Council | #DIV/0! | Highways | Works | SW HIGHWAYS | T3 | 99",
        },
    ]


def test_mixed_utf8_cp1252(store: Store) -> None:
    """Decoded whole as cp1252, 'CAFÉ £' in a UTF-8 line became 'CAFÃ‰ Â£'."""
    report, ledger, quarantine = ingest(store, "mixed-utf8-cp1252.csv")
    assert ledger["counterparty"].tolist() == [
        "CAFÉ £ ROYAL",
        "O’BRIEN & SONS",
        "ŁÓDŹ BOOKS",
        "ASKEWS LTD",
    ]
    assert ledger["amount_pence"].tolist() == [10000, 123450, 1000, 500] and quarantine.empty
    assert "2 lines (2, 4) UTF-8, 1 line (3) Windows-1252 (cp1252)" in report.message


def test_utf16le_bom_tab(store: Store) -> None:
    """Excel's "Unicode text" export was refused as a binary file."""
    report, ledger, quarantine = ingest(store, "utf16le-bom-tab.txt")
    assert report.adapter == "spend"
    assert ledger["counterparty"].tolist() == ["CAFÉ ROYAL LTD", "O’BRIEN & SONS", "ASKEWS LTD"]
    assert ledger["amount_pence"].tolist() == [123450, 9999, -1000] and quarantine.empty
    assert "UTF-16 with byte-order mark" in report.message
