"""Bottom-up over top-down: an agency's own return replaces the apportioned CRA figure for the
same agency type and function, only in the districts the agency covers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from totalplace.cli import app
from totalplace.count.engine import count_place
from totalplace.geography.places import Place
from totalplace.ledger.schema import conform
from totalplace.ledger.store import Store

YEAR = "2012-13"


def _row(**kw: object) -> dict[str, object]:
    base = {"year": YEAR, "file": "hand-made.csv", "batch_id": "b1", "spend_kind": "current"}
    return base | kw


def _districts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "area_code": ["E06000901", "E06000902"],
            "area_name": ["One", "Two"],
            "utla_code": ["E06000901", "E06000902"],
            "utla_name": ["One", "Two"],
            "county_code": [None, None],
            "region_code": ["E12000901", "E12000901"],
            "region_name": ["Test region", "Test region"],
            "tier": ["unitary", "unitary"],
        }
    )


@pytest.fixture()
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "totalplace.duckdb"
    with Store(path) as s:
        s.replace_table("districts", _districts())
        s.con.execute(
            "INSERT INTO population VALUES ('E06000901','One',2019,30,100,'p','b'), "
            "('E06000902','Two',2019,30,300,'p','b')"
        )
        s.replace_table(
            "footprints",
            pd.DataFrame({"agency_code": ["X"], "area_code": ["E06000901"], "partial": [False]}),
        )
        rows = pd.DataFrame(
            [
                _row(
                    area_code="E12000901",
                    area_level="region",
                    agency="Department of Health",
                    agency_type="NHS and health",
                    function_code="7",
                    function="7. Health",
                    amount_pence=100_000,
                    source_id="cra_2014",
                    row=2,
                ),
                _row(
                    area_code="PCT1",
                    area_level="primary_care_trust",
                    agency="NHS Test PCT",
                    agency_type="NHS and health",
                    service_line="Acute care",
                    amount_pence=30_000,
                    source_id="local:pct.xlsx",
                    row=5,
                ),
            ]
        )
        s.append_ledger(conform(rows))
    return path


def test_a_return_without_a_footprint_is_not_counted_and_with_one_replaces_cra(
    store_path: Path,
) -> None:
    one = Place("One", ("E06000901",), (), "test", "user")
    two = Place("Two", ("E06000902",), (), "test", "user")
    with Store(store_path, read_only=True) as s:
        assert count_place(s, one, YEAR).total_pence == 25_000  # CRA shared 1:3
    res = CliRunner().invoke(
        app, ["footprint", "PCT1", "--place", "E06000901", "--workspace", str(store_path.parent)]
    )
    assert res.exit_code == 0, res.output
    with Store(store_path, read_only=True) as s:
        first = count_place(s, one, YEAR)
        assert first.total_pence == 30_000  # the PCT's own return, not the apportioned 25,000
        assert set(first.rows["basis"]) == {"actual"}
        assert first.replaced is not None and int(first.replaced["amount_pence"].sum()) == 25_000
        second = count_place(s, two, YEAR)
        assert second.total_pence == 75_000  # outside the PCT's footprint CRA stays
        assert set(second.rows["basis"]) == {"apportioned"}


def test_a_user_driver_shares_spend_and_names_itself(store_path: Path, tmp_path: Path) -> None:
    csv = tmp_path / "need.csv"
    csv.write_text("area_code,value\nE06000901,3\nE06000902,1\n")
    ws = ["--workspace", str(store_path.parent)]
    res = CliRunner().invoke(
        app,
        ["driver-add", "need", str(csv), "--source", "test need index", "--vintage", "2012", *ws],
    )
    assert res.exit_code == 0, res.output
    from totalplace.count.engine import CountOptions

    one = Place("One", ("E06000901",), (), "test", "user")
    with Store(store_path, read_only=True) as s:
        result = count_place(s, one, YEAR, CountOptions(drivers={"7": "need"}))
    assert result.total_pence == 75_000  # 3 of 4 by need instead of 1 of 4 by population
    assert result.rows["driver"].str.contains("user driver need").all()
    bad = tmp_path / "bad.csv"
    bad.write_text("area_code,value\nE06000901,-2\n")
    res = CliRunner().invoke(
        app, ["driver-add", "need2", str(bad), "--source", "x", "--vintage", "2012", *ws]
    )
    assert res.exit_code == 1 and "bad.csv line 2" in res.output
