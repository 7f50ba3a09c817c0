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
