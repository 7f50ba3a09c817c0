"""HM Treasury CRA databases: hand-made fixtures for each quirk, and both real releases."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from totalplace.errors import InputFileError
from totalplace.ingest.adapters.cra import CraAdapter
from totalplace.ingest.base import ParseContext, ParseResult, read_head
from totalplace.ledger.schema import conform

CRA_2010 = "cra_pesa/cra2010_pesa2010_chapter9_db.xlsx"
CRA_2014 = "cra_pesa/cra2014_combined_db.xlsx"

HEADER_2010 = [
    "Dept Code",
    "Dept Name",
    "COFOG level 1",
    "HMT Functional Classification",
    "Programme Object Group",
    "Programme Object Group Alias",
    "ID or non-ID",
    "CAP or CUR",
    "CG, LG or PC",
    "NUTS 1 region",
    "2008-09",
    "2009-10",
    "2010-11",
]
HEADER_2014 = [
    "Department",
    "COFOG Level 0",
    "HMT Function",
    "COFOG Level 1",
    "HMT Subfunction",
    "CRA Segment",
    "CRA Segment Description",
    "ID/non-ID",
    "CAP or CUR",
    "CG, LG or PC",
    "NUTS Region",
    "Country",
    "2009-10",
    "2010-11",
]
DWP = ("Dept032", "Department for Work and Pensions")
SOCIAL = ("10. Social protection", "10. Social Protection", "P37 S1", "P37 S1 Benefits")


def write_xlsx(
    path: Path,
    rows: Sequence[Sequence[Any]],
    sheet: str = "CRA",
    before: Sequence[tuple[str, Sequence[Sequence[Any]]]] = (),
) -> Path:
    """A workbook with optional earlier sheets and one sheet of ``rows`` (None = empty cell)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, content in [*before, (sheet, rows)]:
        ws = wb.create_sheet(name)
        for r in content:
            ws.append(list(r))
    wb.save(path)
    return path


def parse(path: Path) -> ParseResult:
    return CraAdapter().parse(path, ParseContext(source_id="test"))


def assert_accounted(result: ParseResult) -> None:
    """rows read = rows represented in the output + quarantined + excluded on purpose."""
    excluded = sum(n for k, n in result.skipped.items() if k.startswith("excluded:"))
    represented = result.rows()["row"].nunique() if result.rows_out else 0
    assert result.rows_read == represented + len(result.quarantine) + excluded


# -- fixtures: one problem each -------------------------------------------------------------------
@pytest.fixture()
def mixed_labels(tmp_path: Path) -> Path:
    rows: list[list[Any]] = [
        HEADER_2010,
        [*DWP, *SOCIAL, "ID", "CUR", "CG", "SCOTLAND", 1.5, 2.25, None],
        [*DWP, *SOCIAL, "ID", "CUR", "CG", "Scotland", 0.001, None, None],
        [*DWP, *SOCIAL, "ID", "CAP", "CG", "ENGLAND_Yorkshire and The Humber", 3, 0, None],
        [*DWP, *SOCIAL, "ID", "CUR", "CG", "ENGLAND_Yorkshire and the Humber", 4, None, None],
        [*DWP, *SOCIAL, "Non-ID", "CUR", "CG", "Not Identifiable", 5, 5, 5],
        [*DWP, *SOCIAL, "non-ID", "CUR", "CG", "Not Identifiable", 5, 5, 5],
        [
            "Dept099",
            "ENG_LA",
            "3. Public order and safety",
            "3. Public order and safety",
            "LA1",
            None,
            "ID",
            "CUR",
            "LA",
            "ENGLAND_East",
            10,
            11,
            12,
        ],
        [
            "Dept044",
            "Department for Business, Innovation and Skills",
            "4. Economic affairs",
            "4. Economic affairs - of which: Enterprise and economic development",
            "P1",
            "P1 X",
            "ID",
            "CUR",
            "CG",
            "Outside UK",
            0.5,
            None,
            None,
        ],
        [*DWP, *SOCIAL, "ID", "CUR", "CG", "WALES", 0, None, 0.0],
    ]
    return write_xlsx(tmp_path / "cra-mixed-labels.xlsx", rows)


