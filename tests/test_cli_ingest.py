"""`totalplace ingest`: per-file JSON report, options, a bad file among good ones, quarantine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from totalplace.cli import app

FIX = Path(__file__).parent / "fixtures"


@pytest.mark.mirror
def test_ingest_reports_every_file_and_goes_on_past_a_bad_one(mirror: Path, tmp_path: Path) -> None:
    files = [
        FIX / "too-few-fields.csv",
        FIX / "unknown-layout.csv",
        FIX / "supplier-totals-no-period.csv",
    ]
    res = CliRunner().invoke(
        app,
        [
            "ingest",
            "-w",
            str(tmp_path),
            *map(str, files),
            "--option",
            "year=2010-11",
            "--option",
            "body=Lambeth",
            "--report",
            "json",
        ],
    )
    assert res.exit_code == 1  # one file could not be used
    reports = {r["file"]: r for r in json.loads(res.stdout)}
    assert set(reports) == {f.name for f in files}
    assert reports["unknown-layout.csv"]["status"] == "error"
    assert "unknown-layout.csv" in reports["unknown-layout.csv"]["message"]
    few = reports["too-few-fields.csv"]
    assert few["status"] == "ingested" and few["rows_quarantined"] >= 1
    assert few["rows_read"] == few["rows_ledger"] + few["rows_quarantined"]
    totals = reports["supplier-totals-no-period.csv"]
    assert totals["status"] == "ingested" and totals["rows_ledger"] > 0
    assert {"file", "adapter", "rows_read", "rows_ledger", "rows_quarantined", "amount_gbp"} <= set(
        few
    )
    listing = CliRunner().invoke(app, ["quarantine", "-w", str(tmp_path)])
    assert listing.exit_code == 0 and "too-few-fields.csv" in listing.output


def test_bad_option_syntax_is_refused(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app, ["ingest", "-w", str(tmp_path), str(FIX / "empty.csv"), "--option", "novalue"]
    )
    assert res.exit_code == 1 and "KEY=VALUE" in res.output


OPTIONS = ["--option", "year=2010-11", "--option", "body=Lambeth"]


@pytest.mark.mirror
def test_ingest_says_precomputed_figures_are_out_of_date(mirror: Path, tmp_path: Path) -> None:
    def ingest(name: str) -> str:
        res = CliRunner().invoke(
            app,
            ["ingest", "-w", str(tmp_path), str(FIX / name), *OPTIONS],
        )
        return " ".join(res.output.split())  # rich wraps long lines

    assert "precomputed" not in ingest("too-few-fields.csv")  # no results kept: nothing to say
    (tmp_path / "results").mkdir()
    assert "precomputed are from before this ingest" in ingest("supplier-totals-no-period.csv")


@pytest.mark.mirror
def test_salford_layout_ingests_without_options_and_says_what_it_took(
    mirror: Path, tmp_path: Path
) -> None:
    """Body from `Authority Name` (resolved with the mirror's council register), the Net amount
    of Gross/VAT/Net, the Total row and the junk line after it reported as not data."""
    from totalplace.ledger.store import Store

    path = FIX / "salford-layout-authority-name.csv"
    res = CliRunner().invoke(app, ["ingest", "-w", str(tmp_path), str(path), "--report", "json"])
    assert res.exit_code == 0, res.output
    (report,) = json.loads(res.stdout)
    assert report["status"] == "ingested"
    assert report["rows_read"] == report["rows_ledger"] + report["rows_quarantined"] == 3
    assert report["rows_quarantined"] == 0 and report["amount_gbp"] == 2000.0
    assert report["skipped"] == {"total": 1, "footer": 1}
    assert "amount: Net (of Gross, VAT, Net)" in report["notes"]
    assert "paying body 'Salford City Council' → E08000006" in report["notes"]
    with Store(tmp_path / "totalplace.duckdb", read_only=True) as store:
        ledger = store.query("SELECT area_code, description, amount_pence FROM ledger ORDER BY row")
    assert set(ledger["area_code"]) == {"E08000006"}
    assert ledger["amount_pence"].tolist() == [100000, 150000, -50000]
    assert ledger["description"].tolist()[1] == "Highways Maintenance"
    table = CliRunner().invoke(app, ["ingest", "-w", str(tmp_path), str(path), "--force"])
    said = " ".join(table.output.split())
    assert table.exit_code == 0 and "amount: Net (of Gross, VAT, Net)" in said
    assert "rows that are not data: 1 footer, 1 total" in said
