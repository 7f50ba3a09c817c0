"""Snapshots: named by the SHA-256 of canonical JSON, immutable (ORM and database), exported as a
workshop pack whose spreadsheet holds no formula that came from data."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from totalplace.workshop import ImmutableRecord
from totalplace.workshop import snapshot as snap
from totalplace.workshop.models import Event, Snapshot
from totalplace.workshop.scenarios import CellRef, InvestToSave, Move
from totalplace.workshop.service import WorkshopService

from .conftest import Room

NHS_H = CellRef("NHS and health", "7. Health")
COUNCIL_H = CellRef("Councils", "7. Health")
COUNCIL_SP = CellRef("Councils", "10. Social protection")
HOSTILE = [
    '=HYPERLINK("http://x.invalid","click")',
    "+SUM(A1:A9)",
    "-2+3",
    "@cmd",
    "\t=1+1",
    "\r=1+1",
    "=1+1",
]


def populate(room: Room) -> None:
    c = room.svc.create_challenge(
        room.partner, room.cell(), "transfer missing", amount_pence=21_000_000_00
    )
    room.svc.accept_challenge(room.facilitator, c.id, "agreed")
    room.svc.create_scenario(
        room.partner,
        "Prevention",
        [
            Move(NHS_H, COUNCIL_H, percent=Decimal("2.5")),
            InvestToSave(
                COUNCIL_SP,
                NHS_H,
                1_000_000_00,
                Decimal(2),
                3,
                recurring=True,
                evidence_id="ac_housing_support",
            ),
        ],
    )


def test_same_state_same_hash_and_changes_change_it(room: Room) -> None:
    populate(room)
    first = room.svc.freeze_snapshot(room.facilitator, room.baseline, label="Morning")
    again = room.svc.freeze_snapshot(room.facilitator, room.baseline.iloc[::-1], label="Again")
    assert again.content_hash == first.content_hash and again.id == first.id and again.reused
    assert again.label == "Morning"  # the label is not part of the state
    assert len(first.content_hash) == 64 and room.svc.verify_snapshot(room.observer, first.id)
    room.svc.create_challenge(room.partner, room.cell(), "one more")
    later = room.svc.freeze_snapshot(room.facilitator, room.baseline)
    assert later.content_hash != first.content_hash and not later.reused
    assert [s.id for s in room.svc.list_snapshots(room.observer)] == [first.id, later.id]
    events = room.svc.audit(room.facilitator)
    freezes = [e for e in events if e.action == "snapshot.freeze"]
    assert [e.payload["reused"] for e in freezes] == [False, True, False]


def test_content_is_canonical_json_with_results(room: Room) -> None:
    populate(room)
    s = room.svc.get_snapshot(
        room.observer, room.svc.freeze_snapshot(room.facilitator, room.baseline).id
    )
    assert s.content is not None
    assert snap.content_hash(s.content) == s.content_hash
    assert s.content["figures"]["total_pence"] == int(room.baseline["amount_pence"].sum())
    by_name = {x["name"]: x for x in s.content["scenarios"]}
    assert by_name["Accepted challenges"]["result"]["total_pence"] == (
        int(room.baseline["amount_pence"].sum()) + 1_000_000_00
    )
    invest = by_name["Prevention"]["result"]["log"][1]["table"]
    assert [row["cost_pence"] for row in invest] == [1_000_000_00] * 3
    assert s.content["challenges"][0]["status"] == "accepted"
    assert snap.canonical_json(s.content) == snap.canonical_json(
        json.loads(snap.canonical_json(s.content))
    )


def test_a_refused_scenario_is_frozen_with_its_error(room: Room) -> None:
    room.svc.create_scenario(
        room.partner, "Too much", [Move(COUNCIL_H, NHS_H, amount_pence=10**15)]
    )
    s = room.svc.freeze_snapshot(room.facilitator, room.baseline)
    assert s.content is not None
    assert "would be negative" in s.content["scenarios"][0]["result"]["error"]


def test_snapshots_and_events_cannot_be_changed_through_the_orm(room: Room) -> None:
    sid = room.svc.freeze_snapshot(room.facilitator, room.baseline).id
    for model, ident in ((Snapshot, sid), (Event, 1)):
        with room.svc._sessions() as s:
            row = s.get(model, ident)
            assert row is not None
            if model is Snapshot:
                row.label = "tampered"  # type: ignore[attr-defined]
            else:
                row.why = "tampered"  # type: ignore[attr-defined]
            with pytest.raises(ImmutableRecord, match="append-only"):
                s.flush()
            s.rollback()
            s.delete(s.get(model, ident))
            with pytest.raises(ImmutableRecord, match="cannot be deleted"):
                s.flush()
    assert not [n for n in dir(WorkshopService) if n.startswith(("update_snap", "delete", "edit"))]


@pytest.mark.parametrize("table", ["snapshots", "events"])
def test_the_database_refuses_changes_to_snapshots_and_events(room: Room, table: str) -> None:
    room.svc.freeze_snapshot(room.facilitator, room.baseline)
    engine = room.svc._sessions.kw["bind"]
    model = Snapshot if table == "snapshots" else Event
    column = model.label if table == "snapshots" else model.why  # type: ignore[attr-defined]
    for stmt in (update(model).values({column: "x"}), delete(model)):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(stmt)
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {table} CASCADE"))
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() >= 1


def test_export_pack_neutralises_formulas_and_keeps_numbers(room: Room) -> None:
    for i, bad in enumerate(HOSTILE):
        room.svc.create_challenge(room.partner, room.cell(), bad, amount_pence=i)
    bad_agency = CellRef("=cmd|' /C calc'!A0", "@SUM(1)")
    base = room.baseline.copy()
    base.loc[len(base)] = [bad_agency.agency_type, bad_agency.function, -5_00]
    base.loc[len(base)] = ["\t=tab", "\r=cr", 3]
    room.svc.create_scenario(room.partner, "=BAD()", [Move(NHS_H, COUNCIL_H, amount_pence=7)])
    room.svc.create_scenario(room.partner, "+also/bad*name?", [Move(NHS_H, COUNCIL_H, percent=1)])
    sid = room.svc.freeze_snapshot(room.facilitator, base, why="-why").id
    pack = room.svc.export_pack(room.observer, sid, room.tmp / "pack")
    wb = openpyxl.load_workbook(pack.xlsx)
    assert {"Summary", "Baseline", "Comparison", "Challenges", "Audit"} <= set(wb.sheetnames)
    assert any(n.startswith("S") and "BAD" in n for n in wb.sheetnames)
    strings, numbers = [], []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    strings.append(cell.value)
                    assert not cell.value.startswith(snap.FORMULA_PREFIXES), cell.value
                elif cell.value is not None:
                    numbers.append(cell.value)
    for bad in HOSTILE:
        assert "'" + bad.strip() in strings  # kept, visibly neutralised (text is trimmed)
    assert {"'=cmd|' /C calc'!A0", "'-why", "'\t=tab"} <= set(strings)
    assert any(v[0] == "'" and v[1:].strip() == "=cr" for v in strings)  # XML reads CR as LF
    baseline = wb["Baseline"]
    neg = [r for r in baseline.iter_rows(min_row=2, values_only=True) if r[1] == "'@SUM(1)"]
    assert neg == [("'=cmd|' /C calc'!A0", "'@SUM(1)", -5.0, -500)]
    assert isinstance(neg[0][3], int) and all(isinstance(n, (int, float)) for n in numbers)


def test_export_pack_csvs_hold_every_table_neutralised_like_the_xlsx(room: Room) -> None:
    for i, bad in enumerate(HOSTILE):
        room.svc.create_challenge(room.partner, room.cell(), bad, amount_pence=i)
    room.svc.create_scenario(room.partner, "=BAD()", [Move(NHS_H, COUNCIL_H, amount_pence=7)])
    sid = room.svc.freeze_snapshot(room.facilitator, room.baseline, why="-why").id
    pack = room.svc.export_pack(room.observer, sid, room.tmp / "pack")
    assert pack.csv.name.endswith(".csv.zip")
    wb = openpyxl.load_workbook(pack.xlsx)
    with zipfile.ZipFile(pack.csv) as zf:
        names = zf.namelist()
        tables = {n: list(csv.reader(io.StringIO(zf.read(n).decode("utf-8-sig")))) for n in names}
    assert len(names) == len(wb.sheetnames)  # one CSV per sheet, in the same order
    assert names[0] == "01_summary.csv" and "07_challenges.csv" in names
    for name, ws in zip(names, wb.worksheets, strict=True):
        sheet = [["" if v is None else str(v) for v in r] for r in ws.iter_rows(values_only=True)]
        rows = tables[name]
        assert len(rows) == len(sheet), name
        for row in rows:
            for value in row:  # numbers stay numbers (-0.07); text never starts like a formula
                assert _is_number(value) or not value.startswith(snap.FORMULA_PREFIXES), value
    challenges = tables["07_challenges.csv"]
    texts = [r[challenges[0].index("text")] for r in challenges[1:]]
    for bad in HOSTILE:
        assert "'" + bad.strip() in texts  # the same inert text as the XLSX
    pence = sorted(int(r[3]) for r in tables["02_baseline.csv"][1:])
    assert pence == sorted(int(v) for v in room.baseline["amount_pence"])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_export_pack_html_is_self_contained_and_escaped(room: Room) -> None:
    populate(room)
    room.svc.create_challenge(room.partner, room.cell(), "<script>alert('x')</script>")
    sid = room.svc.freeze_snapshot(room.facilitator, room.baseline).id
    pack = room.svc.export_pack(room.partner, sid, room.tmp / "pack")
    page = pack.html.read_text(encoding="utf-8")
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "<svg" in page and "Prevention" in page and "Accepted challenges" in page
    for needle in ("src=", "<link", "@import", "url("):
        assert needle not in page
    assert page.count("http") == page.count('xmlns="http://www.w3.org/2000/svg"')
    audit = openpyxl.load_workbook(pack.xlsx)["Audit"]
    actions = [r[4] for r in audit.iter_rows(min_row=2, values_only=True)]
    assert actions[-1] == "snapshot.freeze" and "snapshot.export" not in actions
    assert room.svc.audit(room.facilitator)[-1].action == "snapshot.export"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("ok", "ok"),
        (" =1", " =1"),
        ("a\x01b", "ab"),
        (-5, -5),
        (2.5, 2.5),
        (True, True),
        (None, None),
        (float("nan"), None),
    ],
)
def test_safe_cell(value: object, expected: object) -> None:
    assert snap.safe_cell(value) == expected


def test_pack_written_without_a_database(tmp_path: Path, baseline) -> None:
    content = snap.build_content(
        workshop={
            "id": 1,
            "place_name": "P",
            "place_codes": ["E1"],
            "year": "2010-11",
            "theme": "Older people",
        },
        figures=baseline,
        challenges=[],
        scenarios=[],
    )
    pack = snap.write_pack(content, [], tmp_path, meta={"snapshot": "x"})
    assert pack.xlsx.exists() and pack.html.exists()
