"""Nothing is silently replaced (issue #17): two different files are two sources, the same file
twice is one, and a file only supersedes another when the user says so, in the report with the
rows it removes. Every case checks the accounting: ledger + quarantine = rows read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.fixtures.make_fixtures import HEADER, mini_lookups
from totalplace.cli import app
from totalplace.ingest.pipeline import ingest_file
from totalplace.ledger.store import Store

DEVON = ["--option", "area_code=E10000008", "--option", "agency=Devon County Council"]
KENT = ["--option", "area_code=E10000016", "--option", "agency=Kent County Council"]


def spend_csv(path: Path, body: str, amounts: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [HEADER] + [
        f"{body},0{i + 4}/05/2010,Highways,Road Repairs,SUPPLIER {i},T{i},{a}"
        for i, a in enumerate(amounts)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ingest_json(workspace: Path, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    res = CliRunner().invoke(app, ["ingest", "-w", str(workspace), *args, "--report", "json"])
    out = res.stdout
    return res.exit_code, json.loads(out[out.index("[") :]), res.output


def ledger_by_agency(workspace: Path) -> dict[str, tuple[int, int]]:
    with Store(workspace / "totalplace.duckdb") as store:
        rows = store.query(
            "SELECT agency, count(*) AS n, sum(amount_pence) AS p FROM ledger GROUP BY 1"
        )
        accounting = store.query(
            "SELECT sum(rows_read) AS r, sum(rows_ledger) AS l, sum(rows_quarantined) AS q, "
            "(SELECT count(*) FROM ledger) AS ledger, (SELECT count(*) FROM quarantine) AS qu "
            "FROM batches"
        ).iloc[0]
        assert accounting["r"] == accounting["l"] + accounting["q"]
        assert (accounting["l"], accounting["q"]) == (accounting["ledger"], accounting["qu"])
        assert not store.check()
    return {r.agency: (int(r.n), int(r.p)) for r in rows.itertuples()}


def test_same_basename_two_councils(tmp_path: Path) -> None:
    """`ingest a/spend.csv` (Devon, 2 rows) then `ingest b/spend.csv` (Kent, 1 row): both
    councils' rows stay, as two sources; the second file replaces nothing."""
    a = spend_csv(tmp_path / "a" / "spend.csv", "Devon County Council", ["100.00", "250.50"])
    b = spend_csv(tmp_path / "b" / "spend.csv", "Kent County Council", ["75.25"])
    code, [first], _ = ingest_json(tmp_path, str(a), *DEVON)
    assert code == 0 and first["status"] == "ingested" and first["rows_ledger"] == 2
    code, [second], _ = ingest_json(tmp_path, str(b), *KENT)
    assert code == 0 and second["status"] == "ingested" and second["rows_read"] == 1
    assert second["replaced"] == []
    assert first["source_id"] != second["source_id"]
    assert first["source_id"].startswith("local:spend.csv:")
    assert ledger_by_agency(tmp_path) == {
        "Devon County Council": (2, 35050),
        "Kent County Council": (1, 7525),
    }
    # the same file again is not doubled
    code, [again], _ = ingest_json(tmp_path, str(a), *DEVON)
    assert code == 0 and again["status"] == "unchanged"
    assert again["batch_id"] == first["batch_id"]
    assert ledger_by_agency(tmp_path)["Devon County Council"] == (2, 35050)


def test_changed_file_at_the_same_path_is_refused_without_force(tmp_path: Path) -> None:
    path = spend_csv(tmp_path / "in" / "spend.csv", "Devon County Council", ["100.00", "250.50"])
    assert ingest_json(tmp_path, str(path), *DEVON)[0] == 0
    spend_csv(path, "Devon County Council", ["100.00", "250.50", "9.99"])  # a corrected file
    code, [refused], _ = ingest_json(tmp_path, str(path), *DEVON)
    assert code == 1 and refused["status"] == "error"
    assert "ingested before with other content" in refused["message"]
    assert "2 ledger rows" in refused["message"] and "--force" in refused["message"]
    assert ledger_by_agency(tmp_path) == {"Devon County Council": (2, 35050)}  # untouched

    res = CliRunner().invoke(app, ["ingest", "-w", str(tmp_path), str(path), "--force", *DEVON])
    assert res.exit_code == 0, res.output
    shown = " ".join(res.output.split())
    assert "replaces" in shown and "2 ledger rows, 0 quarantined, £350.50" in shown
    assert ledger_by_agency(tmp_path) == {"Devon County Council": (3, 36049)}


def test_force_names_the_replaced_batch_in_the_json_report(tmp_path: Path) -> None:
    path = spend_csv(tmp_path / "spend.csv", "Devon County Council", ["100.00", "250.50"])
    _, [first], _ = ingest_json(tmp_path, str(path), *DEVON)
    spend_csv(path, "Devon County Council", ["1.00"])
    code, [forced], _ = ingest_json(tmp_path, str(path), "--force", *DEVON)
    assert code == 0 and forced["status"] == "ingested"
    assert forced["replaced"] == [
        {
            "batch_id": first["batch_id"],
            "source_id": first["source_id"],
            "file": "spend.csv",
            "path": str(path.resolve()),
            "rows_ledger": 2,
            "rows_quarantined": 0,
            "amount_gbp": 350.5,
        }
    ]
    assert ledger_by_agency(tmp_path) == {"Devon County Council": (1, 100)}


