"""Real terms from HM Treasury's GDP deflator workbook layout (a hand-made workbook in that
layout: title rows, a financial-year block and a calendar-year block beside it)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from totalplace.cli import app
from totalplace.count.deflators import read_hmt_deflators, real_terms_factor
from totalplace.errors import TotalPlaceError


def _workbook(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["GDP deflators at market prices, and money GDP (hand-made test layout)"])
    ws.append([])
    ws.append(
        [
            None,
            "Financial year",
            "GDP deflator",
            "% change",
            None,
            None,
            None,
            "Calendar year",
            "GDP deflator",
        ]
    )
    for fy, idx, cy in (
        ("2009-10", 80.0, 2009),
        ("2010-11", 81.6, 2010),
        ("2011-12 (1)", 83.2, 2011),
        ("2012-13", 84.0, 2012),
    ):
        ws.append([None, fy, idx, 1.0, None, None, None, cy, idx - 1])
    ws.append(["Footnote (1): revised"])
    wb.save(path)
    return path


def test_the_financial_year_block_is_read_and_calendar_years_ignored(tmp_path: Path) -> None:
    df = read_hmt_deflators(_workbook(tmp_path / "deflators.xlsx"))
    assert list(df["year"]) == ["2009-10", "2010-11", "2011-12", "2012-13"]
    assert list(df["index"]) == [80.0, 81.6, 83.2, 84.0]
    factor, base = real_terms_factor(df, "2009-10")
    assert base == "2012-13" and factor == pytest.approx(84.0 / 80.0)
    with pytest.raises(TotalPlaceError, match="2004-05"):
        real_terms_factor(df, "2004-05")


def test_a_file_that_is_not_a_workbook_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "deflators.xlsx"
    bad.write_text("not a workbook")
    with pytest.raises(TotalPlaceError, match=r"deflators\.xlsx"):
        read_hmt_deflators(bad)


@pytest.mark.mirror
def test_counts_show_real_terms_once_deflators_are_loaded(mirror: Path, tmp_path: Path) -> None:
    from totalplace.build import build_workspace
    from totalplace.config import Settings
    from totalplace.workspace import Workspace

    settings = Settings(workspace=tmp_path / "ws", mirror=mirror)
    build_workspace(settings)
    ws = Workspace(settings)
    cash = ws.count("Croydon", "2010-11")
    assert cash.real_terms is None and any("Cash terms" in c for c in cash.caveats)
    ws.store.close()
    res = CliRunner().invoke(
        app,
        ["deflators", str(_workbook(tmp_path / "d.xlsx")), "--workspace", str(settings.workspace)],
    )
    assert res.exit_code == 0, res.output
    ws = Workspace(settings)
    real = ws.count("Croydon", "2010-11")
    assert real.real_terms is not None and real.real_terms["base_year"] == "2012-13"
    assert real.real_terms["total_gbp"] == pytest.approx(real.total_gbp * 84.0 / 81.6, rel=1e-9)
    ws.store.close()
