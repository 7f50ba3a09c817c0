"""Checking an uploaded file without loading it: the file is saved under a name the tool makes
(never the uploaded name), refused if too large, binary, a zip or XML bomb or of no known
layout, then parsed by its adapter; the result says what would go to the ledger and what to
quarantine, with reasons. The workspace is not changed (loading is `totalplace ingest`).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from totalplace.errors import InputFileError
from totalplace.ingest.base import ParseContext, detect_adapter
from totalplace.ingest.pipeline import check_accounting, refuse_unsafe

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
ALLOWED_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls", ".json")


@dataclass
class UploadReport:
    """What a file would give: adapter, row accounting, a sample and the quarantined rows."""

    name: str
    adapter: str = ""
    rows_read: int = 0
    rows_ledger: int = 0
    rows_quarantined: int = 0
    amount_pence: int = 0
    error: str = ""
    sample: pd.DataFrame = field(default_factory=pd.DataFrame)
    quarantine: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)


def check_upload(name: str, content: bytes, limit: int = MAX_UPLOAD_BYTES) -> UploadReport:
    """Check ``content`` (uploaded as ``name``) and report; never raises for a bad file."""
    shown = name.replace("\\", "/").rsplit("/", 1)[-1][:200] or "upload"
    report = UploadReport(name=shown)
    suffix = Path(shown).suffix.lower()
    if len(content) > limit:
        report.error = f"{shown}: {len(content):,} bytes is over the {limit:,}-byte upload limit"
        return report
    if suffix not in ALLOWED_SUFFIXES:
        report.error = (
            f"{shown}: only {', '.join(ALLOWED_SUFFIXES)} files can be checked "
            "(the layout is then recognised from the content)"
        )
        return report
    folder = Path(tempfile.mkdtemp(prefix="totalplace-upload-"))
    path = folder / f"upload-{uuid.uuid4().hex}{suffix}"  # never the uploaded name
    try:
        path.write_bytes(content)
        if not content:
            raise InputFileError(path, "file is empty")
        refuse_unsafe(path)
        adapter = detect_adapter(path)
        result = adapter.parse(path, ParseContext(source_id=f"upload:{shown}"))
        rows = result.rows()
        check_accounting(path, result, rows if len(rows) else pd.DataFrame({"row": []}))
        report.adapter = adapter.name
        report.rows_read = result.rows_read
        report.rows_ledger = len(rows)
        report.rows_quarantined = len(result.quarantine)
        if "amount_pence" in rows:
            report.amount_pence = int(rows["amount_pence"].sum())
        report.sample = rows.head(20)
        report.quarantine = pd.DataFrame(result.quarantine, columns=["row", "reason", "raw"])
        report.notes = list(result.notes)
    except Exception as exc:  # every failure becomes one line naming the uploaded file
        report.error = str(exc).replace(path.name, shown)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return report
