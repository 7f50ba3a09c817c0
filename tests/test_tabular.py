"""Shared table reading: encodings, header search, totals, broken rows, safety limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fixtures.make_fixtures import highly_compressible_xlsx
from totalplace.errors import InputFileError
from totalplace.ingest import excel
from totalplace.ingest.adapters.spend import is_spend_header
from totalplace.ingest.base import ParseResult, read_head
from totalplace.ingest.tabular import (
    MIXED,
    Limits,
    amount_pence,
    check_zip,
    cp1252_undefined,
    is_total_label,
    norm,
    open_table,
    scan_text,
    sniff_header,
    utf8_pair,
)
from totalplace.ingest.values import parse_amount_pence


def read_all(path: Path, limits: Limits | None = None) -> tuple[ParseResult, list, object]:
    result = ParseResult()
    with open_table(path, is_spend_header, limits=limits) as table:
        rows = list(table.rows(result))
        table.finish(result)
    return result, rows, table


# -- encodings ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "encoding", "note"),
    [
        ("crlf-line-endings.csv", "utf-8-sig", "encoding: UTF-8"),
        ("bom-utf8.csv", "utf-8-sig", "encoding: UTF-8 with byte-order mark"),
        ("cp1252-pound-sign.csv", "cp1252", "encoding: not UTF-8; read as Windows-1252 (cp1252)"),
        (
            "nbsp-thousands-cp1252.csv",
            "cp1252",
            "encoding: not UTF-8; read as Windows-1252 (cp1252)",
        ),
    ],
)
def test_encoding_detected_and_noted(fixtures: Path, name: str, encoding: str, note: str) -> None:
    scan = scan_text(fixtures / name, Limits())
    assert scan.encoding == encoding
    result, rows, _ = read_all(fixtures / name)
    assert note in result.notes
    assert not any("\ufeff" in str(c) for _line, cells in rows for c in cells)


def test_cp1252_text_decoded_in_python(fixtures: Path) -> None:
    _result, rows, _ = read_all(fixtures / "cp1252-pound-sign.csv")
    suppliers = [cells[4] for _line, cells in rows]
    assert suppliers == ["O’BRIEN & SONS", "CAFÉ ROYAL LTD", "ASKEWS LTD"]
    assert rows[1][1][3] == "Road Repairs – urgent"
    assert [cells[6] for _l, cells in rows] == ["£1,234.50", "£99.99", "£(10.00)"]


def test_neither_utf8_nor_cp1252_falls_back_to_latin1(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(b"Date,Supplier,Amount\n01/04/2010,A\x81B,1\n")
    assert scan_text(path, Limits()).encoding == "latin-1"


def test_mixed_utf8_cp1252_decoded_line_by_line(fixtures: Path) -> None:
    """Decoded whole as cp1252, the UTF-8 line's 'CAFÉ £' became 'CAFÃ‰ Â£'."""
    path = fixtures / "mixed-utf8-cp1252.csv"
    assert scan_text(path, Limits()).encoding == MIXED
    result, rows, _ = read_all(path)
    assert [cells[4] for _line, cells in rows] == [
        "CAFÉ £ ROYAL",
        "O’BRIEN & SONS",
        "ŁÓDŹ BOOKS",
        "ASKEWS LTD",
    ]
    assert rows[1][1][3] == "Road Repairs – urgent" and rows[1][1][6] == "£1,234.50"
    assert (
        "encoding: mixed, decoded line by line: 2 lines (2, 4) UTF-8, "
        "1 line (3) Windows-1252 (cp1252)"
    ) in result.notes
    assert result.rows_read == len(rows) == 4 and not result.quarantine


def test_mixed_encoding_lines_counted_across_chunks_and_quarantine_keeps_text(
    tmp_path: Path,
) -> None:
    filler = b"Devon County Council,04/05/2010,Area,Type,ASCII LTD,T0,1.00\n"
    utf8 = "Devon County Council,04/05/2010,Area,Type,CAFÉ,T1,2.00\n".encode()
    cp = "Devon County Council,04/05/2010,Area,Type,O’BRIEN,T2\n".encode("cp1252")  # too few
    n = (1 << 20) // len(filler) + 10  # past the first 1 MiB chunk
    body = [filler] * n + [utf8] * 6 + [cp]
    path = tmp_path / "big-mixed.csv"
    path.write_bytes(b"Body Name,Date,Area,Type,Supplier Name,Ref,Amount\n" + b"".join(body))
    result, rows, _ = read_all(path)
    first = n + 2  # line of the first UTF-8 row
    assert (
        f"encoding: mixed, decoded line by line: 6 lines (first {first:,}, {first + 1:,}, "
        f"{first + 2:,}, {first + 3:,}, {first + 4:,}) UTF-8, 1 line ({first + 6:,}) "
        "Windows-1252 (cp1252)"
    ) in result.notes
    assert result.rows_read == len(rows) + len(result.quarantine) == n + 7
    assert rows[-1][1][4] == "CAFÉ"
    [q] = result.quarantine
    assert (
        q["row"] == first + 6 and q["raw"] == "Devon County Council,04/05/2010,Area,Type,O’BRIEN,T2"
    )


