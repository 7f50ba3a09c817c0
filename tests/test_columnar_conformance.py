"""The columnar ingest (`ingest_files`: workers, `columnar.parse_spend`, one writer) gives the
same ledger, quarantine and batch records as the row-level path (`ingest_file` file by file),
row for row and line for line: on every mirror spend file, every fixture, and the generator's
data. Its strict patterns take only values the row-level rules parse identically."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.generate import generate
from tests.fixtures.make_fixtures import mini_lookups
from totalplace.ingest import columnar
from totalplace.ingest.adapters import spend
from totalplace.ingest.base import ParseContext, ParseResult
from totalplace.ingest.bulk import FileJob, ingest_files
from totalplace.ingest.pipeline import ingest_file
from totalplace.ingest.tabular import amount_pence
from totalplace.ingest.values import financial_year, parse_date, plausible_years
from totalplace.ledger.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
#: Mirror spend files and the options a user gives them (the ones without are detected alone).
MIRROR_SPEND: dict[str, dict[str, str]] = {
    "bradford_mdc_payments_2018-03_clean.csv": {"body": "Bradford"},
    "devon_cc_spend_over500_2010-05.xls": {"body": "Devon"},
    "devon_cc_spend_over500_2011-01.csv": {},
    "devon_cc_spend_over500_2020-10.csv": {},
    "gla_expenditure_fy2009-10_extract.csv": {"body": "Greater London Authority"},
    "hammersmith_fulham_spend_sample_2010.csv": {},
    "manchester_cc_spend_over500_2010-12_clean.csv": {},
}


def snapshot(store: Store) -> dict[str, Any]:
    """Everything an ingest wrote, without the random batch ids, in a stable order."""
    ledger = store.query(
        "SELECT * EXCLUDE (batch_id, rowid) FROM ledger ORDER BY source_id, file, row"
    )
    quarantine = store.query(
        "SELECT * EXCLUDE (batch_id) FROM quarantine ORDER BY source_id, file, row, reason"
    )
    batches = store.query(
        "SELECT source_id, file, content_sha256, adapter, target, rows_read, rows_ledger, "
        "rows_quarantined, amount_pence, skipped, notes FROM batches ORDER BY source_id, file"
    )
    batches["skipped"] = batches["skipped"].map(json.loads)
    batches["notes"] = batches["notes"].map(json.loads)
    return {
        "ledger": ledger.astype(object).where(ledger.notna(), None).to_dict("records"),
        "quarantine": quarantine.to_dict("records"),
        "batches": batches.to_dict("records"),
        "population": store.query("SELECT count(*) AS n FROM population").iloc[0, 0],
    }


def both_paths(tmp_path: Path, jobs: list[FileJob], workers: int = 1) -> tuple[Any, Any]:
    """(row-level snapshot and reports, columnar snapshot and reports) of the same jobs."""
    with Store(tmp_path / "row-level.duckdb") as store:
        reports = [
            ingest_file(store, j.path, source_id=j.source_id, options=j.options) for j in jobs
        ]
        row_level = snapshot(store), [(r.file, r.status, r.message) for r in reports]
    with Store(tmp_path / f"columnar-{workers}.duckdb") as store:
        reports = ingest_files(store, jobs, workers=workers)
        fast = snapshot(store), [(r.file, r.status, r.message) for r in reports]
    return row_level, fast


def assert_same(row_level: Any, fast: Any) -> None:
    (want, want_reports), (got, got_reports) = row_level, fast
    assert got_reports == want_reports
    for part in ("batches", "quarantine", "population"):
        assert got[part] == want[part], part
    assert len(got["ledger"]) == len(want["ledger"])
    for a, b in zip(got["ledger"], want["ledger"], strict=True):
        assert a == b, (a, b)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("generated")
    manifest = generate(20_000, out, councils=24, mirror=mirror, workers=1)
    return out, manifest


def generated_jobs(out: Path, manifest: dict[str, Any]) -> list[FileJob]:
    return [FileJob(out / f["name"], f"spend:{f['gss']}", f["options"]) for f in manifest["files"]]


@pytest.fixture(params=[True, False], ids=["lines-counted", "lines-numbered-by-reader"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Both ways the columnar path finds the lines with another number of fields: counted by
    `columnar._fields_per_line` (pyarrow's reader with threads, as in a one-process ingest,
    cannot number the lines it skips) or numbered by the reader (as in the pool's workers)."""
    monkeypatch.setattr(columnar, "USE_THREADS", request.param)
    return bool(request.param)


