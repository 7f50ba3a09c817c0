"""360Giving grants (JSON and CSV): placing grants in districts, currencies, row accounting."""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.fixtures.make_fixtures import mini_lookups
from totalplace.errors import InputFileError
from totalplace.ingest.adapters.grants360 import Grants360Adapter
from totalplace.ingest.base import ParseContext, ParseResult, read_head

ADAPTER = Grants360Adapter()


def parse(path: Path, **options: Any) -> ParseResult:
    return ADAPTER.parse(path, ParseContext(source_id="test", options=options))


def pence(value: Any) -> int:
    cent = Decimal("0.01")
    return int(Decimal(repr(value)).quantize(cent, ROUND_HALF_UP) * 100)


def test_real_covid_grants(mirror: Path) -> None:
    path = mirror / "grants" / "360giving_covid19_grants_2020-05-07.json"
    assert ADAPTER.sniff(path, read_head(path))
    result = parse(path)
    rows = result.rows()
    grants = pd.json_normalize(json.loads(path.read_text())["grants"])
    assert result.rows_read == len(grants) == 1978
    assert len(rows) + len(result.quarantine) == 1978 and rows["row"].is_unique
    # how many grants the tool can place in a district (reported in the notes)
    assert len(rows) == 1244
    assert "1,244 of 1,978 grants placed in a district" in result.notes[-1]
    assert "856 by beneficiary LSOA" in result.notes[-1]
    assert "43 by beneficiary district code (geoCode/geoCodeType swapped)" in result.notes[-1]
    assert set(rows["area_level"]) == {"district"}
    assert rows["area_code"].str.match(r"^[EWSN]\d{8}$").all()
    # amounts: ledger + quarantined GBP grants = the file's GBP total, independently summed
    gbp = grants[grants["currency"] == "GBP"]
    quarantined = [json.loads(q["raw"]) for q in result.quarantine]
    q_gbp = sum(pence(g["amountAwarded"]) for g in quarantined if g["currency"] == "GBP")
    assert int(rows["amount_pence"].sum()) + q_gbp == sum(pence(a) for a in gbp["amountAwarded"])
    usd = [q for q in result.quarantine if "currency USD" in q["reason"]]
    assert len(usd) == 1 and usd[0]["reason"] == "currency USD: not summed as pounds"
    # rows point at the line where each grant starts
    lines = path.read_text().splitlines()
    for row in rows.head(20).itertuples():
        assert lines[row.row - 1].strip() == "{"
    assert set(rows["agency_type"]) == {"Grant-makers (360Giving)"}


def test_real_grants_rows_keep_funder_and_recipient(mirror: Path) -> None:
    result = parse(mirror / "grants" / "360giving_covid19_grants_2020-05-07.json")
    camden = result.rows().query("agency == 'Camden Giving'")
    assert not camden.empty and set(camden["area_code"]) == {"E09000007"}
    assert camden["counterparty"].notna().all() and camden["agency_code"].notna().all()


def test_swapped_geocode(fixtures: Path) -> None:
    result = parse(fixtures / "grants-swapped-geocode.json", **mini_lookups())
    rows = result.rows()
    assert rows["area_code"].tolist() == ["E08000003", "E07000041"]
    assert rows["area_name"].tolist() == ["Manchester", "Exeter"]
    assert rows["amount_pence"].tolist() == [500000, 250050]
    assert "swapped" in result.notes[-1]
    (q,) = result.quarantine
    assert "E05000001 (WD) is not a district" in q["reason"]
    assert json.loads(q["raw"])["id"] == "360G-test-3"


def test_other_currency_quarantined(fixtures: Path) -> None:
    result = parse(fixtures / "grants-other-currency.json", **mini_lookups())
    assert len(result.rows()) == 1
    assert [q["reason"] for q in result.quarantine] == ["currency USD: not summed as pounds"]


def test_mixed_amounts_dates_and_unplaceable_grants(fixtures: Path) -> None:
    result = parse(fixtures / "grants-mixed-amounts-and-dates.json", **mini_lookups())
    rows = result.rows()
    assert rows["amount_pence"].tolist() == [10000, 10025]
    assert rows["date"].tolist() == [dt.date(2020, 3, 17), dt.date(2020, 3, 19)]
    assert rows["year"].tolist() == ["2019-20", "2019-20"]
    reasons = [q["reason"] for q in result.quarantine]
    assert reasons == [
        "no district to place the grant in: location 'UK' has no geographic code",
        "no district to place the grant in: the grant gives no location",
        "beneficiary locations span 2 districts (E07000041, E08000003): not split",
        "no district to place the grant in: E01099999 is not in the LSOA lookup",
    ]
    assert result.rows_read == 6


def test_minified_json_numbers_grants_by_position(fixtures: Path) -> None:
    result = parse(fixtures / "grants-minified-one-line.json", **mini_lookups())
    assert result.rows()["row"].tolist() == [1] and result.quarantine[0]["row"] == 2
    assert "positions in the list" in result.notes[0]


def test_grants_csv_with_lsoa(fixtures: Path) -> None:
    path = fixtures / "grants-lsoa.csv"
    assert ADAPTER.sniff(path, read_head(path))
    result = parse(path, **mini_lookups())
    rows = result.rows()
    assert rows["area_code"].tolist() == ["E07000041", "E08000003"]
    assert rows["amount_pence"].tolist() == [150000, 200050]
    assert rows["agency"].tolist() == ["Test Fund", "Test Fund"]
    assert rows["counterparty"].tolist() == ["Exeter Food Bank", "Youth Club"]
    (q,) = result.quarantine
    assert q["row"] == 4 and q["raw"].startswith("360G-t-3,")


def test_not_a_grants_file(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"something": []}')
    with pytest.raises(InputFileError, match=r"x\.json: has no 'grants' list"):
        parse(path, **mini_lookups())
    path.write_text('{"grants": [{"id": 1}, {"id": 2')
    with pytest.raises(InputFileError, match=r"x\.json"):
        parse(path, **mini_lookups())
