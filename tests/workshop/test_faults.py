"""Faults with real processes: kill -9 during workshop writes and during a pack export, then
reopen: every decision the dead process reported as committed is there, with its audit event,
nothing half-written; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl

from totalplace.workshop.service import WorkshopService

WRITER = r"""
import json, sys
from totalplace.workshop.service import WorkshopService, FigureCell
svc = WorkshopService.from_url(sys.argv[1])
token = sys.argv[2]
cell = FigureCell(place="Kent", year="2010-11", agency_type="Councils", function="9. Education")
for i in range(100000):
    info = svc.create_challenge(token, cell, f"challenge {i}", amount_pence=100 * i)
    print(json.dumps({"id": info.id}), flush=True)
"""

EXPORTER = r"""
import sys
from pathlib import Path
import pandas as pd
from totalplace.workshop.service import WorkshopService
svc = WorkshopService.from_url(sys.argv[1])
token, out = sys.argv[2], Path(sys.argv[3])
figures = pd.DataFrame({"agency_type": ["Councils", "NHS and health"],
                        "function": ["9. Education", "7. Health"],
                        "amount_pence": [100_000, 250_000]})
snap = svc.freeze_snapshot(token, figures, label="meeting")
print(snap.id, flush=True)
for i in range(100000):
    svc.export_pack(token, snap.id, out)
    print("exported", i, flush=True)
"""


def _run_and_kill(args: list[str], lines_wanted: int, timeout: float = 60) -> list[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", *args], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while len(lines) < lines_wanted and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert len(lines) >= lines_wanted, f"the child stopped early: {lines[-3:]}"
    return lines


def test_kill_during_workshop_writes_loses_no_committed_decision(db_url: str) -> None:
    svc = WorkshopService.from_url(db_url, migrate=True)
    issued = svc.create_workshop("Kent", ["E07000105"], "2010-11", None, "Facilitator")
    partner = svc.issue_token(issued.token, "partner", "Partner A")
    lines = _run_and_kill([WRITER, db_url, partner.token], lines_wanted=15)
    reported = {json.loads(line)["id"] for line in lines}
    svc.close()
    again = WorkshopService.from_url(db_url, migrate=True)
    stored = {c.id for c in again.list_challenges(issued.token)}
    assert reported <= stored  # every committed decision survived
    created = [e for e in again.audit(issued.token) if e.action == "challenge.create"]
    assert len(created) == len(stored)  # and each has exactly its audit event, no partial write
    again.close()


def test_kill_during_pack_export_leaves_no_half_written_pack(db_url: str, tmp_path: Path) -> None:
    svc = WorkshopService.from_url(db_url, migrate=True)
    issued = svc.create_workshop("Kent", ["E07000105"], "2010-11", None, "Facilitator")
    out = tmp_path / "pack"
    lines = _run_and_kill([EXPORTER, db_url, issued.token, str(out)], lines_wanted=4)
    snap_id = int(lines[0])
    packs = list(out.glob("*.xlsx"))
    assert packs  # at least one export completed before the kill
    for xlsx in packs:  # the visible files are complete
        openpyxl.load_workbook(xlsx).close()
    for page in out.glob("*.html"):
        assert page.read_text(encoding="utf-8").rstrip().endswith("</html>")
    for zipped in out.glob("*.csv.zip"):
        with zipfile.ZipFile(zipped) as zf:
            assert zf.testzip() is None and zf.namelist()
    svc.close()
    again = WorkshopService.from_url(db_url, migrate=True)
    assert again.verify_snapshot(issued.token, snap_id)
    again.close()
