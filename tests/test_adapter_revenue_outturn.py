"""DCLG Revenue Outturn Summary (RS): a hand-made workbook of every quirk, and the real 2010-11."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from totalplace.errors import InputFileError
from totalplace.ingest.adapters.revenue_outturn import RevenueOutturnAdapter
from totalplace.ingest.base import ParseContext, ParseResult, read_head
from totalplace.ledger.schema import conform

RS_2010 = "la_finance/revenue_outturn_summary_RS_2010-11_by_LA.xls"
SHEET = "RS LA Data 2010-11 (1)"
SERVICES = [
    "Education services",
    "Highways and transport services",
    "Social care",
    "Housing services (GFRA only)",
    "Cultural and related services",
    "Environmental and regulatory services",
    "Planning and development services",
    "Police services",
    "Fire and rescue services",
    "Central services",
    "Other services",
]
TOTAL = "TOTAL SERVICE EXPENDITURE (TOTAL OF LINES 190 TO 698)"
HEADER = ["E-code", "Local authority", None, "Class", None, *SERVICES, TOTAL, "Police grant"]
GSS = {"E2221": "E10000016", "E0101": "E06000022", "e0102": "E06000023"}


def authority(ecode: str, name: str, klass: str, **services: Any) -> list[Any]:
    values = [services.get(s.split()[0].lower(), 0) for s in SERVICES]
    numbers = [v for v in values if isinstance(v, int | float)]
    return [ecode, name, None, klass, None, *values, sum(numbers), 99]


def titles(measure: str, year: str = "2010-11") -> list[list[Any]]:
    return [
        [f"Revenue Outturn Summary (RS): {year} data"],
        [],
        [measure],
        [],
        [*[None] * 20, "Net current expenditure (group heading, not a title)"],
    ]


def write_rs(
    path: Path,
    rows: Sequence[Sequence[Any]],
    measure: str = "Net current expenditure (£ thousand)",
    year: str = "2010-11",
) -> Path:
    """An RS-shaped workbook: a decoy capital-charges sheet first, then the data sheet."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    decoy = wb.create_sheet("RS LA Data 2010-11 (2)")
    for r in [
        *titles("Capital charges (£ thousand)", year),
        HEADER,
        [],
        authority("E2221", "Kent", "SC", education=5),
    ]:
        decoy.append(list(r))
    ws = wb.create_sheet(SHEET)
    content: list[Sequence[Any]] = [*titles(measure, year), HEADER, [], *rows]
    for line in content:
        ws.append(list(line))
    wb.save(path)
    return path


AUTHORITIES: list[list[Any]] = [
    authority("E2221", "Kent", "SC", education=1180308, social=511005, central=25218),
    authority("E6022", "Kent Police Authority", "O", police=317624, central=1501),
    authority("E6122", "Kent Combined Fire Authority", "O", fire=70000.5),
    authority("E6142", "Greater Manchester Fire & CD Authority", "O", fire=100),
    authority("E6201", "East London Waste Authority", "O"),
    authority("E5100", "Greater London Authority", "O", police=3166077, highways=1665357),
    authority("E0101", "Bath & North East Somerset UA", "UA", education="n/a", social=1),
    authority("E01X2", "Bristol UA", "UA", education=1),
    authority("E0102", "Bristol UA", "ZZ", education=1),
    authority("e0102 ", "Bristol UA", "UA", education=-12),
]
FOOTER: list[list[Any]] = [
    [],
    [None, "ENGLAND", None, None, None, 45283348, 1],
    [],
    [None, "CLASS BREAKDOWN"],
    [None, "SHIRE COUNTIES", None, "SC", None, 16778118, 2],
    [None, "OTHER AUTHORITIES", None, "O", None, 0, 0],
    ["Source: Department for Communities and Local Government Revenue Outturn (RO) returns"],
    ["Notes"],
    [None, "https://www.gov.uk/government/publications/local-authority-revenue-expenditure"],
]


def parse(path: Path, **options: Any) -> ParseResult:
    return RevenueOutturnAdapter().parse(path, ParseContext(source_id="t", options=options))


def assert_accounted(result: ParseResult) -> None:
    excluded = sum(n for k, n in result.skipped.items() if k.startswith("excluded:"))
    represented = result.rows()["row"].nunique() if result.rows_out else 0
    assert result.rows_read == represented + len(result.quarantine) + excluded