# -- the two paths agree ---------------------------------------------------------------------------
@pytest.mark.usefixtures("reader")
def test_every_mirror_spend_file_same_ledger_and_quarantine(mirror: Path, tmp_path: Path) -> None:
    jobs = [FileJob(mirror / "spend" / n, f"mirror:{n}", o) for n, o in MIRROR_SPEND.items()]
    row_level, fast = both_paths(tmp_path, jobs)
    assert_same(row_level, fast)
    assert len(fast[0]["ledger"]) > 30_000


@pytest.mark.usefixtures("reader")
def test_every_fixture_same_result_and_same_errors(tmp_path: Path) -> None:
    files = sorted(p for p in FIXTURES.iterdir() if p.is_file() and p.suffix != ".py")
    jobs = [FileJob(p, None, mini_lookups()) for p in files]
    row_level, fast = both_paths(tmp_path, jobs)
    assert_same(row_level, fast)
    statuses = {s for _f, s, _m in fast[1]}
    assert statuses == {"ingested", "error"}  # hostile fixtures give their errors, the rest go in


@pytest.mark.usefixtures("reader")
def test_generated_data_same_ledger_and_every_broken_row_quarantined(
    generated: tuple[Path, Any], tmp_path: Path
) -> None:
    out, manifest = generated
    row_level, fast = both_paths(tmp_path, generated_jobs(out, manifest))
    assert_same(row_level, fast)
    got = fast[0]
    assert len(got["quarantine"]) == manifest["bad_rows"] > 0
    assert sum(b["rows_ledger"] for b in got["batches"]) + manifest["bad_rows"] == manifest["rows"]
    assert sum(b["amount_pence"] for b in got["batches"]) == manifest["amount_pence"]


def test_one_or_two_workers_give_the_same_ledger(
    generated: tuple[Path, Any], tmp_path: Path
) -> None:
    out, manifest = generated
    jobs = generated_jobs(out, manifest)
    snaps = []
    for workers in (1, 2):
        with Store(tmp_path / f"w{workers}.duckdb") as store:
            reports = ingest_files(store, jobs, workers=workers)
            assert all(r.status == "ingested" for r in reports)
            snaps.append(snapshot(store))
    assert snaps[0] == snaps[1]