@pytest.mark.parametrize("by", ["source_id", "path", "batch_id"])
def test_replaces_names_what_a_file_supersedes(tmp_path: Path, by: str) -> None:
    old = spend_csv(tmp_path / "2010" / "devon.csv", "Devon County Council", ["100.00", "5.00"])
    new = spend_csv(tmp_path / "2010-fixed" / "devon.csv", "Devon County Council", ["105.00"])
    _, [first], _ = ingest_json(tmp_path, str(old), *DEVON)
    target = str(old) if by == "path" else first[by]
    code, [second], _ = ingest_json(tmp_path, str(new), "--replaces", target, *DEVON)
    assert code == 0 and second["status"] == "ingested"
    assert [(r["batch_id"], r["rows_ledger"]) for r in second["replaced"]] == [
        (first["batch_id"], 2)
    ]
    assert ledger_by_agency(tmp_path) == {"Devon County Council": (1, 10500)}


def test_replaces_that_names_nothing_writes_nothing(tmp_path: Path) -> None:
    path = spend_csv(tmp_path / "spend.csv", "Devon County Council", ["100.00"])
    code, [report], _ = ingest_json(tmp_path, str(path), "--replaces", "local:nope.csv", *DEVON)
    assert code == 1 and report["status"] == "error"
    assert "--replaces 'local:nope.csv': no ingested file has that source id" in report["message"]
    with Store(tmp_path / "totalplace.duckdb") as store:
        assert store.query("SELECT count(*) AS n FROM batches")["n"][0] == 0


def test_replaces_takes_one_file(tmp_path: Path) -> None:
    a = spend_csv(tmp_path / "a.csv", "Devon County Council", ["1.00"])
    res = CliRunner().invoke(
        app, ["ingest", "-w", str(tmp_path), str(a), str(a), "--replaces", "x"]
    )
    assert res.exit_code == 1 and "give one file" in res.output


def test_a_catalogue_source_replaces_its_own_earlier_version(tmp_path: Path) -> None:
    """`totalplace build` names the source (catalogue id): a new version of its file replaces
    the old one, and the report says so."""
    path = spend_csv(tmp_path / "devon.csv", "Devon County Council", ["100.00", "5.00"])
    with Store(tmp_path / "s.duckdb") as store:
        first = ingest_file(store, path, source_id="devon_2010", options=mini_lookups())
        spend_csv(path, "Devon County Council", ["7.00"])
        second = ingest_file(store, path, source_id="devon_2010", options=mini_lookups())
        assert (second.status, second.source_id) == ("ingested", "devon_2010")
        assert [(r["batch_id"], r["rows_ledger"]) for r in second.replaced] == [(first.batch_id, 2)]
        assert store.query("SELECT count(*) AS n, sum(amount_pence) AS p FROM ledger").iloc[
            0
        ].tolist() == [1, 700]


def test_the_bulk_ingest_snapshot_finds_what_the_store_finds(tmp_path: Path) -> None:
    """`Store.batch_index` (asked once by a bulk ingest for every file) answers each lookup
    `superseded` makes exactly as `Store.find_batches` does: same rows, same order, nothing
    for values no batch holds."""
    a = spend_csv(tmp_path / "a" / "spend.csv", "Devon County Council", ["100.00"])
    b = spend_csv(tmp_path / "b" / "spend.csv", "Kent County Council", ["75.25", "1.00"])
    c = spend_csv(tmp_path / "c" / "other.csv", "Kent County Council", ["3.00"])
    assert ingest_json(tmp_path, str(a), *DEVON)[0] == 0
    assert ingest_json(tmp_path, str(b), str(c), *KENT)[0] == 0
    spend_csv(b, "Kent County Council", ["75.25", "2.00"])
    assert ingest_json(tmp_path, str(b), "--force", *KENT)[0] == 0
    with Store(tmp_path / "totalplace.duckdb") as store:
        index = store.batch_index()
        batches = store.query("SELECT * FROM batches")
        assert len(batches) == 3  # b's first version was replaced
        lookups: list[dict[str, str]] = [{"path": "/nowhere"}, {"source_id": "x", "file": "y"}]
        for r in batches.itertuples():
            lookups += [
                {"path": r.path},
                {"content_sha256": r.content_sha256, "adapter": r.adapter},
                {"source_id": r.source_id, "file": r.file},
                {"source_id": r.source_id},
                {"batch_id": r.batch_id},
                {"file": r.file},
            ]
        for equal in lookups:
            want = store.find_batches(**equal)
            got = index.find_batches(**equal)
            assert got.to_dict("records") == want.to_dict("records"), equal
        assert len(index.find_batches(file="spend.csv")) == 2
        with pytest.raises(ValueError, match="find_batches takes"):
            index.find_batches(rows_read="1")
