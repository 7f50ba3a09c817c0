"""Fiscal Data Package: import through the model, and export that reads back exactly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.make_fixtures import mini_lookups
from totalplace.errors import InputFileError
from totalplace.ingest.adapters.fdp import FdpAdapter, export_fdp
from totalplace.ingest.adapters.mapped import escape_formula, unescape_formula
from totalplace.ingest.adapters.spend import SpendAdapter
from totalplace.ingest.base import ParseContext, ParseResult, read_head
from totalplace.ledger.schema import LEDGER_COLUMNS, PROVENANCE_COLUMNS, conform

ADAPTER = FdpAdapter()
CONTENT = [c for c in LEDGER_COLUMNS if c not in PROVENANCE_COLUMNS]


def parse(path: Path, **options: Any) -> ParseResult:
    return ADAPTER.parse(path, ParseContext(source_id="test", options=options))


def ledger(result: ParseResult) -> pd.DataFrame:
    return conform(result.rows().assign(source_id="t", file="f", batch_id="b"))


def test_minimal_package(fixtures: Path) -> None:
    path = fixtures / "fdp-minimal" / "datapackage.json"
    assert ADAPTER.sniff(path, read_head(path))
    result = parse(path)
    rows = result.rows()
    assert rows["amount_pence"].tolist() == [12550000, 1200000, 100025000]  # factor 1000
    assert rows["year"].tolist() == ["2010-11", "2010-11", "2011-12"]
    assert set(rows["area_code"]) == {"E10000008"}  # the payer's GSS code places the rows
    assert set(rows["agency"]) == {"Devon County Council"}
    assert rows["counterparty"].tolist() == ["SOUTH WEST HIGHWAYS", "ASKEWS LTD", "AARON COURT"]
    assert rows["service_line"].tolist() == ["Highways", "Libraries", "Adult social care"]
    (q,) = result.quarantine
    assert q["row"] == 5 and q["reason"] == "'2011' is not a financial year like 2009-10"
    assert result.rows_read == 4


def test_options_fill_what_the_package_lacks(fixtures: Path, tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    shutil.copytree(fixtures / "fdp-minimal", folder)
    package = json.loads((folder / "datapackage.json").read_text())
    del package["model"]["dimensions"]["administrative"]
    (folder / "datapackage.json").write_text(json.dumps(package))
    with pytest.raises(InputFileError, match=r"gives no area_code, agency, agency_type"):
        parse(folder / "datapackage.json")
    rows = parse(folder / "datapackage.json", body="Devon", **mini_lookups()).rows()
    assert set(rows["area_code"]) == {"E10000008"} and set(rows["agency_type"]) == {"Councils"}


def test_other_currency_refused(fixtures: Path) -> None:
    with pytest.raises(InputFileError, match=r"datapackage\.json: measure 'amount' is in EUR"):
        parse(fixtures / "fdp-other-currency" / "datapackage.json")


def test_resource_must_stay_inside_the_package(tmp_path: Path) -> None:
    package = {
        "resources": [{"path": "../secret.csv"}],
        "model": {"measures": {"a": {"source": "a"}}},
    }
    path = tmp_path / "datapackage.json"
    path.write_text(json.dumps(package))
    with pytest.raises(InputFileError, match="must be a file inside the package"):
        parse(path)


def test_export_fixture_reads_back(fixtures: Path) -> None:
    path = fixtures / "fdp-ledger-export" / "datapackage.json"
    rows = parse(path).rows()
    assert rows["counterparty"].tolist()[:2] == [
        '=HYPERLINK("http://example.invalid")',
        "-SW HIGHWAYS",
    ]
    assert rows["amount_pence"].tolist() == [75460, -625000, 123456789012]
    text = (fixtures / "fdp-ledger-export" / "ledger.csv").read_text()
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text  # formula-safe on disk


def test_round_trip_of_a_real_spend_file(mirror: Path, tmp_path: Path) -> None:
    path = mirror / "spend" / "devon_cc_spend_over500_2011-01.csv"
    original = ledger(SpendAdapter().parse(path, ParseContext("t")))
    package = export_fdp(original, tmp_path / "fdp")
    assert package.name == "datapackage.json"
    assert not list((tmp_path / "fdp").glob(".*.tmp"))
    back = ledger(parse(package))
    pd.testing.assert_frame_equal(original[CONTENT], back[CONTENT])


TEXT = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
    st.sampled_from(["=1+1", "'=x", "''-y", "'abc", "@SUM(A1)", "+44 1392", "-", "'"]),
)


@given(TEXT)
def test_formula_escape_is_exactly_reversible(text: str) -> None:
    escaped = escape_formula(text)
    assert unescape_formula(escaped) == text
    assert not escaped.startswith(("=", "+", "-", "@"))


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    amounts=st.lists(st.integers(min_value=-(10**14), max_value=10**14), min_size=1, max_size=8),
    texts=st.lists(TEXT, min_size=8, max_size=8),
)
def test_round_trip_any_ledger(tmp_path: Path, amounts: list[int], texts: list[str]) -> None:
    n = len(amounts)
    frame = conform(
        pd.DataFrame(
            {
                "year": ["2010-11"] * n,
                "date": [pd.Timestamp("2010-05-04")] * n,
                "area_code": ["E10000008"] * n,
                "area_level": ["authority"] * n,
                "agency": [" ".join(texts[i].split()) or "A" for i in range(n)],
                "agency_type": ["Councils"] * n,
                "counterparty": [" ".join(t.split()) or None for t in (texts * 2)[:n]],
                "amount_pence": amounts,
                "source_id": "s",
                "file": "f",
                "row": range(n),
                "batch_id": "b",
            }
        )
    )
    folder = tmp_path / f"p{abs(hash(tuple(amounts)))}"
    back = ledger(parse(export_fdp(frame, folder)))
    pd.testing.assert_frame_equal(frame[CONTENT], back[CONTENT])
