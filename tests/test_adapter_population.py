"""ONS mid-year population estimates: fixtures named after their problem, and the real files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from totalplace.errors import InputFileError
from totalplace.ingest.adapters.ons_population import POPULATION_COLUMNS, OnsPopulationAdapter
from totalplace.ingest.base import ParseContext, ParseResult, read_head

LTLA19 = "population/ons_mye_mid2019_persons_ltla2019_ew.csv"
UTLA19 = "population/ons_mye_mid2019_persons_utla2019_ew.csv"
LTLA20 = "population/ons_mye_mid2020_persons_ltla2020_ew.csv"
#: the fixtures' counts: 10 + age % 7 for ages 0..90+
COUNTS = [10 + a % 7 for a in range(91)]


def parse(path: Path) -> ParseResult:
    return OnsPopulationAdapter().parse(path, ParseContext(source_id="test"))


def assert_accounted(result: ParseResult) -> None:
    represented = result.rows()["row"].nunique() if result.rows_out else 0
    assert result.rows_read == represented + len(result.quarantine)  # nothing excluded


def test_ages_that_do_not_add_up_are_quarantined(fixtures: Path) -> None:
    result = parse(fixtures / "population-ages-do-not-add-up.csv")
    assert_accounted(result)
    assert result.quarantine == [
        {
            "row": 3,
            "reason": "ages 0-90+ add up to 1,183 but total_population is 1,188",
            "raw": result.quarantine[0]["raw"],
        }
    ]
    assert result.quarantine[0]["raw"].startswith("E06000002,Middlesbrough,1188,")
    out = result.rows()
    assert list(out.columns) == list(POPULATION_COLUMNS)
    assert set(out["area_code"]) == {"E06000001"}
    assert out["age"].tolist() == list(range(91))
    assert out["persons"].tolist() == COUNTS
    assert set(out["mid_year"]) == {2019} and set(out["row"]) == {2}


def test_title_rows_blank_lines_and_total_footer(fixtures: Path) -> None:
    path = fixtures / "population-title-rows-and-total-footer.csv"
    assert OnsPopulationAdapter().sniff(path, read_head(path))
    result = parse(path)
    assert_accounted(result)
    assert result.skipped == {"title": 2, "blank": 2, "header": 1, "total": 1}
    assert result.rows_read == 2
    assert sorted(result.rows()["row"].unique()) == [5, 6]  # CSV lines, CRLF endings


def test_utla_header_90_without_plus_and_cp1252_names(fixtures: Path) -> None:
    result = parse(fixtures / "population-utla-cp1252-quoted-names.csv")
    assert_accounted(result)
    out = result.rows()
    assert list(dict.fromkeys(out["area_name"])) == ["Ynys Môn", "Kingston upon Hull, City of"]
    assert set(out["mid_year"]) == {2020}
    assert out.groupby("area_code")["persons"].sum().to_dict() == {
        "W06000001": sum(COUNTS),
        "E06000010": sum(COUNTS),
    }


def test_broken_rows_are_quarantined_with_reasons(fixtures: Path) -> None:
    result = parse(fixtures / "population-broken-rows.csv")
    assert_accounted(result)
    reasons = {q["row"]: q["reason"] for q in result.quarantine}
    assert reasons == {
        3: "has 5 fields but the header has 94",
        4: "age 5: 'n/a' is not a whole number of persons",
        5: "age 0: '-3' is not a whole number of persons",
    }
    assert set(result.rows()["row"]) == {2}


def test_sniff_and_missing_ages(tmp_path: Path) -> None:
    adapter = OnsPopulationAdapter()
    spend = tmp_path / "spend.csv"
    spend.write_text("Body,Date,Amount\n18,01/01/2011,12.00\n")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)))
    for path in (spend, binary):
        assert adapter.sniff(path, read_head(path)) is False
    few = tmp_path / "population-ages-missing.csv"
    few.write_text("ltla19_code,ltla19_name,total_population,0,1\nE06000001,Hartlepool,3,1,2\n")
    assert adapter.sniff(few, read_head(few))
    with pytest.raises(InputFileError, match="lacks single-year ages 0 to 90"):
        parse(few)


@pytest.mark.mirror
@pytest.mark.parametrize(
    ("relative", "areas", "year", "persons"),
    [(LTLA19, 339, 2019, 59_439_840), (UTLA19, 173, 2019, 59_439_840), (LTLA20, 336, 2020, None)],
)
def test_real_files(
    mirror: Path, relative: str, areas: int, year: int, persons: int | None
) -> None:
    path = mirror / relative
    result = parse(path)
    out = result.rows()
    assert_accounted(result)
    assert result.quarantine == [] and result.rows_read == areas
    assert len(out) == areas * 91
    assert set(out["mid_year"]) == {year}
    assert out.groupby("area_code")["age"].nunique().eq(91).all()
    if persons is not None:
        assert out["persons"].sum() == persons  # E&W total per SOURCES.md
    # each area's ages add back to the published total
    published = pd.read_csv(path).set_index(pd.read_csv(path).columns[0])["total_population"]
    pd.testing.assert_series_equal(
        out.groupby("area_code")["persons"].sum().sort_index(),
        published.sort_index().astype("int64"),
        check_names=False,
        check_index_type=False,
    )
    durham = out[(out["area_code"] == "E06000047") & (out["age"] == 0)]
    assert durham["persons"].tolist() == [4890 if year == 2019 else 4727]
