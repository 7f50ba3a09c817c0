"""Hostile input: XML bombs in spreadsheets, hostile strings stored and exported safely, and a
damaged workspace that says how to rebuild."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pandas as pd

from totalplace.errors import StoreError
from totalplace.export.tables import write_table
from totalplace.ingest.pipeline import ingest_file
from totalplace.ledger.store import Store

BILLION_LAUGHS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row></sheetData></worksheet>"""

HOSTILE = [
    "<script>alert('x')</script>",
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\u202eevil.exe\u202c right-to-left override",
    "bell\x07 and escape\x1b[31m",
    "x" * 5000,
]


def _xml_bomb_xlsx(path: Path) -> Path:
    wb = openpyxl.Workbook()
    wb.active.append(["Date", "Amount", "Supplier Name"])
    wb.save(path)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["xl/worksheets/sheet1.xml"] = BILLION_LAUGHS.encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_an_xml_bomb_in_a_spreadsheet_is_one_clear_error(tmp_path: Path) -> None:
    path = _xml_bomb_xlsx(tmp_path / "xml-bomb.xlsx")
    with Store(tmp_path / "s.duckdb") as store:
        report = ingest_file(store, path, adapter="spend")
        assert report.status == "error"
        assert report.message.startswith("xml-bomb.xlsx")
        assert int(store.query("SELECT count(*) AS n FROM ledger")["n"].iloc[0]) == 0


def test_hostile_strings_are_stored_unchanged_and_exported_inert(tmp_path: Path) -> None:
    csv = tmp_path / "hostile.csv"
    frame = pd.DataFrame(
        {
            "Body Name": "Devon County Council",
            "Date": "04/05/2010",
            "Expense Area": HOSTILE,
            "Supplier Name": list(reversed(HOSTILE)),
            "Transaction Number": [f"T{i}" for i in range(len(HOSTILE))],
            "Amount": ["10.00"] * len(HOSTILE),
        }
    )
    frame.to_csv(csv, index=False)
    with Store(tmp_path / "s.duckdb") as store:
        report = ingest_file(store, csv, adapter="spend", options={"body": "Devon County Council"})
        assert report.status == "ingested", report.message
        stored = store.query("SELECT service_line, counterparty FROM ledger ORDER BY row")
    assert list(stored["service_line"]) == HOSTILE  # kept exactly, never executed
    out = write_table(stored, tmp_path / "out.xlsx")
    wb = openpyxl.load_workbook(out)
    cells = [c for row in wb["data"].iter_rows(min_row=2) for c in row]
    assert not any(c.data_type == "f" for c in cells)
    assert all(not str(c.value).startswith(("=", "+", "@")) for c in cells)


def test_a_damaged_store_says_how_to_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "totalplace.duckdb"
    path.write_bytes(b"this is not a database" * 100)
    try:
        Store(path).con  # noqa: B018 - opening is the test
    except StoreError as exc:
        assert "totalplace build --rebuild" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a damaged store opened without complaint")


def test_serve_refuses_a_damaged_workshop_database(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from totalplace.cli import app

    with Store(tmp_path / "totalplace.duckdb") as store:
        store.init_schema()
    (tmp_path / "workshop.db").write_bytes(b"not a sqlite database" * 200)
    res = CliRunner().invoke(app, ["serve", "--workspace", str(tmp_path), "--port", "1"])
    assert res.exit_code == 1
    assert "workshop database" in res.output