def test_how_the_writer_batches_changes_nothing(
    generated: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every file streamed into the store on its own (as a file over `STREAM_BYTES` is), or
    small files gathered into many INSERTs and commits, gives the ledger of the defaults."""
    from totalplace.ingest import bulk

    out, manifest = generated
    jobs = generated_jobs(out, manifest)
    snaps = []
    for name, stream, gather, commit in (
        ("default", bulk.STREAM_BYTES, bulk.GATHER_ROWS, bulk.COMMIT_ROWS),
        ("streamed", 0, bulk.GATHER_ROWS, bulk.COMMIT_ROWS),
        ("small", bulk.STREAM_BYTES, 1_000, 3_000),
    ):
        monkeypatch.setattr(bulk, "STREAM_BYTES", stream)
        monkeypatch.setattr(bulk, "GATHER_ROWS", gather)
        with Store(tmp_path / f"{name}.duckdb") as store:
            reports = ingest_files(store, jobs, workers=1, commit_rows=commit)
            assert all(r.status == "ingested" for r in reports), name
            snaps.append(snapshot(store))
    assert snaps[0] == snaps[1] == snaps[2]
    assert (
        sum(b["rows_ledger"] for b in snaps[1]["batches"]) + manifest["bad_rows"]
        == (manifest["rows"])
    )


def test_generated_rows_go_the_vectorised_way(
    generated: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the rows the strict patterns refuse (broken, total, blank) reach the row rules."""
    out, manifest = generated
    seen = {"rows": 0}
    row_rules = spend._read_rows

    def counting(table: Any, result: ParseResult, payer: Any, years: tuple[int, int]) -> None:
        before = result.rows_read
        row_rules(table, result, payer, years)
        seen["rows"] += result.rows_read - before

    monkeypatch.setattr(spend, "_read_rows", counting)
    read = 0
    for f in manifest["files"]:
        result = ParseResult()
        context = ParseContext("t", options=f["options"])
        batches = list(columnar.parse_spend(out / f["name"], context, result))
        assert sum(b.num_rows for b in batches) + len(result.quarantine) == result.rows_read
        read += result.rows_read
    assert read == manifest["rows"]
    assert seen["rows"] == manifest["bad_rows"]


def test_chunk_boundaries_change_nothing(generated: tuple[Path, Any]) -> None:
    """A file read in 4 KiB chunks gives what it gives in one: lines are numbered across
    chunks and no record is cut."""
    out, manifest = generated
    f = max(manifest["files"], key=lambda f: f["bytes"])
    context = ParseContext("t", options=f["options"])
    runs = []
    for size in (4096, columnar.CHUNK_BYTES):
        result = ParseResult()
        table = pa.Table.from_batches(
            list(columnar.parse_spend(out / f["name"], context, result, chunk_bytes=size))
        )
        runs.append((table.sort_by("row").to_pylist(), result.quarantine, result.rows_read))
    assert f["bytes"] > 10 * 4096
    assert runs[0] == runs[1]


@pytest.mark.usefixtures("reader")
def test_odd_lines_go_to_the_row_rules_with_their_line(tmp_path: Path) -> None:
    """Misplaced thousands, a bare 'TBC', too few fields and a total row between good rows:
    the row rules quarantine, skip or take each, naming the line the row-level path names."""
    path = tmp_path / "odd-lines.csv"
    path.write_text(
        "Body Name,Date,Supplier Name,Amount\n"
        "Devon County Council,04/05/2010,ACME LTD,1424.00\n"
        'Devon County Council,04/05/2010,ACME LTD,"1,2,3"\n'
        "Devon County Council,05/05/2010,ACME LTD,TBC\n"
        "Devon County Council,05/05/2010,ACME LTD\n"
        ",,Total,1424.00\n"
        'Devon County Council,06/05/2010,"SMITH, JONES","(1,234.50)"\n',
        encoding="utf-8",
    )
    row_level, fast = both_paths(tmp_path, [FileJob(path, None, mini_lookups())])
    assert_same(row_level, fast)
    got = fast[0]
    quarantined = [q["row"] for q in got["quarantine"]]
    taken = {r["row"]: r["amount_pence"] for r in got["ledger"]}
    assert {4, 5} <= set(quarantined) and {2: 142400, 7: -123450}.items() <= taken.items()
    assert (3 in taken) != (3 in quarantined)  # '1,2,3': whatever the row rules decide, once
    assert 6 not in taken and 6 not in quarantined  # the total row is skipped


@pytest.mark.usefixtures("reader")
def test_blank_short_long_and_quoted_lines_found_alike_by_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blank lines (LF and CRLF), a line of spaces, short and long lines, delimiters inside
    quotes and a doubled quote, at the start, middle and end of a chunk: each read as the
    row-level path reads it, with its line."""
    good = 'Devon County Council,04/05/2010,"SMITH, JONES ""AND"" CO",1424.00\r\n'
    path = tmp_path / "blank-short-long-lines.csv"
    path.write_bytes(
        (
            "Body Name,Date,Supplier Name,Amount\r\n"
            "\r\n"
            'Devon County Council,04/05/2010,ACME LTD,"1,424.00",extra\r\n'
            + good
            + "\n   \r\n"
            + good * 3
            + "Devon County Council,04/05/2010,ACME LTD\r\n"
            + '"Devon County Council,04/05/2010",ACME LTD,12.00\r\n'
            + good
            + "\r\n"
        ).encode()
    )
    row_level, fast = both_paths(tmp_path, [FileJob(path, None, mini_lookups())])
    assert_same(row_level, fast)
    got = fast[0]
    assert sorted(r["row"] for r in got["ledger"]) == [4, 7, 8, 9, 12]
    assert {q["row"] for q in got["quarantine"]} >= {3, 10, 11}
    assert {r["counterparty"] for r in got["ledger"]} == {'SMITH, JONES "AND" CO'}
    to_rules: list[int] = []  # the lines the vectorised path leaves to the row rules
    row_level_lines = columnar._Chunks._row_level

    def recording(self: Any, line_numbers: list[int], texts: list[str]) -> Any:
        to_rules.extend(line_numbers)
        return row_level_lines(self, line_numbers, texts)

    monkeypatch.setattr(columnar._Chunks, "_row_level", recording)
    list(columnar.parse_spend(path, ParseContext("t", options=mini_lookups()), ParseResult()))
    assert to_rules == [2, 3, 5, 6, 10, 11, 13]


def test_total_words_in_any_case_go_to_the_row_rules(tmp_path: Path) -> None:
    """Suppliers named like totals, and total rows in odd case that would parse as spend
    (a body, a date, an amount, half the cells empty), across chunks: the vectorised path
    leaves each line holding a total word to the row rules, which skip the totals."""
    path = tmp_path / "total-words.csv"
    good = "Devon County Council,04/05/2010,ACME LTD,10.00,Fees,Roads,R1,ok\n" * 300
    path.write_text(
        "Body Name,Date,Supplier Name,Amount,Expense Type,Service,Reference,Note\n"
        + good
        + "Devon County Council,04/05/2010,TOTAL BUTLER LTD,20.00,Fees,Roads,R2,ok\n"
        + "Devon County Council,04/05/2010,Total Gas & Power,30.00,Fees,Roads,R3,ok\n"
        + good
        + "Devon County Council,30/04/2010,ToTaL for April,1.00,,,,\n"
        + good
        + "Devon County Council,31/05/2010,GRAND TOTAL,2.00,,,,\n",
        encoding="utf-8",
    )
    row_level, fast = both_paths(tmp_path, [FileJob(path, None, mini_lookups())])
    assert_same(row_level, fast)
    taken = {r["counterparty"] for r in fast[0]["ledger"]}
    assert {"TOTAL BUTLER LTD", "Total Gas & Power"} <= taken  # suppliers, not totals
    assert not taken & {"ToTaL for April", "GRAND TOTAL"}
    (batch,) = fast[0]["batches"]
    assert batch["rows_ledger"] == 902 and batch["amount_pence"] == 900 * 1000 + 5000
    result = ParseResult()
    context = ParseContext(source_id="local:total-words", options=mini_lookups())
    batches = list(columnar.parse_spend(path, context, result, chunk_bytes=4096))
    assert sum(b.num_rows for b in batches) == 902 and result.skipped.get("total") == 2


@given(st.text(max_size=30) | st.text(alphabet="oOtTaAlL ", max_size=8))
def test_the_total_word_prefilter_holds_every_line_the_row_rules_test(text: str) -> None:
    """`Table.rows` tests a row as a total only when it holds "otal" in any case: each such
    line is one the vectorised path leaves to the rules."""
    if "otal" in text.lower():
        assert columnar._has_total_word(text.encode())


# -- strict by construction ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    ["1,2,3", "0,123.00", "1,234.567", "12,34", "£5", "1e3", "5 CR", "123.45-", "(-5)", "", " "],
)
def test_amounts_the_vectorised_path_leaves_to_the_row_rules(text: str) -> None:
    _pence, ok = columnar._amounts(pa.array([text]))
    assert not ok[0]


AMOUNT_TEXT = st.from_regex(r"\A *\(?-?[0-9,]{1,12}(\.[0-9]{0,3})?\)? *\Z", fullmatch=True)


@given(st.lists(AMOUNT_TEXT, min_size=1, max_size=20))
def test_every_amount_taken_is_what_the_row_rules_give(texts: list[str]) -> None:
    pence, ok = columnar._amounts(pa.array(texts))
    for text, p, taken in zip(texts, pence, ok, strict=True):
        if taken:
            assert int(p) == amount_pence(text), text


DATE_TEXT = st.from_regex(
    r"\A([0-9]{2}/[0-9]{2}/[0-9]{4}|[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}:[0-9]{2})?"
    r"|[0-9]{1,2}-[A-Za-z]{3}-[0-9]{2,4}|[0-9]{5})\Z",
    fullmatch=True,
)


YEARS = plausible_years()


def _date(text: str, years: tuple[int, int] = YEARS) -> tuple[int, str] | None:
    """The vectorised path's reading of one date text, in a file with plausible ``years``."""
    chunks = columnar._Chunks.__new__(columnar._Chunks)
    chunks.years = years
    return chunks._date(text)


@given(DATE_TEXT)
def test_every_date_taken_is_what_the_row_rules_give(text: str) -> None:
    taken = _date(text)
    if taken is not None:
        day = parse_date(text)
        assert YEARS[0] <= day.year <= YEARS[1]
        assert taken == ((day - columnar._EPOCH).days, financial_year(day))
        assert any(re.fullmatch(p, text) for p in columnar.DATE_PATTERNS)


def test_implausible_dates_are_left_to_the_row_rules() -> None:
    assert _date("04/05/1899") is None
    assert _date("31/02/2011") is None
    assert _date("04-May-2010") is None  # a form outside DATE_PATTERNS
    assert _date("04/05/2010") == (14733, "2010-11")
    assert _date("04/05/2010", (2011, 2030)) is None  # option min_year=2011: the row rules say


TEXT = st.text(alphabet=st.sampled_from("ab ,'\t\u00a0\u2003\u3000\x1c-"), max_size=12)


@given(st.lists(TEXT, min_size=1, max_size=20))
def test_text_normalised_as_the_row_rules_do(texts: list[str]) -> None:
    got = columnar._texts(pa.array(texts), np.arange(len(texts))).cast(pa.string()).to_pylist()
    assert got == [spend._text(t) for t in texts]


@pytest.mark.parametrize(
    ("line", "fields"),
    [(b'a,"x,y",b\n', 3), (b'"a""b",c\r\n', 2), (b'"",,\n', 3), (b"a,b,c,d\n", 4)],
)
def test_fields_counted_outside_quotes(line: bytes, fields: int) -> None:
    ends = np.array([len(line)])
    quotes = columnar._check_quoting(line, ends, ord(","))
    assert columnar._fields_per_line(line, ends, ord(","), quotes)[0] == fields


@pytest.mark.parametrize("line", [b'a"b,c\n', b'"ab"c,d\n', b'"open,d\n', b"a\rb,c\n"])
def test_quoting_the_csv_module_might_read_otherwise_sends_the_file_row_level(
    line: bytes,
) -> None:
    with pytest.raises(columnar.RowLevel):
        columnar._check_quoting(line, np.array([len(line)]), ord(","))


def _parsed_alone(path: Path, options: dict[str, Any]) -> Any:
    """What `parse_spend` gives for one file: its rows and result, or the error's type."""
    result = ParseResult()
    try:
        batches = list(columnar.parse_spend(path, ParseContext("t", options=options), result))
    except Exception as exc:
        return type(exc).__name__, str(exc)
    return _outcome(batches, result)


def _outcome(batches: list[pa.RecordBatch], result: ParseResult) -> Any:
    rows = pa.Table.from_batches(batches).to_pylist() if batches else []
    return rows, result.quarantine, result.rows_read, result.skipped, result.notes


@pytest.mark.usefixtures("reader")
def test_files_parsed_together_give_what_each_gives_alone(generated: tuple[Path, Any]) -> None:
    """`parse_spend_many` joins the lines of files of one layout into one chunk: each file
    still gets exactly its own rows, line numbers, paying bodies, quarantine, skips and
    notes, or its own error, with fixtures that go row-level or fail mixed in between."""
    out, manifest = generated
    fixtures = sorted(p for p in FIXTURES.glob("*.csv"))
    paths = [(out / f["name"], f["options"]) for f in manifest["files"]]
    options = mini_lookups()
    mixed = [*paths[:9], *((p, options) for p in fixtures), *paths[9:]]
    items = [(p, ParseContext("t", options=o), ParseResult()) for p, o in mixed]
    together = columnar.parse_spend_many(items, chunk_bytes=256 * 1024)
    got = [
        (type(b).__name__, str(b)) if isinstance(b, Exception) else _outcome(b, r)
        for b, (_, _, r) in zip(together, items, strict=True)
    ]
    want = [_parsed_alone(p, o) for p, o in mixed]
    for (path, _), g, w in zip(mixed, got, want, strict=True):
        assert g == w, path.name
    outcomes = {type(b).__name__ for b in together}
    assert {"list", "RowLevel"} <= outcomes  # both ways were taken
    assert sum(isinstance(b, list) and len(b) > 0 for b in together) > len(paths) // 2


def test_joined_pieces_parsed_as_one_chunk(
    generated: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files of one layout really are parsed as one chunk (the saving is real)."""
    out, manifest = generated
    calls: list[int] = []
    parse = columnar._parse_pieces

    def counting(pieces: list[Any]) -> Any:
        calls.append(len(pieces))
        return parse(pieces)

    monkeypatch.setattr(columnar, "_parse_pieces", counting)
    items = [
        (out / f["name"], ParseContext("t", options=f["options"]), ParseResult())
        for f in manifest["files"]
    ]
    columnar.parse_spend_many(items)
    assert max(calls) > 1
    assert len(calls) < len(items) // 2