def test_mixed_labels_are_normalised(mixed_labels: Path) -> None:
    result = parse(mixed_labels)
    out = result.rows()
    assert_accounted(result)
    assert result.rows_read == 9
    assert result.skipped == {
        "header": 1,
        "excluded: non-identifiable": 2,
        "excluded: no amounts": 1,
    }
    assert result.quarantine == []
    by_row = out.groupby("row")["area_code"].first().to_dict()
    assert by_row == {
        2: "S92000003",
        3: "S92000003",
        4: "E12000003",
        5: "E12000003",
        8: "E12000006",
        9: "OUTSIDE-UK",
    }
    # £ million to exact pence, one row per year with a non-zero amount
    scot = out[out["row"] == 2].set_index("year")["amount_pence"].to_dict()
    assert scot == {"2008-09": 150_000_000, "2009-10": 225_000_000}
    assert out.loc[out["row"] == 3, "amount_pence"].tolist() == [100_000]
    assert out.loc[out["row"] == 4, "year"].tolist() == ["2008-09"]  # the zero is no row
    dwp = out[out["row"] == 2].iloc[0]
    assert dwp["function"] == "10. Social protection" and dwp["function_code"] == "10"
    assert pd.isna(dwp["subfunction"])  # 'Social Protection' is the division, not finer
    assert dwp["agency_type"] == "Benefits and employment (DWP)"
    assert dwp["agency_code"] == "Dept032"
    assert dwp["description"] == "P37 S1 Benefits"
    la = out[out["row"] == 8].iloc[0]
    assert la["agency"] == "Local government (England)"
    assert la["agency_type"] == "Police and fire (local government)"
    assert la["description"] == "LA1"  # no alias: the programme object group
    bis = out[out["row"] == 9].iloc[0]
    assert bis["subfunction"] == (
        "4. Economic affairs - of which: enterprise and economic development"
    )
    assert set(out["spend_kind"]) == {"current", "capital"}
    assert "CRA 2010" in result.notes[0] and "£ million" in result.notes[0]
    conform(out.assign(source_id="t", file="f", batch_id="b"))


def test_region_not_in_code_list_is_quarantined(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "cra-unknown-region.xlsx",
        [
            HEADER_2010,
            [*DWP, *SOCIAL, "ID", "CUR", "CG", "Not identifiable", 1, 2, 3],
            [*DWP, *SOCIAL, "ID", "CUR", "CG", "Atlantis", 1, 2, 3],
            [*DWP, *SOCIAL, "ID", "CUR", "CG", "WALES", 1, 2, 3],
        ],
    )
    result = parse(path)
    assert_accounted(result)
    assert [q["row"] for q in result.quarantine] == [2, 3]
    assert "'Not identifiable'" in result.quarantine[0]["reason"]
    assert "'Atlantis' is not in data/codes/cra_regions.csv" in result.quarantine[1]["reason"]
    assert "Atlantis" in result.quarantine[1]["raw"]
    assert set(result.rows()["row"]) == {4}


def test_title_rows_total_and_footnote_are_not_data(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "cra-title-rows-and-total.xlsx",
        [
            ["Country and Regional Analysis 2010"],
            ["£ million"],
            [],
            HEADER_2010,
            [*DWP, *SOCIAL, "ID", "CUR", "CG", "WALES", 1, 2, 3],
            [*DWP, *SOCIAL, "ID", "CUR", "CG", "SCOTLAND", 1, 2, 3],
            [],
            ["Total", None, None, None, None, None, None, None, None, None, 2, 4, 6],
            ["Source: HM Treasury, PESA 2010"],
        ],
    )
    result = parse(path)
    assert_accounted(result)
    assert result.rows_read == 2
    assert result.skipped == {"title": 2, "blank": 2, "header": 1, "total": 1, "footnote": 1}
    assert sorted(result.rows()["row"].unique()) == [5, 6]
    assert result.rows()["amount_pence"].sum() == 12 * 1_000_000 * 100


