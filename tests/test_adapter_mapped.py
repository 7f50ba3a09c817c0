"""The generic mapped adapter: any CSV/XLSX plus a small YAML/TOML mapping file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.make_fixtures import mini_lookups
from totalplace.errors import InputFileError
from totalplace.ingest.adapters.mapped import MappedAdapter, find_mapping
from totalplace.ingest.base import ParseContext, ParseResult, read_head

ADAPTER = MappedAdapter()


def parse(path: Path, **options: Any) -> ParseResult:
    return ADAPTER.parse(path, ParseContext(source_id="test", options=options))


def test_police_return_with_yaml_sidecar(fixtures: Path) -> None:
    path = fixtures / "police-return.csv"
    assert find_mapping(path) == fixtures / "police-return.mapping.yaml"
    assert ADAPTER.sniff(path, read_head(path))
    result = parse(path)
    rows = result.rows()
    assert rows["amount_pence"].tolist() == [4125050000, 1800400000]  # £ thousand
    assert set(rows["area_code"]) == {"E23000002"}
    assert set(rows["area_level"]) == {"police_force_area"}
    assert set(rows["agency_type"]) == {"Police"} and set(rows["year"]) == {"2010-11"}
    assert rows["service_line"].tolist() == ["Neighbourhood policing", "Investigations"]
    assert result.skipped == {"title": 1, "excluded:blank amount": 1, "total": 1}
    assert [q["reason"] for q in result.quarantine] == [
        "area_code is empty",
        "amount '3100O' is not a number",
    ]
    assert result.rows_read == len(rows) + len(result.quarantine) + 1


def test_xlsx_with_toml_mapping(fixtures: Path) -> None:
    path = fixtures / "nhs-return-thousands.xlsx"
    result = parse(path)
    rows = result.rows()
    assert rows["amount_pence"].tolist() == [1250050000, 300000000]
    assert rows["row"].tolist() == [3, 4]
    assert set(rows["agency_type"]) == {"NHS and health"}
    assert result.skipped == {"title": 1, "total": 1}
    assert "mapping: nhs-return-thousands.mapping.toml" in result.notes


def test_mapping_given_in_options(fixtures: Path, tmp_path: Path) -> None:
    path = fixtures / "gross-vat-net-columns.csv"
    assert not ADAPTER.sniff(path, read_head(path))  # no sidecar
    mapping = {
        "columns": {
            "amount": "Gross",
            "counterparty": "ENEntity Name",
            "date": "PymtDate",
            "service_line": ["Expense Area", "Description"],
        },
        "body": "Devon",
    }
    rows = parse(path, mapping=mapping, **mini_lookups()).rows()
    assert rows["amount_pence"].tolist() == [12000, -734375]
    assert rows["year"].tolist() == ["2010-11", "2010-11"]
    assert set(rows["area_code"]) == {"E10000008"} and set(rows["agency_type"]) == {"Councils"}
    assert rows["service_line"].tolist()[0] == "Adult & Community Services"
    file = tmp_path / "m.mapping.yaml"
    file.write_text(
        "columns:\n  amount: Net\n  date: PymtDate\nfixed:\n  agency: X\n"
        "  agency_type: Councils\n  area_code: E10000008\n"
    )
    rows = parse(path, mapping=str(file)).rows()
    assert rows["amount_pence"].tolist() == [10000, -625000]
    assert set(rows["area_level"]) == {"upper_tier"}  # from the GSS code's prefix


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"columns": {"amount": "Net"}}, "no value for year, area_code, agency, agency_type"),
        ({"columns": {"amont": "Net"}}, "unknown ledger field(s) amont"),
        ({"columns": {"date": "PymtDate"}}, "must name the amount column"),
        (
            {"columns": {"amount": "Net", "year": "X"}, "fixed": {"year": "2010"}},
            "fixed year: '2010' is not a financial year",
        ),
        (
            {
                "columns": {"amount": "Nope", "date": "PymtDate"},
                "fixed": {"agency": "A", "agency_type": "T", "area_code": "E10000008"},
            },
            "no header row with the columns named in mapping given in options",
        ),
    ],
)
def test_bad_mappings_are_one_clear_error(fixtures: Path, mapping: dict, message: str) -> None:
    with pytest.raises(InputFileError, match=r"^gross-vat-net-columns\.csv: ") as err:
        parse(fixtures / "gross-vat-net-columns.csv", mapping=mapping)
    assert message in str(err.value)


def test_missing_or_broken_mapping_file(fixtures: Path, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"no mapping: pass --option mapping=FILE"):
        parse(fixtures / "bom-utf8.csv")
    with pytest.raises(InputFileError, match=r"mapping file nowhere\.yaml not found"):
        parse(fixtures / "bom-utf8.csv", mapping="nowhere.yaml")
    broken = tmp_path / "broken.mapping.yaml"
    broken.write_text("columns: [unclosed\n")
    with pytest.raises(InputFileError, match=r"^broken\.mapping\.yaml: cannot be read"):
        parse(fixtures / "bom-utf8.csv", mapping=str(broken))