def test_mixed_encoding_line_neither_utf8_nor_cp1252_is_latin1(tmp_path: Path) -> None:
    path = tmp_path / "mixed-latin1.csv"
    path.write_bytes(
        b"Date,Supplier Name,Amount\n"
        + "01/04/2010,ŁÓDŹ,1\n".encode()
        + b"02/04/2010,A\x81B \x92,2\n"
    )
    scan = scan_text(path, Limits())
    assert scan.encoding == MIXED and scan.note.endswith(
        "1 line (3) Windows-1252 (cp1252) or, with a byte undefined there, Latin-1"
    )
    _result, rows, _ = read_all(path)
    assert [cells[1] for _line, cells in rows] == ["ŁÓDŹ", "A\x81B \x92"]


#: The byte patterns the encoding scan tests for, as their plain definitions.
UTF8_PAIR = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")
CP1252_UNDEFINED = re.compile(b"[\x81\x8d\x8f\x90\x9d]")
HIGH_BYTES = st.binary(max_size=40) | st.lists(
    st.sampled_from([0x41, 0x0A, 0x81, 0x8D, 0x9D, 0xA3, 0xBF, 0xC2, 0xE2, 0xF4, 0xF5]),
    max_size=40,
).map(bytes)


@given(HIGH_BYTES)
def test_the_scan_finds_utf8_pairs_and_undefined_bytes_as_their_definitions_say(
    data: bytes,
) -> None:
    """The vectorised byte tests used on every chunk of a non-UTF-8 file agree with the
    plain patterns: a lead byte before a continuation byte, and cp1252's five holes."""
    assert utf8_pair(data) == bool(UTF8_PAIR.search(data))
    assert cp1252_undefined(data) == bool(CP1252_UNDEFINED.search(data))