def test_cra2014_layout_is_thousands_and_splits_police_and_fire(tmp_path: Path) -> None:
    lge = ["Local Government England", "3. Public order and safety", "3. Public order and safety"]
    path = write_xlsx(
        tmp_path / "cra2014-thousands-police-fire.xlsx",
        [
            HEADER_2014,
            [
                *lge,
                "3.1 Police services",
                "3.1 x",
                "SEG1",
                "Police",
                "ID",
                "CUR",
                "LG",
                "ENGLAND_North West",
                "ENGLAND",
                1234.5,
                1000,
            ],
            [
                *lge,
                "3.2 Fire-protection services",
                "3.2 x",
                "SEG2",
                "Fire",
                "ID",
                "CAP",
                "LG",
                "ENGLAND_North West",
                "ENGLAND",
                10,
                None,
            ],
            [
                *lge,
                "3.3 Law courts",
                "3.3 x",
                "SEG3",
                "Courts",
                "ID",
                "CUR",
                "LG",
                "ENGLAND_North West",
                "ENGLAND",
                7,
                None,
            ],
            [
                "Central Exchequer (BOE)",
                "1. General public services",
                "1. x",
                "1.7 Public Sector Debt Interest",
                "1.7 x",
                "SEG4",
                "BoE",
                "Non-ID",
                "CUR",
                "BOE",
                "Not Identifiable",
                "Not Identifiable",
                -5616000,
                -7720000,
            ],
        ],
        sheet="CRA14 combined database",
        before=[("Metadata", [[None], ["Levels of expenditure shown are in £'000s."]])],
    )
    assert CraAdapter().sniff(path, read_head(path))
    result = parse(path)
    out = result.rows()
    assert_accounted(result)
    assert "CRA 2014" in result.notes[0] and "£ thousand" in result.notes[0]
    police = out[out["row"] == 2].set_index("year")["amount_pence"].to_dict()
    assert police == {"2009-10": 123_450_000, "2010-11": 100_000_000}
    types = out.groupby("row")["agency_type"].first().to_dict()
    # 3.3 law courts of local government are councils' spend (data/codes/agency_types.csv)
    assert types == {2: "Police", 3: "Fire and rescue", 4: "Councils"}
    first = out.iloc[0]
    assert first["agency"] == "Local government (England)"
    assert pd.isna(first["agency_code"])
    assert first["subfunction"] == "3.1 Police services"
    assert first["description"] == "Police"
    assert result.skipped["excluded: non-identifiable"] == 1


def test_unreadable_amount_quarantines_the_row(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "cra-text-amounts.xlsx",
        [
            HEADER_2010,
            [*DWP, *SOCIAL, "ID", "CUR", "CG", "WALES", " 1,234.5 ", "(2.5)", None],
            [*DWP, *SOCIAL, "ID", "CUR", "CG", "WALES", "12,3O4", 1, None],
            [*DWP, *SOCIAL, "ID", "CURRENT?", "XX", "WALES", 1, 1, None],
        ],
    )
    result = parse(path)
    assert_accounted(result)
    assert result.rows().set_index("year")["amount_pence"].to_dict() == {
        "2008-09": 123_450_000_000,
        "2009-10": -250_000_000,
    }
    reasons = {q["row"]: q["reason"] for q in result.quarantine}
    assert reasons[3] == "2008-09: amount '12,3O4' is not a number"
    assert "'CAP or CUR' column holds 'CURRENT?'" in reasons[4]
    assert "'CG, LG or PC' column holds 'XX'" in reasons[4]


def test_sniff_is_cheap_and_never_raises(tmp_path: Path) -> None:
    adapter = CraAdapter()
    other = write_xlsx(tmp_path / "other.xlsx", [["Supplier", "Amount"], ["A", 1]])
    broken = tmp_path / "broken-zip.xlsx"
    broken.write_bytes(b"PK\x03\x04 this is not a zip archive")
    text = tmp_path / "text.xlsx"
    text.write_text("Dept Code,Dept Name\n")
    for path in (other, broken, text):
        assert adapter.sniff(path, read_head(path)) is False
    with pytest.raises(InputFileError, match="no CRA 2010 or CRA 2014 header"):
        parse(other)


# -- the real releases ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cra2010(mirror: Path) -> ParseResult:
    return parse(mirror / CRA_2010)


@pytest.fixture(scope="module")
def cra2014(mirror: Path) -> ParseResult:
    return parse(mirror / CRA_2014)


