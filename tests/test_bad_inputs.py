"""Bad and awkward input files, end to end through the ingest pipeline.

Each fixture either ingests with exactly the expected ledger and quarantine counts (and amount),
or fails with ONE clear error line naming the file; a batch goes on past a bad file. Then
hypothesis generates messy spend CSVs and checks the accounting and the total.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.make_fixtures import mini_lookups
from totalplace.ingest.adapters.spend import SpendAdapter
from totalplace.ingest.base import ParseContext
from totalplace.ingest.pipeline import FileReport, ingest_file
from totalplace.ledger.store import Store

FIXTURES = Path(__file__).parent / "fixtures"

#: fixture -> (ledger rows, quarantined rows, ledger total in pence), with options if needed.
INGESTS: dict[str, tuple[int, int, int] | tuple[int, int, int, dict[str, Any]]] = {
    "amount-in-brackets.csv": (3, 0, -62345),
    "bad-amount-letter-o.csv": (1, 2, 1050000),
    "bad-date.csv": (1, 2, 61240),
    "blank-rows-between-data.csv": (3, 0, 1326702),
    "body-gss-code.csv": (2, 0, 216182),
    "bom-utf8.csv": (3, 0, 1326702),
    "central-government-25k.csv": (3, 0, 12900000),
    "cp1252-pound-sign.csv": (3, 0, 132449),
    "credit-note-trailing-minus.csv": (4, 0, 52656),
    "crlf-line-endings.csv": (3, 0, 1326702),
    "date-9999.csv": (1, 2, 61240),
    "date-time-iso.csv": (3, 0, 1307012),
    "description-column-besides-department.csv": (2, 0, 206240, {"body": "Devon"}),
    "devon-style-body-code-18.csv": (2, 0, 0),
    "duplicate-rows-kept.csv": (2, 0, 430924),
    "excel-serial-dates.xlsx": (3, 0, -334078),
    "fdp-ledger-export/datapackage.json": (3, 0, 123456239472),
    "fdp-minimal/datapackage.json": (3, 1, 113775000),
    "grand-total-footer.csv": (3, 0, 1326702),
    "grants-lsoa.csv": (2, 1, 350050),
    "grants-minified-one-line.json": (1, 1, 1000000),
    "grants-mixed-amounts-and-dates.json": (2, 4, 20025),
    "grants-other-currency.json": (1, 1, 1000000),
    "grants-swapped-geocode.json": (2, 1, 750050),
    "gross-vat-net-columns.csv": (2, 0, -615000, {"body": "Devon"}),
    "header-only.csv": (0, 0, 0),
    "junk-footer-after-total.csv": (2, 1, 276702),  # the junk after Total is no row
    "junk-row-between-subtotal-and-data.csv": (2, 1, 276702),
    "lowercase-headers-paid-to.csv": (2, 0, 141649),
    "misplaced-thousands-separators.csv": (4, 3, 246666778),
    "mixed-utf8-cp1252.csv": (4, 0, 134950),
    "mojibake-supplier.csv": (2, 0, 30000),
    "multiline-quoted-description.csv": (3, 0, 1326702),
    "nbsp-thousands-cp1252.csv": (2, 0, 173450),
    "nhs-return-thousands.xlsx": (2, 0, 1550050000),
    "padded-quoted-thousands.csv": (3, 0, 143594828),
    "police-return.csv": (2, 2, 5925450000),
    "quote-never-closed.csv": (1, 1, 215462),
    "redacted-supplier.csv": (3, 0, 359490),
    "report-style-dates.csv": (3, 0, 1326702),
    "salford-layout-authority-name.csv": (3, 0, 200000),  # body from Authority Name
    "semicolon-delimited.csv": (2, 0, 1265462),
    "subj-description-column.csv": (2, 0, 333050, {"body": "Lambeth"}),
    "subtotal-rows.csv": (3, 0, 376702),
    "supplier-named-total.csv": (3, 0, 554524),
    "supplier-totals-with-sidecar.csv": (4, 1, 712118383),
    "tab-delimited.tsv": (2, 0, 1265462),
    "title-rows-before-header.csv": (3, 0, 1326702),
    "too-few-fields.csv": (3, 1, 286702),
    "too-many-fields.csv": (3, 1, 286702),
    "unknown-body.csv": (1, 2, 61240),
    "us-looking-date.csv": (2, 1, 276702),
    "utf16le-bom-tab.txt": (3, 0, 132449),
    "xlsx-title-rows-and-total.xlsx": (1, 1, 10000),
    "xlsx-untyped-error-cell.xlsx": (2, 2, 50460),
}

#: fixture -> (adapter or None to detect, options, pattern the one error line must match).
FAILS: list[tuple[str, str | None, dict[str, Any], str]] = [
    ("empty.csv", None, {}, r"^empty\.csv: file is empty$"),
    ("binary-garbage.csv", None, {}, r"^binary-garbage\.csv: is a binary file \(NUL bytes\)"),
    ("binary-garbage.csv", "spend", {}, r"^binary-garbage\.csv: is a binary file \(NUL bytes\)"),
    ("unknown-layout.csv", None, {}, r"^unknown-layout\.csv: no adapter recognises this file"),
    ("unknown-layout.csv", "spend", {}, r"^unknown-layout\.csv: no header row with amount, date"),
    ("zip-bomb.xlsx", None, {}, r"^zip-bomb\.xlsx: refused: .* \(possible zip bomb\)$"),
    ("zip-bomb.xlsx", "spend", {}, r"^zip-bomb\.xlsx: refused: .* \(possible zip bomb\)$"),
    (
        "very-long-line.csv",
        None,
        {"max_line_bytes": 4096},
        r"^very-long-line\.csv: line 3 is longer than 4,096 bytes",
    ),
    (
        "supplier-totals-no-period.csv",
        None,
        {},
        r"^supplier-totals-no-period\.csv: .*--option year=2010-11 --option body=Lambeth",
    ),
    (
        "fdp-other-currency/datapackage.json",
        None,
        {},
        r"^datapackage\.json: measure 'amount' is in EUR: not summed as pounds$",
    ),
    (
        "gross-vat-net-columns.csv",
        None,
        {},
        r"^gross-vat-net-columns\.csv: the file names no "
        r"paying body: pass --option body=NAME",
    ),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with Store(tmp_path_factory.mktemp("bad") / "store.duckdb") as s:
        yield s


def ingest(store: Store, name: str, adapter: str | None = None, **options: Any) -> FileReport:
    return ingest_file(
        store, FIXTURES / name, adapter=adapter, options={**mini_lookups(), **options}, force=True
    )


def test_enough_fixtures_named_after_their_problem() -> None:
    files = [
        p
        for p in FIXTURES.rglob("*")
        if p.is_file()
        and not p.name.endswith(".py")
        # inputs of other commands than ingest (driver-add, transfers)
        and not p.name.startswith(("population-", "transfer-"))
    ]
    assert len(files) >= 40
    covered = set(INGESTS) | {f[0] for f in FAILS}
    data = {
        str(p.relative_to(FIXTURES))
        for p in files
        if (
            p.suffix in (".csv", ".tsv", ".xlsx", ".json")
            and p.name != "ledger.csv"
            and p.parent.name not in ("fdp-minimal", "fdp-other-currency")
        )
        or p.name == "datapackage.json"
    }
    assert data <= covered, f"fixtures without an expectation: {sorted(data - covered)}"


@pytest.mark.parametrize("name", sorted(INGESTS))
def test_fixture_ingests_exactly(store: Store, name: str) -> None:
    ledger, quarantined, pence, *rest = INGESTS[name]
    options: dict[str, Any] = rest[0] if rest else {}  # type: ignore[assignment]
    report = ingest(store, name, **options)
    assert report.status == "ingested", report.message
    assert (report.rows_ledger, report.rows_quarantined) == (ledger, quarantined)
    assert report.rows_read == ledger + quarantined + (1 if name == "police-return.csv" else 0)
    assert round(report.amount_gbp * 100) == pence
    stored = store.query(
        "SELECT count(*) AS n, coalesce(sum(amount_pence), 0) AS p FROM ledger WHERE batch_id = ?",
        [report.batch_id],
    )
    assert int(stored["n"][0]) == ledger and int(stored["p"][0]) == pence
    q = store.query("SELECT row, reason, raw FROM quarantine WHERE batch_id = ?", [report.batch_id])
    assert len(q) == quarantined and q["reason"].str.len().gt(0).all()


@pytest.mark.parametrize(
    ("name", "adapter", "options", "pattern"),
    FAILS,
    ids=[f"{f[0]}-{f[1] or 'detect'}" for f in FAILS],
)
def test_bad_file_is_one_clear_error(
    store: Store, name: str, adapter: str | None, options: dict[str, Any], pattern: str
) -> None:
    report = ingest(store, name, adapter, **options)
    assert report.status == "error"
    assert "\n" not in report.message and report.message.strip() == report.message
    assert re.search(pattern, report.message), report.message
    assert Path(name).name in report.message


def test_gigantic_line_at_the_default_limit(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "gigantic-line.csv"
    head = (FIXTURES / "bom-utf8.csv").read_bytes()
    path.write_bytes(head + b"x" * (1024 * 1024 + 1) + b"\n")
    report = ingest_file(store, path, options=mini_lookups())
    assert report.status == "error"
    assert report.message == (
        "gigantic-line.csv: line 5 is longer than 1,048,576 bytes: not a "
        "table this tool reads (option max_line_bytes)"
    )


def test_a_batch_goes_on_past_a_bad_file(tmp_path: Path) -> None:
    names = [
        "bom-utf8.csv",
        "binary-garbage.csv",
        "empty.csv",
        "zip-bomb.xlsx",
        "too-few-fields.csv",
    ]
    with Store(tmp_path / "s.duckdb") as store:
        reports = [ingest(store, n) for n in names]
        assert [r.status for r in reports] == ["ingested", "error", "error", "error", "ingested"]
        batches = store.query("SELECT file, rows_ledger FROM batches ORDER BY file")
        assert batches.to_dict("records") == [
            {"file": "bom-utf8.csv", "rows_ledger": 3},
            {"file": "too-few-fields.csv", "rows_ledger": 3},
        ]
        assert not store.check()


# -- hypothesis: messy spend files ------------------------------------------------------------
SUPPLIERS = [
    "AARON COURT",
    "O’BRIEN & SONS",
    "CAFÉ ROYAL LTD",
    "REDACTED UNDER DP ACT",
    "TOTAL BUTLER (CREDITON)",
    "Smith, Jones; Partners",
    "£ WISE LTD",
    "  padded  ",
]
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def format_amount(value: Decimal, style: int) -> str:
    text = f"{abs(value):,.2f}" if style in (1, 2, 4) else f"{abs(value):.2f}"
    if style == 2:
        text = f"  {text} "
    if style == 3:
        text = f"£{text}"
    if value < 0:
        return (
            f"({text})"
            if style in (1, 4)
            else f"-{text.strip()}"
            if style != 2
            else (f" -{text.strip()} ")
        )
    return text


def format_date(day: dt.date, style: int) -> str:
    return [
        f"{day:%d/%m/%Y}",
        day.isoformat(),
        f"{day.isoformat()} 00:00:00",
        f"{day.day:02d}-{MONTHS[day.month - 1]}-{day.year}",
    ][style]


row_strategy = st.fixed_dictionaries(
    {
        "amount": st.decimals(
            min_value=-1_000_000,
            max_value=1_000_000,
            places=2,
            allow_nan=False,
            allow_infinity=False,
        ),
        "amount_style": st.integers(0, 4),
        "day": st.dates(dt.date(2009, 4, 1), dt.date(2013, 3, 31)),
        "date_style": st.integers(0, 3),
        "supplier": st.sampled_from(SUPPLIERS),
        "broken": st.sampled_from([None] * 6 + ["few", "many", "amount", "date"]),
    }
)


@st.composite
def messy_file(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "rows": draw(st.lists(row_strategy, min_size=0, max_size=25)),
        "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"])),
        "delimiter": draw(st.sampled_from([",", ";", "\t"])),
        "titles": draw(st.integers(0, 3)),
        "total": draw(st.booleans()),
        "crlf": draw(st.booleans()),
        "blank_lines": draw(st.integers(0, 2)),
    }


def write_messy(spec: dict[str, Any], path: Path) -> tuple[int, int, int]:
    """Write the file; return (good rows, broken rows, total pence of the good rows)."""
    out = io.StringIO()
    writer = csv.writer(
        out, delimiter=spec["delimiter"], lineterminator="\r\n" if spec["crlf"] else "\n"
    )
    for i in range(spec["titles"]):
        writer.writerow([f"Devon County Council payments over £500 (report {i})"])
    writer.writerow(
        [
            "Body Name",
            "Date",
            "Expense Area",
            "Expense Type",
            "Supplier Name",
            "Transaction Number",
            "Amount",
        ]
    )
    good = bad = total = 0
    for n, row in enumerate(spec["rows"]):
        amount = format_amount(row["amount"], row["amount_style"])
        date = format_date(row["day"], row["date_style"])
        cells = [
            "Devon County Council",
            date,
            "Adult Services",
            "Care",
            row["supplier"],
            f"T{n}",
            amount,
        ]
        if row["broken"] == "few":
            cells = cells[:5]
        elif row["broken"] == "many":
            cells = [*cells, "EXTRA"]
        elif row["broken"] == "amount":
            cells[6] = "12,3O4.00"
        elif row["broken"] == "date":
            cells[1] = "31/02/2011"
        writer.writerow(cells)
        if row["broken"]:
            bad += 1
        else:
            good += 1
            total += int(row["amount"] * 100)
        if n == 0:
            for _ in range(spec["blank_lines"]):
                writer.writerow([])
    if spec["total"]:
        writer.writerow(["", "", "", "", "Grand Total", "", f"{Decimal(total) / 100:.2f}"])
    path.write_bytes(out.getvalue().encode(spec["encoding"]))
    return good, bad, total


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=messy_file())
def test_messy_spend_files_account_for_every_row(tmp_path: Path, spec: dict[str, Any]) -> None:
    path = tmp_path / "messy.csv"
    good, bad, total = write_messy(spec, path)
    result = SpendAdapter().parse(path, ParseContext("t", options=mini_lookups()))
    rows = result.rows()
    assert result.rows_read == good + bad
    assert len(rows) == good and len(result.quarantine) == bad
    assert (int(rows["amount_pence"].sum()) if len(rows) else 0) == total
    assert result.skipped.get("total", 0) == int(spec["total"])
    assert result.skipped.get("title", 0) == spec["titles"]
    for q in result.quarantine:
        assert q["raw"] and q["reason"]
    if spec["encoding"] == "cp1252" and any(
        not r["broken"] and r["supplier"] == "O’BRIEN & SONS" for r in spec["rows"]
    ):
        assert "O’BRIEN & SONS" in set(rows["counterparty"])


def test_store_keeps_decoded_text_and_actionable_reasons(tmp_path: Path) -> None:
    """cp1252 is decoded in Python (DuckDB only reads UTF-8/UTF-16/Latin-1 itself), and a
    quarantined row keeps its line, its original text and a reason a person can act on."""
    with Store(tmp_path / "s.duckdb") as store:
        assert ingest(store, "cp1252-pound-sign.csv").status == "ingested"
        assert ingest(store, "bad-amount-letter-o.csv").status == "ingested"
        names = set(store.query("SELECT counterparty FROM ledger")["counterparty"])
        assert {"O’BRIEN & SONS", "CAFÉ ROYAL LTD"} <= names
        q = store.query("SELECT file, row, reason, raw FROM quarantine ORDER BY row")
        first = q.iloc[0]
        assert (first["file"], first["row"]) == ("bad-amount-letter-o.csv", 2)
        assert first["reason"] == "amount '12,3O4.00' is not a number"
        assert first["raw"].endswith('T1,"12,3O4.00"')
        notes = store.query("SELECT notes FROM batches WHERE file = 'cp1252-pound-sign.csv'")
        assert "Windows-1252" in notes["notes"][0]