@pytest.fixture()
def rs_fixture(tmp_path: Path) -> Path:
    return write_rs(tmp_path / "rs-title-rows-subtotals-footnotes.xlsx", [*AUTHORITIES, *FOOTER])


def test_fixture_authorities_services_and_non_data(rs_fixture: Path) -> None:
    adapter = RevenueOutturnAdapter()
    assert adapter.sniff(rs_fixture, read_head(rs_fixture))
    result = parse(rs_fixture, ecode_to_gss=GSS)
    out = result.rows()
    assert_accounted(result)
    assert result.rows_read == len(AUTHORITIES)
    assert result.skipped == {
        "title": 3,
        "blank": 5,
        "header": 1,
        "excluded: all zero": 1,
        "total": 1,
        "subtotal": 2,
        "heading or footnote": 4,
    }
    reasons = {q["row"]: q["reason"] for q in result.quarantine}
    assert reasons == {
        14: "Education services: amount 'n/a' is not a number",
        15: "E-code 'E01X2' is not a DCLG E-code like E0101",
        16: "class 'ZZ' is not one of SC, SD, UA, MD, L, O",
    }
    assert out["row"].between(8, 17).all()  # no ENGLAND, class or footnote row
    kent = out[out["agency_code"] == "E2221"].set_index("service_line")["amount_pence"]
    assert kent.to_dict() == {
        "Education services": 118_030_800_000,
        "Social care": 51_100_500_000,
        "Central services": 2_521_800_000,
    }
    assert set(out["service_line"]) <= set(SERVICES)
    types = out.groupby("agency_code")["agency_type"].first().to_dict()
    assert types == {
        "E2221": "Councils",
        "E6022": "Police",
        "E6122": "Fire and rescue",
        "E6142": "Fire and rescue",
        "E5100": "Other local bodies",
        "E0102": "Councils",
    }
    areas = out.groupby("agency_code")["area_code"].first().to_dict()
    assert areas["E2221"] == "E10000016"
    assert areas["E0102"] == "E06000023"  # E-codes matched whatever their case and padding
    assert areas["E6022"] == "ECODE:E6022"
    assert set(out["area_level"]) == {"authority"}
    assert set(out["spend_kind"]) == {"current"}
    assert set(out["description"]) == {"RS 2010-11 net current expenditure"}
    assert set(out["year"]) == {"2010-11"}
    assert out["function"].isna().all() and out["function_code"].isna().all()
    fire = out[out["agency_code"] == "E6122"]["amount_pence"].tolist()
    assert fire == [7_000_050_000]
    assert out.loc[out["agency_code"] == "E0102", "amount_pence"].tolist() == [-1_200_000]
    assert any("no GSS code" in n and "ECODE:" in n for n in result.notes)
    conform(out.assign(source_id="t", file="f", batch_id="b"))


