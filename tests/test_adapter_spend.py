"""The spend adapter (and the supplier-totals adapter) on real published files and fixtures.

For every real file: rows read = ledger + quarantine (+ excluded), and the ledger total equals
an independent pandas/Decimal sum of the file's own amount column.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.fixtures.make_fixtures import mini_lookups
from totalplace.errors import InputFileError
from totalplace.ingest.adapters.spend import SpendAdapter, is_spend_header
from totalplace.ingest.adapters.supplier_totals import SupplierTotalsAdapter, period_year
from totalplace.ingest.base import ParseContext, ParseResult, read_head
from totalplace.ingest.bodies import Bodies
from totalplace.ingest.tabular import norm

SPEND = SpendAdapter()


def parse(path: Path, **options: Any) -> ParseResult:
    return SPEND.parse(path, ParseContext(source_id="test", options=options))


def fixture(fixtures: Path, name: str, **options: Any) -> ParseResult:
    return parse(fixtures / name, **{**mini_lookups(), **options})


def accounted(result: ParseResult) -> int:
    excluded = sum(n for k, n in result.skipped.items() if k.startswith("excluded:"))
    return result.rows()["row"].nunique() + len(result.quarantine) + excluded


def pence_sum(values: pd.Series) -> int:
    """Independent exact sum of a column of plain decimal amounts, in pence: each value rounded
    half-up to the penny first (Devon 2020-10 has float artefacts such as 656.7199999999999)."""
    cent = Decimal("0.01")
    return int(sum(Decimal(str(v).strip()).quantize(cent, ROUND_HALF_UP) for v in values) * 100)


# -- real files ------------------------------------------------------------------------------------
REAL = [
    # file, options, encoding, amount column, rows, expected agency GSS
    ("devon_cc_spend_over500_2011-01.csv", {}, "utf-8", "Amount", 7012, "E10000008"),
    ("devon_cc_spend_over500_2020-10.csv", {}, "utf-8-sig", "Amount", 8970, "E10000008"),
    (
        "bradford_mdc_payments_2018-03_clean.csv",
        {"body": "Bradford"},
        "cp1252",
        "Net Amount",
        9042,
        "E08000032",
    ),
    ("manchester_cc_spend_over500_2010-12_clean.csv", {}, "utf-8", "Amount", 4096, "E08000003"),
    (
        "gla_expenditure_fy2009-10_extract.csv",
        {"body": "Greater London Authority"},
        "utf-8",
        "Amount",
        3483,
        "E61000001",
    ),
    ("hammersmith_fulham_spend_sample_2010.csv", {}, "utf-8", "amount", 10, "E09000013"),
]


@pytest.mark.parametrize(
    ("name", "options", "encoding", "column", "n", "gss"), REAL, ids=[r[0] for r in REAL]
)
def test_real_spend_files(
    mirror: Path, name: str, options: dict[str, str], encoding: str, column: str, n: int, gss: str
) -> None:
    path = mirror / "spend" / name
    assert SPEND.sniff(path, read_head(path))
    result = parse(path, **options)
    rows = result.rows()
    raw = pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False)
    assert result.rows_read == len(raw) == n
    assert accounted(result) == result.rows_read
    assert len(rows) == n and not result.quarantine
    assert int(rows["amount_pence"].sum()) == pence_sum(raw[column])
    assert set(rows["area_code"]) == {gss} and set(rows["area_level"]) == {"authority"}
    assert set(rows["agency_type"]) == {"Councils"} and rows["function"].isna().all()
    assert rows["row"].min() == 2 and rows["row"].max() == n + 1
    # year is the financial year of each transaction's date
    expected_years = {
        f"{d.year if d.month >= 4 else d.year - 1}-{(d.year + (d.month >= 4)) % 100:02d}"
        for d in rows["date"]
    }
    assert set(rows["year"]) == expected_years


def test_devon_2010_05_xls_excel_serial_dates(mirror: Path) -> None:
    path = mirror / "spend" / "devon_cc_spend_over500_2010-05.xls"
    assert SPEND.sniff(path, read_head(path))
    result = parse(path, body="Devon")
    rows = result.rows()
    raw = pd.read_excel(path, dtype=object)
    assert result.rows_read == len(raw) == 7033 == len(rows)
    assert accounted(result) == 7033 and not result.quarantine
    assert int(rows["amount_pence"].sum()) == pence_sum(raw["SumOfNet Amt"].map(repr))
    first = rows.iloc[0]
    assert first["date"] == dt.date(2010, 5, 4)  # Excel serial 40302
    assert first["row"] == 2 and first["year"] == "2010-11"
    assert first["service_line"] == "Adult & Community Services"
    assert first["description"] == "Dom Care Spot"
    assert first["counterparty"] == "1ST CALL HOMECARE LTD"
    assert set(rows["area_code"]) == {"E10000008"}


def test_devon_2011_01_credits_and_redactions(mirror: Path) -> None:
    result = parse(mirror / "spend" / "devon_cc_spend_over500_2011-01.csv")
    rows = result.rows()
    assert (rows["amount_pence"] < 0).sum() == 87
    # Body = 18 is Devon's old county (SNAC) code; the file also names the body
    assert set(rows["agency"]) == {"Devon County Council"}
    assert any("'18 / Devon County Council' → E10000008" in n for n in result.notes)
    assert rows["date"].min() == dt.date(2011, 1, 4) or rows["date"].min().month == 1
    assert set(d.month for d in rows["date"]) == {1}  # dd/mm/yyyy, never US order


def test_devon_2020_10_bom_and_date_times(mirror: Path) -> None:
    result = parse(mirror / "spend" / "devon_cc_spend_over500_2020-10.csv")
    rows = result.rows()
    assert "encoding: UTF-8 with byte-order mark" in result.notes
    assert {d.month for d in rows["date"]} == {10} and set(rows["year"]) == {"2020-21"}
    assert (rows["counterparty"] == "REDACTED UNDER DP ACT").sum() > 0


def test_bradford_is_decoded_as_cp1252(mirror: Path) -> None:
    path = mirror / "spend" / "bradford_mdc_payments_2018-03_clean.csv"
    result = parse(path, body="Bradford")
    assert any("Windows-1252" in n for n in result.notes)
    kinds = set(result.rows()["description"].dropna())
    assert "Children’s Services" in kinds  # byte 0x92 is a right single quote (cp1252)
    assert not any("\x92" in k for k in kinds)


def test_gla_source_column_kept(mirror: Path) -> None:
    result = parse(mirror / "spend" / "gla_expenditure_fy2009-10_extract.csv", body="GLA")
    rows = result.rows()
    assert (rows["amount_pence"] < 0).sum() == 167
    assert rows["description"].str.contains(r"\[source: .*P13-2009-10\]").any()
    assert set(rows["year"]) == {"2009-10"}


def test_spend_without_a_body_asks_for_one(mirror: Path) -> None:
    with pytest.raises(InputFileError, match=r"bradford.*names no paying body.*--option body"):
        parse(mirror / "spend" / "bradford_mdc_payments_2018-03_clean.csv")


def test_lambeth_supplier_totals(mirror: Path) -> None:
    path = mirror / "spend" / "lambeth_supplier_totals_2011-01.csv"
    adapter = SupplierTotalsAdapter()
    assert adapter.sniff(path, read_head(path)) and not SPEND.sniff(path, read_head(path))
    with pytest.raises(InputFileError, match=r"--option year=2010-11 --option body=Lambeth"):
        adapter.parse(path, ParseContext("t"))
    result = adapter.parse(path, ParseContext("t", options={"year": "2010-11", "body": "Lambeth"}))
    rows = result.rows()
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert result.rows_read == len(raw) == len(rows) == 1072 and not result.quarantine
    assert int(rows["amount_pence"].sum()) == pence_sum(raw["Sum of Invoice Nett Amount"])
    assert set(rows["area_code"]) == {"E09000022"} and set(rows["year"]) == {"2010-11"}
    assert rows["date"].isna().all()


def test_real_files_are_not_claimed_by_the_wrong_adapter(mirror: Path) -> None:
    lambeth = mirror / "spend" / "lambeth_supplier_totals_2011-01.csv"
    devon = mirror / "spend" / "devon_cc_spend_over500_2011-01.csv"
    totals = SupplierTotalsAdapter()
    assert not totals.sniff(devon, read_head(devon))
    assert not SPEND.sniff(lambeth, read_head(lambeth))
    for other in (
        "population/ons_mye_mid2019_persons_ltla2019_ew.csv",
        "la_finance/revenue_outturn_summary_RS_2010-11_by_LA.xls",
        "cra_pesa/cra2009_openspending_sample.csv",
    ):
        assert not SPEND.sniff(mirror / other, read_head(mirror / other))
        assert not totals.sniff(mirror / other, read_head(mirror / other))


# -- bodies ----------------------------------------------------------------------------------------
def test_bodies_resolve_names_and_codes(mirror: Path) -> None:
    bodies = Bodies.from_options({})
    cases = {
        "18": "E10000008",  # Devon's SNAC county code
        "18.0": "E10000008",  # the same, read from a spreadsheet as a float
        "Devon County Council": "E10000008",
        "E08000032": "E08000032",
        "00CX": "E08000032",
        "E4701": "E08000032",
        "bradford mdc": "E08000032",
        "London Borough of Hammersmith & Fulham": "E09000013",
        "Greater London Authority": "E61000001",
        "GLA": "E61000001",
        "Manchester City Council": "E08000003",
        "Salford City Council": "E08000006",  # Salford's `Authority Name` column
        "SALFORD CITY COUNCIL": "E08000006",
    }
    for text, gss in cases.items():
        body = bodies.resolve(text)
        assert body is not None and body.gss == gss, text
    assert bodies.resolve("Borsetshire County Council") is None


def test_bodies_from_frames_in_options() -> None:
    bodies = Bodies.from_options(mini_lookups())
    devon = bodies.resolve("18")
    assert devon is not None and devon.gss == "E10000008" and devon.area_name == "Devon"
    lsoa = bodies.district_for_lsoa("E01099901")
    assert lsoa is not None and lsoa.gss == "E07000041"


# -- fixtures --------------------------------------------------------------------------------------
def test_header_synonyms() -> None:
    for header in (
        "Body Name,Date,Supplier Name,Amount",
        "Service Label,Payment date,Supplier Name,Net Amount",
        "Expense Area,Invoice Payment Date,Vendor,Invoice Nett Amount",
        "Description,PymtDate,ENEntity Name,SumOfNet Amt",
        "id,paid_by,date,paid_to,amount",
        "Date of Payment,Supplier, Amount ",
    ):
        assert is_spend_header([norm(c) for c in header.split(",")]), header
    assert not is_spend_header(["supplier name", "sum of invoice nett amount"])


def test_net_taken_when_gross_vat_and_net_are_published(fixtures: Path) -> None:
    result = fixture(fixtures, "gross-vat-net-columns.csv", body="Devon")
    rows = result.rows()
    assert rows["amount_pence"].tolist() == [10000, -625000]
    assert rows["service_line"].tolist() == ["Adult & Community Services", "Environment"]
    assert "amount: Net (of Gross, VAT, Net)" in result.notes
    # one amount column: nothing to say
    assert not any(n.startswith("amount:") for n in fixture(fixtures, "bom-utf8.csv").notes)


def test_salford_layout_needs_no_body_option(fixtures: Path) -> None:
    """Salford: the paying body is in `Authority Name`; Gross, VAT and Net are all published;
    what was bought is `G/L Description`; a Total row and a junk line end the report."""
    result = fixture(fixtures, "salford-layout-authority-name.csv")
    rows = result.rows()
    assert result.rows_read == 3 == len(rows) and not result.quarantine
    assert accounted(result) == result.rows_read
    assert result.skipped == {"total": 1, "footer": 1}
    assert set(rows["agency"]) == {"Salford City Council"}
    assert set(rows["area_code"]) == {"E08000006"} and set(rows["agency_code"]) == {"E08000006"}
    assert rows["amount_pence"].tolist() == [100000, 150000, -50000]  # the Net column
    assert rows["description"].tolist() == [
        "Residential Care - Older People",
        "Highways Maintenance",
        "Residential Care - Older People",
    ]
    assert rows["service_line"].tolist() == ["People", "Place", "People"]
    assert "amount: Net (of Gross, VAT, Net)" in result.notes
    assert "paying body 'Salford City Council' → E08000006" in result.notes


@pytest.mark.parametrize(
    ("name", "options", "descriptions", "areas"),
    [
        (  # Lambeth's transactions layout
            "subj-description-column.csv",
            {"body": "Lambeth"},
            ["Residential Care Placements", "Building Repairs"],
            ["Adults and Community Services", "Housing"],
        ),
        (  # a plain `Description` beside the department is the description, not dropped
            "description-column-besides-department.csv",
            {"body": "Devon"},
            ["Home care package", "Stationery"],
            ["Community Services", "Resources"],
        ),
    ],
)
def test_description_columns_under_other_names(
    fixtures: Path, name: str, options: dict[str, str], descriptions: list[str], areas: list[str]
) -> None:
    result = fixture(fixtures, name, **options)
    rows = result.rows()
    assert accounted(result) == result.rows_read == len(rows) == 2
    assert rows["description"].tolist() == descriptions
    assert rows["service_line"].tolist() == areas


def test_amount_formats(fixtures: Path) -> None:
    assert fixture(fixtures, "amount-in-brackets.csv").rows()["amount_pence"].tolist() == [
        -12345,
        -100000,
        50000,
    ]
    assert fixture(fixtures, "padded-quoted-thousands.csv").rows()["amount_pence"].tolist() == [
        20076888,
        123456700,
        61240,
    ]
    assert fixture(fixtures, "credit-note-trailing-minus.csv").rows()["amount_pence"].tolist() == [
        -12345,
        -25000,
        -9999,
        100000,
    ]
    assert fixture(fixtures, "cp1252-pound-sign.csv").rows()["amount_pence"].tolist() == [
        123450,
        9999,
        -1000,
    ]


def test_date_formats_and_uk_order(fixtures: Path) -> None:
    dates = fixture(fixtures, "report-style-dates.csv").rows()["date"].tolist()
    assert dates == [dt.date(2012, 6, 1), dt.date(2013, 3, 15), dt.date(2013, 4, 1)]
    us = fixture(fixtures, "us-looking-date.csv")
    assert us.rows()["date"].tolist() == [dt.date(2010, 12, 5), dt.date(2011, 3, 31)]
    assert us.quarantine[0]["row"] == 3 and "12/25/2010" in us.quarantine[0]["reason"]
    iso = fixture(fixtures, "date-time-iso.csv").rows()
    assert iso["date"].tolist() == [dt.date(2020, 10, 1), dt.date(2020, 3, 31), dt.date(2020, 4, 1)]
    assert iso["year"].tolist() == ["2020-21", "2019-20", "2020-21"]


def test_redacted_suppliers_kept_as_text(fixtures: Path) -> None:
    rows = fixture(fixtures, "redacted-supplier.csv").rows()
    assert rows["counterparty"].tolist()[:2] == [
        "REDACTED UNDER DP ACT",
        "Redacted - personal data",
    ]


def test_suppliers_named_total_are_data(fixtures: Path) -> None:
    result = fixture(fixtures, "supplier-named-total.csv")
    assert result.rows_read == 3 and not result.skipped
    assert result.rows()["counterparty"].tolist() == [
        "TOTAL BUTLER (CREDITON)",
        "TOTAL GAS & POWER LTD",
        "Total",
    ]


def test_body_codes_and_variants(fixtures: Path) -> None:
    assert set(fixture(fixtures, "devon-style-body-code-18.csv").rows()["area_code"]) == {
        "E10000008"
    }
    assert set(fixture(fixtures, "body-gss-code.csv").rows()["area_code"]) == {"E08000032"}
    rows = fixture(fixtures, "lowercase-headers-paid-to.csv").rows()
    assert set(rows["area_code"]) == {"E09000013"}
    assert rows["counterparty"].tolist() == ["ADT FIRE & SECURITY PLC", "ALARM LTD"]


def test_unknown_body_rows_quarantined_with_the_name(fixtures: Path) -> None:
    result = fixture(fixtures, "unknown-body.csv")
    assert len(result.rows()) == 1 and len(result.quarantine) == 2
    assert all("'Borsetshire County Council'" in q["reason"] for q in result.quarantine)


def test_body_option_overrides_and_area_code_option(fixtures: Path) -> None:
    rows = fixture(
        fixtures, "unknown-body.csv", area_code="E10000008", agency="Borsetshire County Council"
    ).rows()
    assert len(rows) == 3 and set(rows["area_code"]) == {"E10000008"}
    with pytest.raises(InputFileError, match="not a council this tool knows"):
        fixture(fixtures, "bom-utf8.csv", body="Nowhere Parish")


def test_central_government_layout(fixtures: Path) -> None:
    result = fixture(fixtures, "central-government-25k.csv")
    rows = result.rows()
    assert rows["agency"].tolist() == [
        "Department for Education",
        "Young People's Learning Agency",
        "Highways Agency",
    ]
    assert set(rows["area_code"]) == {"E92000001"} and set(rows["area_level"]) == {"nation"}
    assert rows["agency_type"].tolist()[0] == "Education and skills (central)"
    assert rows["service_line"].tolist() == ["Finance", "Funding", "Network"]
    assert rows["description"].tolist() == ["IT Services", "Grants", "Works"]


def test_xlsx_with_serial_dates(fixtures: Path) -> None:
    result = fixture(fixtures, "excel-serial-dates.xlsx")
    rows = result.rows()
    assert rows["date"].tolist() == [dt.date(2010, 5, 4), dt.date(2010, 5, 5), dt.date(2010, 5, 6)]
    assert rows["amount_pence"].tolist() == [75460, 215462, -625000]
    assert rows["row"].tolist() == [2, 3, 4]


def test_supplier_totals_sidecar_and_period(fixtures: Path) -> None:
    adapter = SupplierTotalsAdapter()
    path = fixtures / "supplier-totals-with-sidecar.csv"
    result = adapter.parse(path, ParseContext("t", options=mini_lookups()))
    rows = result.rows()
    assert result.rows_read == 5 and len(rows) == 4 and result.skipped == {"total": 1}
    assert result.quarantine[0]["raw"] == "Bad Row Ltd,5l0.00"
    assert set(rows["year"]) == {"2010-11"}  # January 2011
    assert set(rows["description"]) == {"supplier total for 2011-01"}
    assert period_year("2010/11", None) == ("2010-11", "2010-11")
    assert period_year(None, "2011-04") == ("2011-12", "2011-04")
    with pytest.raises(ValueError):
        period_year(None, "2011-13")
