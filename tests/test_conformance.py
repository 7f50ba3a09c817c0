"""One conformance test for every registered adapter, built-in or third-party.

Every entry point in the ``totalplace.adapters`` group is collected automatically, so an adapter
registered later joins this suite; one without a sample in `SAMPLES` fails with a message that
says what to add. Each adapter must: recognise its sample and no other adapter's, never raise in
`sniff`, give rows that fit its target's schema, account for every row it read, point every row
at a line of the file, and give money as integer pence.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

import pandas as pd
import pytest

from totalplace.errors import TotalPlaceError
from totalplace.ingest.base import (
    ENTRY_POINT_GROUP,
    Adapter,
    ParseContext,
    ParseResult,
    read_head,
    registered_adapters,
)
from totalplace.ingest.excel import is_xls, is_xlsx, open_workbook
from totalplace.ledger.schema import ADAPTER_REQUIRED, conform

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Sample:
    """A file an adapter must read: ``path`` under the data mirror (or ``fixtures/…`` for a file
    in tests/fixtures) and the fewest output rows it must give."""

    path: str
    min_rows: int


#: adapter name -> its sample. A new adapter adds one line here.
SAMPLES: dict[str, Sample] = {
    "cra": Sample("cra_pesa/cra2010_pesa2010_chapter9_db.xlsx", 60_000),
    "ons_population": Sample("population/ons_mye_mid2019_persons_ltla2019_ew.csv", 339 * 91),
    "revenue_outturn": Sample("la_finance/revenue_outturn_summary_RS_2010-11_by_LA.xls", 2_500),
    # Added for adapters registered later (by their files as they stood); owners may change them.
    "spend": Sample("spend/devon_cc_spend_over500_2011-01.csv", 7_000),
    "supplier_totals": Sample("fixtures/supplier-totals-with-sidecar.csv", 4),
    "grants360": Sample("grants/360giving_covid19_grants_2020-05-07.json", 1_200),
    "fdp": Sample("fixtures/fdp-minimal/datapackage.json", 3),
    "mapped": Sample("fixtures/police-return.csv", 2),
    "hmt_deflators": Sample("deflators/hmt_gdp_deflators_budget_2020-03.xlsx", 70),
}

#: Targets other than the ledger: the columns each reference table takes, and which are counts.
REFERENCE_TARGETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "population": (
        ("area_code", "area_name", "mid_year", "age", "persons", "row"),
        ("mid_year", "age", "persons", "row"),
    ),
    "deflators": (("year", "index", "status", "base_year", "row"), ("row",)),
}

ADAPTERS = sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


@cache
def load(name: str) -> Adapter:
    (ep,) = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    try:
        adapter: Adapter = ep.load()()
        return adapter
    except Exception as exc:  # pragma: no cover - reported as a failure with the cause
        pytest.fail(f"adapter {name!r} is registered ({ep.value}) but cannot be loaded: {exc!r}")


def sample_path(name: str, mirror: Path | None) -> Path:
    if name not in SAMPLES:
        pytest.fail(
            f"adapter {name!r} has no conformance sample: add "
            f"'{name}': Sample('<path under the mirror or fixtures/…>', <min rows>) to SAMPLES "
            "in tests/test_conformance.py"
        )
    sample = SAMPLES[name]
    if sample.path.startswith("fixtures/"):
        return FIXTURES / sample.path.removeprefix("fixtures/")
    if mirror is None:
        pytest.skip("data mirror not found")
    return mirror / sample.path


@cache
def parsed(name: str, path: Path) -> ParseResult:
    return load(name).parse(path, ParseContext(source_id=f"test:{name}"))


def last_row(path: Path) -> int:
    """The last line (CSV/text) or spreadsheet row (any sheet) a row number may point at."""
    head = read_head(path, 8)
    if is_xlsx(head) or is_xls(head):
        with open_workbook(path) as book:
            return max(book.row_counts().values())
    return len(path.read_bytes().splitlines())


# -- declarations ----------------------------------------------------------------------------------
def test_registry_loads_every_adapter() -> None:
    assert sorted(registered_adapters()) == ADAPTERS


@pytest.mark.parametrize("name", ADAPTERS)
def test_adapter_declares_itself(name: str) -> None:
    adapter = load(name)
    assert adapter.name == name, f"entry point {name!r} loads an adapter named {adapter.name!r}"
    assert adapter.title.strip()
    assert adapter.suffixes and all(s.startswith(".") and s == s.lower() for s in adapter.suffixes)
    known = {"ledger", *REFERENCE_TARGETS}
    assert adapter.target in known, (
        f"adapter {name!r} targets {adapter.target!r}: add its columns to REFERENCE_TARGETS"
    )
    assert name in SAMPLES, f"adapter {name!r} has no conformance sample in SAMPLES"


# -- sniff -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ADAPTERS)
def test_sniff_accepts_its_sample_and_rejects_the_others(name: str, mirror: Path) -> None:
    adapter = load(name)
    own = sample_path(name, mirror)
    assert own.suffix.lower() in adapter.suffixes
    assert adapter.sniff(own, read_head(own)), f"{name} does not recognise its sample {own.name}"
    others = [sample_path(o, mirror) for o in SAMPLES if o != name]
    for other in others:
        assert not adapter.sniff(other, read_head(other)), f"{name} claims {other.name}"


@pytest.mark.parametrize("name", ADAPTERS)
def test_sniff_never_raises_on_junk(name: str, tmp_path: Path) -> None:
    adapter = load(name)
    junk = {
        "empty": b"",
        "binary": bytes(range(256)) * 4,
        "zip-magic": b"PK\x03\x04" + b"\0" * 200,
        "ole-magic": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600,
        "text": b"a,b,c\n1,2,3\n",
    }
    for suffix in adapter.suffixes:
        for label, content in junk.items():
            path = tmp_path / f"{label}{suffix}"
            path.write_bytes(content)
            assert adapter.sniff(path, read_head(path)) is False, f"{name} claims {path.name}"


@pytest.mark.parametrize("name", ADAPTERS)
def test_parse_fails_cleanly_on_an_empty_file(name: str, tmp_path: Path) -> None:
    """A whole file that cannot be read is a TotalPlaceError naming it, never a crash."""
    adapter = load(name)
    path = tmp_path / f"empty{adapter.suffixes[0]}"
    path.write_bytes(b"")
    try:
        result = adapter.parse(path, ParseContext(source_id="test"))
    except TotalPlaceError as exc:
        assert path.name in str(exc)
        return
    assert result.rows_out == 0 and result.rows_read == len(result.quarantine)


# -- parse -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ADAPTERS)
def test_output_fits_the_target_schema(name: str, mirror: Path) -> None:
    adapter = load(name)
    path = sample_path(name, mirror)
    rows = parsed(name, path).rows()
    assert len(rows) >= SAMPLES[name].min_rows
    if adapter.target == "ledger":
        missing = [c for c in ADAPTER_REQUIRED if c not in rows.columns]
        assert not missing, f"{name} rows lack {missing}"
        assert pd.api.types.is_integer_dtype(rows["amount_pence"]), "amounts must be int pence"
        conformed = conform(rows.assign(source_id=f"test:{name}", file=path.name, batch_id="b"))
        assert len(conformed) == len(rows)
        assert conformed["amount_pence"].sum() == rows["amount_pence"].sum()
    else:
        columns, counts = REFERENCE_TARGETS[adapter.target]
        assert set(columns) <= set(rows.columns), f"{name} rows lack {set(columns) - set(rows)}"
        for c in counts:
            assert pd.api.types.is_integer_dtype(rows[c]), f"{name}: {c} must be integers"
        assert rows[list(columns)].notna().all().all()


@pytest.mark.parametrize("name", ADAPTERS)
def test_every_row_read_is_accounted_for(name: str, mirror: Path) -> None:
    """rows read = rows represented in the output + quarantined + excluded on purpose.

    Skipped keys starting 'excluded:' are data rows left out deliberately; every other skipped
    key (title, header, blank, total…) names rows that are not data and are not in rows_read.
    """
    path = sample_path(name, mirror)
    result = parsed(name, path)
    rows = result.rows()
    assert all(isinstance(k, str) and k and n > 0 for k, n in result.skipped.items())
    excluded = sum(n for k, n in result.skipped.items() if k.startswith("excluded:"))
    out_rows = set(rows["row"].astype("int64"))
    quarantined = {int(q["row"]) for q in result.quarantine}
    assert len(quarantined) == len(result.quarantine), "a row is quarantined twice"
    assert not out_rows & quarantined, "a row is both in the output and quarantined"
    assert result.rows_read == len(out_rows) + len(quarantined) + excluded, result.skipped
    for q in result.quarantine:
        assert set(q) == {"row", "reason", "raw"} and q["reason"].strip() and q["raw"].strip()


@pytest.mark.parametrize("name", ADAPTERS)
def test_rows_point_into_the_file(name: str, mirror: Path) -> None:
    path = sample_path(name, mirror)
    result = parsed(name, path)
    rows = result.rows()
    assert "row" in rows.columns and pd.api.types.is_integer_dtype(rows["row"])
    numbers = [*rows["row"].tolist(), *(q["row"] for q in result.quarantine)]
    assert min(numbers) >= 1 and max(numbers) <= last_row(path)