def test_without_a_lookup_every_authority_keeps_its_ecode(
    rs_fixture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOTALPLACE_MIRROR", str(tmp_path / "no-mirror-here"))
    result = parse(rs_fixture)
    assert result.rows()["area_code"].str.startswith("ECODE:").all()
    assert any("no E-code to GSS lookup" in n for n in result.notes)


def test_year_and_unit_come_from_the_titles(tmp_path: Path) -> None:
    rows = [authority("E2221", "Kent", "SC", education=1)]
    later = parse(write_rs(tmp_path / "rs-2011-12.xlsx", rows, year="2011-12"), ecode_to_gss={})
    assert set(later.rows()["year"]) == {"2011-12"}
    with pytest.raises(InputFileError, match="no unit"):
        parse(write_rs(tmp_path / "rs-no-unit.xlsx", rows, measure="Net current expenditure"))
    with pytest.raises(InputFileError, match="no financial year"):
        parse(write_rs(tmp_path / "rs-no-year.xlsx", rows, year="latest"))


def test_sniff_rejects_other_workbooks(tmp_path: Path) -> None:
    adapter = RevenueOutturnAdapter()
    capital_only = tmp_path / "rs-capital-charges-only.xlsx"
    wb = openpyxl.Workbook()
    for r in [*titles("Capital charges (£ thousand)"), HEADER]:
        wb.active.append(list(r))
    wb.save(capital_only)
    fake_xls = tmp_path / "fake.xls"
    fake_xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    csv = tmp_path / "rs.xls"
    csv.write_text("E-code,Local authority\n")
    for path in (capital_only, fake_xls, csv):
        assert adapter.sniff(path, read_head(path)) is False
    with pytest.raises(InputFileError, match="Net current expenditure"):
        parse(capital_only)


# -- the real 2010-11 workbook --------------------------------------------------------------------
@pytest.fixture(scope="module")
def rs2010(mirror: Path) -> ParseResult:
    return parse(mirror / RS_2010)


@pytest.mark.mirror
def test_service_lines_add_up_to_the_sheets_total(mirror: Path, rs2010: ParseResult) -> None:
    """The ledger holds the 11 service columns exactly; they add up to the sheet's own TOTAL
    SERVICE EXPENDITURE column except where DCLG rounded lines and total separately (±£1k)."""
    out = rs2010.rows()
    assert_accounted(rs2010)
    assert rs2010.rows_read == 444 and out["row"].nunique() == 444
    assert rs2010.quarantine == []
    sheet = pd.read_excel(mirror / RS_2010, sheet_name=SHEET, header=5)
    authorities = sheet[sheet["E-code"].astype(str).str.fullmatch(r"E\d{4}")]
    assert len(authorities) == 444
    in_pence = (authorities.set_index("E-code")[[*SERVICES, TOTAL]] * 100_000).round()
    services = in_pence[SERVICES].sum(axis=1).astype("int64")
    total = in_pence[TOTAL].astype("int64")
    mine = out.groupby("agency_code")["amount_pence"].sum()
    pd.testing.assert_series_equal(
        mine.sort_index(), services.sort_index(), check_names=False, check_index_type=False
    )
    rounding = (services - total).abs()
    assert rounding.max() == 100_000  # £1 thousand
    assert (rounding > 0).sum() == 12
    assert abs(int(mine.sum()) - int(total.sum())) <= int(rounding.sum())
    assert int(total.sum()) == 102_629_539 * 100_000  # £102.6bn, the sheet's own total
    assert any("12 authorities' service lines differ" in n for n in rs2010.notes)
    assert sorted(out["service_line"].unique()) == sorted(SERVICES)


@pytest.mark.mirror
def test_kent_and_no_subtotals(rs2010: ParseResult) -> None:
    out = rs2010.rows()
    kent = out[(out["agency_code"] == "E2221") & (out["service_line"] == "Education services")]
    assert kent["amount_pence"].tolist() == [118_030_800_000]  # £1,180,308 thousand
    assert kent["area_code"].tolist() == ["E10000016"]
    assert out["agency_code"].str.fullmatch(r"E\d{4}").all()
    assert (
        not out["agency"]
        .str.upper()
        .isin(
            ["ENGLAND", "CLASS BREAKDOWN", "LONDON BOROUGHS", "SHIRE COUNTIES", "OTHER AUTHORITIES"]
        )
        .any()
    )
    assert out["row"].between(8, 451).all()
    assert {"total": 1, "subtotal": 6}.items() <= rs2010.skipped.items()


@pytest.mark.mirror
def test_police_and_fire_authorities_keep_ecodes(rs2010: ParseResult) -> None:
    out = rs2010.rows()
    by_agency = out.groupby("agency_code").first()
    police = by_agency[by_agency["agency_type"] == "Police"]
    fire = by_agency[by_agency["agency_type"] == "Fire and rescue"]
    assert len(police) == 37 and len(fire) == 30
    assert police["area_code"].str.startswith("ECODE:").all()
    assert by_agency.loc["E6009", "agency"] == "Cumbria Police Authority"
    assert by_agency.loc["E5100", "area_code"] == "E61000001"  # GLA has a GSS code
    assert by_agency.loc["E5100", "agency_type"] == "Other local bodies"
    unmapped = by_agency["area_code"].str.startswith("ECODE:")
    assert unmapped.sum() == 90  # every class-O body but the GLA
    assert set(by_agency.loc[~unmapped, "area_code"].str[:3]) <= {
        "E06",
        "E07",
        "E08",
        "E09",
        "E10",
        "E61",
    }