def test_a_utf8_pair_split_between_scan_chunks_still_makes_the_file_mixed(
    tmp_path: Path,
) -> None:
    """A UTF-8 '£' (C2 A3) whose two bytes fall either side of a 1 MiB chunk boundary, in a
    file that is otherwise Windows-1252: still found, so the file is decoded line by line."""
    path = tmp_path / "pair-across-scan-chunks.csv"
    head = b"Date,Supplier Name,Amount\n01/04/2010,A \x92 B,1\n"
    line = b"02/04/2010,PAD,2\n"
    pad = line * ((1024 * 1024 - len(head)) // len(line) - 1)
    start = head + pad + b"03/04/2010,"
    start += b"x" * (1024 * 1024 - 1 - len(start))  # the lead byte ends the first chunk
    path.write_bytes(start + b"\xc2\xa3,3\n")
    assert len(start) == 1024 * 1024 - 1
    assert scan_text(path, Limits()).encoding == MIXED


def test_utf16le_bom_tab_export_is_text_not_binary(fixtures: Path) -> None:
    """Excel's "Unicode text" (UTF-16LE with a byte-order mark, tab-separated) was refused
    as a binary file because of its NUL bytes."""
    path = fixtures / "utf16le-bom-tab.txt"
    assert scan_text(path, Limits()).encoding == "utf-16"
    assert sniff_header(path, read_head(path), is_spend_header)
    result, rows, table = read_all(path)
    assert table.delimiter == "\t"  # type: ignore[attr-defined]
    assert [cells[4] for _line, cells in rows] == ["CAFÉ ROYAL LTD", "O’BRIEN & SONS", "ASKEWS LTD"]
    assert [cells[6] for _line, cells in rows] == ["1,234.50", "£99.99", "(10.00)"]
    assert [line for line, _ in rows] == [2, 3, 4]
    assert result.rows_read == 3 and not result.quarantine


def test_utf16_that_is_not_utf16_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken-utf16.txt"
    path.write_bytes(
        b"\xff\xfe" + "Date\tSupplier\tAmount\n".encode("utf-16-le") + b"\x00\xd8A\x00"
    )
    with pytest.raises(InputFileError, match=r"^broken-utf16\.txt: starts with a UTF-16 byte"):
        scan_text(path, Limits())
    nul = tmp_path / "nul-utf16.txt"
    nul.write_bytes(b"\xff\xfe" + "Date\tSupplier\x00\n".encode("utf-16-le"))
    with pytest.raises(InputFileError, match=r"is a binary file \(NUL characters\)"):
        scan_text(nul, Limits())


def test_xlsx_untyped_error_cell_comes_back_as_its_text(fixtures: Path) -> None:
    """``<c r="G3"><v>#DIV/0!</v></c>`` (no t attribute) stopped the whole workbook with
    "invalid literal for int() with base 10: '#DIV/0!'"."""
    with excel.open_workbook(fixtures / "xlsx-untyped-error-cell.xlsx") as book:
        rows = dict(book.rows("Sheet1"))
    assert rows[2][6] == 754.6 and rows[3][6] == "#DIV/0!"
    assert rows[4][1] == "#DIV/0!" and rows[4][6] == 99 and rows[5][1] == 40303
    assert sorted(rows) == [1, 2, 3, 4, 5]


# -- layout ---------------------------------------------------------------------------------------
def test_title_rows_skipped_and_counted(fixtures: Path) -> None:
    result, rows, table = read_all(fixtures / "title-rows-before-header.csv")
    assert result.skipped == {"title": 2, "blank": 1}
    assert result.rows_read == 3 and [line for line, _ in rows] == [5, 6, 7]
    assert table.header_row == 4  # type: ignore[attr-defined]


def test_total_and_blank_rows_never_counted(fixtures: Path) -> None:
    result, rows, _ = read_all(fixtures / "grand-total-footer.csv")
    assert result.rows_read == 3 == len(rows)
    assert result.skipped == {"blank": 1, "total": 1}
    result, rows, _ = read_all(fixtures / "subtotal-rows.csv")
    assert result.rows_read == 3 and result.skipped == {"total": 3}


def test_junk_after_the_total_is_a_footer_not_a_transaction(fixtures: Path) -> None:
    path = fixtures / "junk-footer-after-total.csv"
    result, rows, _ = read_all(path)
    assert [line for line, _ in rows] == [2, 4]
    assert result.skipped == {"total": 1, "footer": 1}
    # the broken transaction in the middle is still quarantined, with its text
    (q,) = result.quarantine
    assert q["row"] == 3 and q["reason"].startswith("too few fields")
    assert q["raw"] == path.read_text().splitlines()[2]
    assert result.rows_read == len(rows) + len(result.quarantine) == 3
    assert "footer after the total row skipped (line 6: '††††††')" in result.notes


def test_junk_between_a_subtotal_and_more_data_is_still_quarantined(fixtures: Path) -> None:
    path = fixtures / "junk-row-between-subtotal-and-data.csv"
    result, rows, _ = read_all(path)
    assert [line for line, _ in rows] == [2, 5]
    assert result.skipped == {"total": 1} and result.rows_read == 3
    (q,) = result.quarantine
    assert q["row"] == 4 and q["reason"] == "too few fields: the row has 6, the header has 7"
    assert q["raw"] == ",†††††† ,,,,"


@pytest.mark.parametrize(
    ("label", "total"),
    [
        ("Total", True),
        ("GRAND TOTAL", True),
        ("Sub-total", True),
        ("Total for May 2010", True),
        ("Totals", True),
        ("Total:", True),
        ("Total spend", True),
        ("TOTAL BUTLER (CREDITON)", False),
        ("TOTAL GAS & POWER LTD", False),
        ("Totally Local Ltd", False),
        ("Subtotal Ltd", False),
    ],
)
def test_total_labels(label: str, total: bool) -> None:
    assert is_total_label(label) is total


def test_multiline_quoted_fields_keep_start_lines(fixtures: Path) -> None:
    result, rows, _ = read_all(fixtures / "multiline-quoted-description.csv")
    assert [line for line, _ in rows] == [2, 5, 7]
    assert rows[0][1][3] == "Residential Care\n(spot purchase,\n 3 weeks)"
    assert result.rows_read == 3 and not result.quarantine


def test_broken_rows_quarantined_with_original_text(fixtures: Path) -> None:
    result, rows, _ = read_all(fixtures / "too-few-fields.csv")
    assert [line for line, _ in rows] == [2, 4, 5]
    (q,) = result.quarantine
    assert q["row"] == 3 and q["reason"] == "too few fields: the row has 6, the header has 7"
    assert q["raw"] == (fixtures / "too-few-fields.csv").read_text().splitlines()[2]
    result, rows, _ = read_all(fixtures / "too-many-fields.csv")
    assert len(rows) == 3  # trailing empty fields are not "too many"
    assert result.quarantine[0]["reason"].startswith("too many fields: the row has 8")


def test_unclosed_quote_quarantines_the_whole_record(fixtures: Path) -> None:
    path = fixtures / "quote-never-closed.csv"
    result, rows, _ = read_all(path)
    assert len(rows) == 1 and len(result.quarantine) == 1
    q = result.quarantine[0]
    assert "from line 3 to 5" in q["reason"] and "unclosed quote" in q["reason"]
    assert q["raw"] == "\n".join(path.read_text().splitlines()[2:5])


@pytest.mark.parametrize("name", ["semicolon-delimited.csv", "tab-delimited.tsv"])
def test_delimiters(fixtures: Path, name: str) -> None:
    result, rows, _ = read_all(fixtures / name)
    assert len(rows) == 2 and rows[0][1][4] == "AARON COURT, LTD"
    assert any(n.startswith("delimiter") for n in result.notes)


def test_xlsx_rows_numbered_as_excel_shows_them(fixtures: Path) -> None:
    result, rows, table = read_all(fixtures / "xlsx-title-rows-and-total.xlsx")
    assert table.header_row == 3 and table.kind == "xlsx"  # type: ignore[attr-defined]
    assert [line for line, _ in rows] == [4, 6]
    assert result.skipped == {"title": 1, "blank": 2, "total": 1}


def test_no_header_is_one_clear_error(fixtures: Path) -> None:
    with pytest.raises(InputFileError, match=r"^unknown-layout\.csv: no header row with"):
        read_all(fixtures / "unknown-layout.csv")


# -- safety ---------------------------------------------------------------------------------------
def test_binary_file_refused(fixtures: Path) -> None:
    with pytest.raises(InputFileError, match=r"^binary-garbage\.csv: is a binary file"):
        read_all(fixtures / "binary-garbage.csv")


def test_size_limit(fixtures: Path) -> None:
    with pytest.raises(InputFileError, match=r"bom-utf8\.csv: is 326 bytes, over the 100-byte"):
        read_all(fixtures / "bom-utf8.csv", Limits(max_bytes=100))


def test_long_line_refused_with_its_line(fixtures: Path) -> None:
    with pytest.raises(InputFileError, match=r"very-long-line\.csv: line 3 is longer than 4,096"):
        read_all(fixtures / "very-long-line.csv", Limits(max_line_bytes=4096))


def test_gigantic_line_refused_at_default_limit(tmp_path: Path) -> None:
    path = tmp_path / "gigantic-line.csv"
    path.write_bytes(b"Date,Supplier,Amount\n" + b"9" * (Limits().max_line_bytes + 10) + b"\n")
    with pytest.raises(InputFileError, match=r"line 2 is longer than 1,048,576 bytes"):
        read_all(path)


def test_line_check_is_exact_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "edge.csv"
    rows = ["Date,Supplier,Amount", "01/04/2010,S,1"]
    path.write_text("\n".join([*rows, "x" * 100, *rows[1:]]) + "\n")
    scan_text(path, Limits(max_line_bytes=100))  # exactly at the limit: fine
    with pytest.raises(InputFileError, match="line 3"):
        scan_text(path, Limits(max_line_bytes=99))
    with pytest.raises(InputFileError, match="line 3"):
        scan_text(path, Limits(max_line_bytes=64))


def test_zip_bomb_refused_before_opening(fixtures: Path, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"^zip-bomb\.xlsx: refused: .*possible zip bomb"):
        read_all(fixtures / "zip-bomb.xlsx")
    real = tmp_path / "compressible.xlsx"
    highly_compressible_xlsx(real, megabytes=8)
    assert real.stat().st_size < 200_000
    with pytest.raises(InputFileError, match=r"sheet1\.xml expands .* times"):
        check_zip(real, Limits())


def test_sniff_never_raises(fixtures: Path, tmp_path: Path) -> None:
    for name in ("zip-bomb.xlsx", "binary-garbage.csv", "empty.csv", "unknown-layout.csv"):
        path = fixtures / name
        assert sniff_header(path, read_head(path), is_spend_header) is False
    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    assert sniff_header(fake, read_head(fake), is_spend_header) is False


def test_limits_from_options() -> None:
    limits = Limits.from_options({"max_bytes": "1000", "max_line_bytes": 50, "other": 1})
    assert limits.max_bytes == 1000 and limits.max_line_bytes == 50
    assert Limits.from_options({}) == Limits()


def test_norm() -> None:
    assert norm(" Amount ") == "amount" and norm("paid_to") == "paid to"
    assert norm("Beneficiary Location:0:Geographic Code") == (
        "beneficiary location 0 geographic code"
    )


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False))
def test_amount_fast_path_agrees(value: object) -> None:
    text = str(value)
    assert amount_pence(text) == parse_amount_pence(text)
    assert amount_pence(text.rstrip("0")) == parse_amount_pence(text.rstrip("0"))


@given(st.text(alphabet="0123456789.-, £()", max_size=12))
def test_amount_fast_path_agrees_on_junk(text: str) -> None:
    try:
        expected: object = parse_amount_pence(text)
    except ValueError:
        expected = ValueError
    try:
        got: object = amount_pence(text)
    except ValueError:
        got = ValueError
    assert got == expected