def independent_totals(path: Path, sheet: str, flag: str, region: str, scale: int) -> pd.Series:
    """Identifiable spend by year in pence, straight from the sheet with pandas."""
    df = pd.read_excel(path, sheet_name=sheet)
    years = [c for c in df.columns if str(c)[:2] == "20"]
    keep = df[flag].str.strip().str.casefold().eq("id") & df[region].str.casefold().ne(
        "not identifiable"
    )
    return (df.loc[keep, years].sum() * scale * 100).rename(str)


@pytest.mark.mirror
def test_cra2010_totals_match_the_sheet(mirror: Path, cra2010: ParseResult) -> None:
    out = cra2010.rows()
    assert_accounted(cra2010)
    mine = out.groupby("year")["amount_pence"].sum()
    sheet = independent_totals(
        mirror / CRA_2010,
        "CRA 2010 Chapter 9 DB final ",
        "ID or non-ID",
        "NUTS 1 region",
        1_000_000,
    )
    assert list(mine.index) == list(sheet.index)
    for year in mine.index:  # each cell rounds to the penny: at most ½p each
        assert abs(mine[year] - sheet[year]) <= 0.5 * len(out) + 1, year
    # £602bn in 2008-09 including non-identifiable (SOURCES.md); identifiable ≈ £516bn
    assert 500e9 < mine["2008-09"] / 100 < 602e9
    assert "CRA 2010" in cra2010.notes[0] and "£ million" in cra2010.notes[0]


@pytest.mark.mirror
def test_cra2010_identifiable_rows_without_a_region(cra2010: ParseResult) -> None:
    """13 DWP 'Departmental unallocated provision' rows are marked ID yet 'Not identifiable'."""
    assert [q["row"] for q in cra2010.quarantine] == list(range(4409, 4422))
    assert all("'Not identifiable'" in q["reason"] for q in cra2010.quarantine)
    assert cra2010.skipped["excluded: non-identifiable"] == 475


@pytest.mark.mirror
def test_cra2014_totals_match_the_sheet(mirror: Path, cra2014: ParseResult) -> None:
    out = cra2014.rows()
    assert_accounted(cra2014)
    assert cra2014.quarantine == []
    mine = out.groupby("year")["amount_pence"].sum()
    sheet = independent_totals(
        mirror / CRA_2014, "CRA14 combined database", "ID/non-ID", "NUTS Region", 1000
    )
    assert list(mine.index) == list(sheet.index)
    for year in mine.index:
        assert abs(mine[year] - sheet[year]) <= 0.5 * len(out) + 1, year
    # ≈ £638bn in 2009-10 including non-identifiable (SOURCES.md); identifiable ≈ £560bn
    assert 500e9 < mine["2009-10"] / 100 < 638e9
    assert "CRA 2014" in cra2014.notes[0] and "£ thousand" in cra2014.notes[0]


@pytest.mark.mirror
def test_releases_share_labels(cra2010: ParseResult, cra2014: ParseResult) -> None:
    a, b = cra2010.rows(), cra2014.rows()
    assert set(b["function"]) <= set(a["function"])
    assert set(a["function_code"]) == {str(n) for n in range(1, 11)} | {"EU"}
    assert set(a["area_code"]) == set(b["area_code"])
    assert len(set(a["area_code"])) == 13  # 9 regions, 3 nations, outside the UK
    for out in (a, b):
        assert "Local government (England)" in set(out["agency"])
        assert not out["agency"].isin(["ENG_LA", "Local Government England"]).any()
        assert set(out["spend_kind"]) == {"current", "capital"}
        assert out["amount_pence"].ne(0).all()
    police = b[b["agency_type"] == "Police"]
    assert set(police["subfunction"]) == {"3.1 Police services"}
    assert set(b.loc[b["agency_type"] == "Fire and rescue", "subfunction"]) == {
        "3.2 Fire-protection services"
    }
    assert not a["agency_type"].isin(["Police", "Fire and rescue"]).any()
    assert a["agency_code"].notna().all() and b["agency_code"].isna().all()


def test_header_only_gives_no_rows(tmp_path: Path) -> None:
    result = parse(write_xlsx(tmp_path / "cra-header-only.xlsx", [HEADER_2014]))
    assert result.rows_read == 0 and result.rows_out == 0
    assert result.skipped == {"header": 1}
