"""Reconciliation, sensitivity, drivers and table exports on the real data."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from totalplace.cli import app
from totalplace.count.reconcile import reconcile
from totalplace.count.sensitivity import sensitivity
from totalplace.export.tables import neutralise, write_table

pytestmark = pytest.mark.mirror


def test_reconciliation_puts_published_figures_beside_the_tool(workspace, mirror: Path) -> None:  # type: ignore[no-untyped-def]
    published = pd.read_csv(mirror / "total_place/total_place_published_figures.csv")
    rec = reconcile(workspace, published)
    bham = rec[(rec["scope"] == "Birmingham") & rec["measure"].str.startswith("total")].iloc[0]
    assert bham["published_gbp"] == 7_300_000_000
    direct = workspace.count("Birmingham", "2008-09").total_gbp
    assert bham["tool_gbp"] == pytest.approx(direct)
    assert bham["difference_gbp"] == pytest.approx(direct - 7_300_000_000)
    assert "Councils" in bham["breakdown"]
    # a measure with no comparable year says so rather than inventing a figure
    assert rec["tool_gbp"].isna().sum() >= 1
    assert (rec.loc[rec["tool_gbp"].isna(), "explanation"] != "").all()


def test_sensitivity_moves_divisions_but_conserves_when_drivers_agree(workspace) -> None:  # type: ignore[no-untyped-def]
    place = workspace.place("Dorset, Poole and Bournemouth")
    df = sensitivity(workspace.store, place, "2012-13")
    total = df[df["function_code"] == "TOTAL"].iloc[0]
    assert total["default_pence"] == df.loc[df["function_code"] != "TOTAL", "default_pence"].sum()
    # Dorset is old: sharing old-age spend by population instead of 65+ lowers it
    social = df[df["function_code"] == "10"].iloc[0]
    assert social["difference_pence"] < 0
    # an alternative identical to the defaults changes nothing
    same = sensitivity(workspace.store, place, "2012-13", {"10.2": "age_65_plus"})
    assert (same["difference_pence"] == 0).all()


def test_xlsx_export_neutralises_formulas_and_keeps_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"text": ["=1+1", "-cmd", "@SUM(A1)", "plain"], "amount": [-12.5, 3.0, 0.0, 7.0]}
    )
    path = write_table(frame, tmp_path / "t.xlsx", notes=["source: test"])
    wb = openpyxl.load_workbook(path)
    cells = [c for row in wb["data"].iter_rows(min_row=2) for c in row]
    assert not any(c.data_type == "f" for c in cells)
    assert wb["data"]["A2"].value == "'=1+1"
    assert wb["data"]["B2"].value == -12.5
    assert neutralise(-5) == -5 and neutralise("x") == "x"


def workspace_total(settings) -> float:  # type: ignore[no-untyped-def]
    from totalplace.workspace import Workspace

    ws = Workspace(settings)
    try:
        return ws.count("Kent", "2012-13").total_gbp
    finally:
        ws.store.close()


def test_cli_drivers_and_count_output_files(built_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = ["--workspace", str(built_settings.workspace)]
    res = CliRunner().invoke(app, ["drivers"])
    assert res.exit_code == 0 and "age_65_plus" in res.output
    res = CliRunner().invoke(app, ["drivers", "--place", "Kent", "--year", "2012-13", *ws])
    assert res.exit_code == 0 and "Total" in res.output
    out = tmp_path / "kent.xlsx"
    res = CliRunner().invoke(
        app, ["count", "--place", "Kent", "--year", "2012-13", "-o", str(out), *ws]
    )
    assert res.exit_code == 0, res.output
    df = pd.read_excel(out, sheet_name="data")
    assert df["amount_gbp"].sum() == pytest.approx(workspace_total(built_settings), abs=0.01)
    res = CliRunner().invoke(
        app, ["count", "--place", "Kent", "--year", "2012-13", "--driver", "bad", *ws]
    )
    assert res.exit_code == 1 and "FUNCTION=DRIVER" in res.output
