"""Checking uploads: the uploaded name is never a path, limits and hostile content refused with
one line naming the file, good files reported row by row without touching any store."""

from __future__ import annotations

from pathlib import Path

from totalplace.ingest.preview import check_upload

FIX = Path(__file__).parent / "fixtures"


def test_a_spend_file_is_counted_row_by_row() -> None:
    content = (FIX / "too-few-fields.csv").read_bytes()
    report = check_upload("too-few-fields.csv", content)
    assert report.error == "" and report.adapter == "spend"
    assert report.rows_read == report.rows_ledger + report.rows_quarantined
    assert report.rows_quarantined >= 1 and report.quarantine["reason"].str.len().gt(0).all()


def test_hostile_names_and_contents_are_refused_in_one_line(tmp_path: Path) -> None:
    traversal = check_upload(
        "../../../etc/passwd.csv", (FIX / "amount-in-brackets.csv").read_bytes()
    )
    assert traversal.name == "passwd.csv" and traversal.error == ""  # name is display only
    assert not (tmp_path.parent / "etc").exists()
    binary = check_upload("x.csv", (FIX / "binary-garbage.csv").read_bytes())
    assert binary.error.startswith("x.csv") and "binary" in binary.error
    bomb = check_upload("bomb.xlsx", (FIX / "zip-bomb.xlsx").read_bytes())
    assert "zip bomb" in bomb.error and bomb.error.startswith("bomb.xlsx")
    big = check_upload("big.csv", b"a" * 101, limit=100)
    assert "upload limit" in big.error
    exe = check_upload("tool.exe", b"MZ")
    assert "only" in exe.error
    empty = check_upload("empty.csv", b"")
    assert "empty" in empty.error
