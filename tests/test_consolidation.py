"""Consolidation on a small hand-made case: a county pays a district council to deliver care;
both own outturns include the money. Naive summing counts it twice; the count does not."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from totalplace.count.consolidate import read_transfers
from totalplace.count.engine import count_place
from totalplace.errors import TotalPlaceError
from totalplace.geography.places import Place
from totalplace.ledger.schema import conform
from totalplace.ledger.store import Store

YEAR = "2010-11"


def _ledger_row(**kw: object) -> dict[str, object]:
    base = {
        "year": YEAR,
        "area_level": "authority",
        "agency_type": "Councils",
        "spend_kind": "current",
        "file": "hand-made.csv",
        "batch_id": "b1",
    }
    return base | kw


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "t.duckdb")
    s.replace_table(
        "districts",
        pd.DataFrame(
            {"area_code": ["D1", "D2"], "area_name": ["One", "Two"], "region_code": ["R1", "R1"]}
        ),
    )
    s.con.execute(
        "INSERT INTO population VALUES ('D1','One',2019,30,100,'p','b'), "
        "('D2','Two',2019,30,300,'p','b')"
    )
    s.replace_table(
        "footprints",
        pd.DataFrame(
            {
                "agency_code": ["C", "C", "A"],
                "area_code": ["D1", "D2", "D1"],
                "partial": [False, False, False],
            }
        ),
    )
    rows = pd.DataFrame(
        [
            _ledger_row(
                area_code="R1",
                area_level="region",
                agency="Local government (England)",
                function_code="10",
                function="10. Social protection",
                subfunction="10.9 Social protection n.e.c.",
                amount_pence=100_000,
                source_id="cra_2014",
                row=2,
            ),
            _ledger_row(
                area_code="C",
                agency="County Council",
                service_line="Social care",
                amount_pence=50_000,
                source_id="rs_2010_11",
                row=3,
            ),
            _ledger_row(
                area_code="A",
                agency="District Council",
                service_line="Social care",
                amount_pence=10_000,
                source_id="rs_2010_11",
                row=4,
            ),
        ]
    )
    s.append_ledger(conform(rows))
    return s


PLACE = Place("Both", ("D1", "D2"), ("C", "A"), "hand-made", "user")


def test_naive_summing_double_counts_and_the_count_does_not(store: Store, tmp_path: Path) -> None:
    naive = count_place(store, PLACE, YEAR)
    assert naive.total_pence == 60_000  # county 500 + district 100: the 100 twice
    csv = tmp_path / "transfers.csv"
    csv.write_text(
        "year,payer_code,payee_code,function_code,amount_gbp,reason,source\n"
        "2010-11,C,A,10,100.00,county pays the district to run day care,"
        "county accounts note 12\n"
    )
    store.replace_table("transfers", read_transfers(csv))
    result = count_place(store, PLACE, YEAR)
    assert result.total_pence == 50_000
    assert result.eliminated is not None
    row = result.eliminated.iloc[0]
    assert (row["payer"], row["payee"], row["amount_pence"]) == (
        "County Council",
        "District Council",
        10_000,
    )
    assert "day care" in row["reason"]
    elim = result.rows[result.rows["basis"] == "eliminated"]
    assert int(elim["amount_pence"].sum()) == -10_000
    assert result.to_json()["eliminated"][0]["amount_gbp"] == 100.0


def test_a_transfer_is_only_eliminated_when_both_bodies_are_in_the_count(
    store: Store, tmp_path: Path
) -> None:
    csv = tmp_path / "transfers.csv"
    csv.write_text(
        "year,payer_code,payee_code,function_code,amount_gbp,reason,source\n"
        "2010-11,C,Z,10,100,paid to a body outside the count,note\n"
    )
    store.replace_table("transfers", read_transfers(csv))
    assert count_place(store, PLACE, YEAR).total_pence == 60_000


def test_bad_transfer_files_name_the_line(tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text(
        "year,payer_code,payee_code,function_code,amount_gbp,reason,source\n"
        "2010-11,C,A,10,12O,x,y\n"
    )
    with pytest.raises(TotalPlaceError, match=r"bad\.csv line 2: amount '12O'"):
        read_transfers(csv)
