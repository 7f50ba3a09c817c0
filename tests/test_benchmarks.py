"""The benchmark scripts run at a tiny scale and print their figures (no timing assertions:
benchmarks are measured by ``make bench``, not by CI)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
TINY = ["--rows", "20k", "--councils", "12"]

pytestmark = pytest.mark.mirror


def run(script: str, *args: str, mirror: Path, timeout: float = 600) -> str:
    env = dict(os.environ, TOTALPLACE_MIRROR=str(mirror))
    out = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.fixture()
def store_copy(built_settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A copy of the session's built workspace store (the benchmarks write to theirs)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copyfile(built_settings.store_path, ws / "totalplace.duckdb")
    return ws / "totalplace.duckdb"


def test_generate_is_reproducible_and_realistic(mirror: Path, tmp_path: Path) -> None:
    a = run("generate.py", *TINY, "--out", str(tmp_path / "a"), mirror=mirror)
    run("generate.py", *TINY, "--out", str(tmp_path / "b"), "--workers", "1", mirror=mirror)
    assert "generated 20,000 rows" in a
    ma = json.loads((tmp_path / "a" / "manifest.json").read_text())
    mb = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert ma["digest"] == mb["digest"]  # same seed, same bytes, whatever the worker count
    assert ma["councils"] == 12 and ma["rows"] == 20_000
    by_style = {f["style"]: tmp_path / "a" / f["name"] for f in ma["files"]}
    for style, path in by_style.items():
        raw = path.read_bytes()
        if style == "devon_bom":
            assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and b" 00:00:00" in raw
        if style == "devon":
            assert b"\r\n" in raw
        if style == "report":
            assert b"Grand Total" in raw and b'" ' in raw


def test_bench_ingest_prints_its_figures(mirror: Path, tmp_path: Path) -> None:
    out = run("bench_ingest.py", *TINY, "--data", str(tmp_path / "d"), mirror=mirror)
    for reader in ("totalplace", "pandas", "duckdb"):
        assert f"\n{reader}" in out, out
    assert "rows/s" in out and "peak RSS MB" in out
    assert "accounting ok" in out and "errors 0" in out
    assert "target totalplace rows/s vs pandas baseline" in out


def test_bench_query_prints_its_figures(mirror: Path, store_copy: Path, tmp_path: Path) -> None:
    loaded = tmp_path / "loaded" / "totalplace.duckdb"
    run(
        "bench_ingest.py",
        *TINY,
        "--data",
        str(tmp_path / "d"),
        "--readers",
        "totalplace",
        "--base-store",
        str(store_copy),
        "--store",
        str(loaded),
        mirror=mirror,
    )
    out = run(
        "bench_query.py",
        "--store",
        str(loaded),
        "--repeat",
        "1",
        "--min-runs",
        "1",
        "--ops",
        "place_count,england_map,drill_down,ledger_page",
        "--parquet",
        "--json",
        str(tmp_path / "q.json"),
        mirror=mirror,
    )
    for op in ("place_count", "england_map", "drill_down", "ledger_page"):
        assert op in out, out
    assert "median ms" in out
    assert "Parquet" in out and "DuckDB table" in out
    res = json.loads((tmp_path / "q.json").read_text())[0]
    assert res["ledger_rows"] > 20_000
    assert res["parquet"]["same_kent_total"]

    # the fill for sizes beyond the ingested rows: copies of spend rows under new batch ids
    from benchmarks.bench_query import replicate
    from totalplace.ledger.store import Store

    n, _ = replicate(loaded, res["ledger_rows"] + 3_000)
    assert n == res["ledger_rows"] + 3_000
    with Store(loaded, read_only=True) as s:
        copies = s.query(
            """SELECT c.*, (SELECT count(*) FROM ledger o WHERE o.batch_id || '#1' = c.batch_id
                  AND o.file = c.file AND o.row = c.row AND o.amount_pence = c.amount_pence
                  AND o.agency = c.agency AND o.date IS NOT DISTINCT FROM c.date) AS same
               FROM ledger c WHERE c.batch_id LIKE '%#1'"""
        )
    assert len(copies) == 3_000 and (copies["same"] == 1).all()


def test_bench_load_prints_its_figures(mirror: Path, store_copy: Path, tmp_path: Path) -> None:
    out = run(
        "bench_load.py",
        "--workspace",
        str(store_copy.parent),
        "--users",
        "2",
        "--workers",
        "1",
        "--duration",
        "3",
        "--requests",
        "30",
        "--places",
        "1",
        "--pages",
        "/",
        "--warm-passes",
        "1",
        "--json",
        str(tmp_path / "l.json"),
        mirror=mirror,
    )
    assert "p95 ms" in out and "target p95 at 2 concurrent users" in out
    res = json.loads((tmp_path / "l.json").read_text())
    assert res["load"]["requests"] > 0
    assert res["load"]["errors"] == 0
    assert res["page_callbacks"]["/"], "no initial callbacks found for the overview page"


def test_bench_callbacks_times_every_callback_of_each_page(
    mirror: Path, store_copy: Path, tmp_path: Path
) -> None:
    out = run(
        "bench_callbacks.py",
        "--workspace",
        str(store_copy.parent),
        "--rounds",
        "2",
        "--places",
        "2",
        "--pages",
        "/",
        "/map",
        "--json",
        str(tmp_path / "c.json"),
        mirror=mirror,
    )
    assert "first visit p50 ms" in out and "Under 150 ms" in out
    res = json.loads((tmp_path / "c.json").read_text())
    assert res["errors"] == [] and len(res["places"]) == 2
    by_name = {c["callback"]: c for c in res["callbacks"]}
    assert {"/ page layout", "/map page layout"} <= set(by_name)
    assert any(n.startswith("/ overview-kpis") for n in by_name)
    # 2 places on 2 pages plus the map's 2 URL variants; round 2 repeats each view once
    assert by_name["/map page layout"]["n_first"] == 2 * 3
    assert by_name["/map page layout"]["n_repeat"] == 2 * 3


def test_run_all_writes_the_results_table(mirror: Path, store_copy: Path, tmp_path: Path) -> None:
    md = tmp_path / "BENCHMARKS.md"
    md.write_text("# Benchmarks\n\nHand-written text.\n\n<!-- results go here -->\n")
    args = ["--scale", "tiny", "--base-workspace", str(store_copy.parent)]
    args += ["--data-dir", str(tmp_path / "data"), "--out", str(md)]
    run("run_all.py", *args, mirror=mirror, timeout=900)
    text = md.read_text()
    assert "Hand-written text." in text
    assert "<!-- results:tiny -->" in text and "<!-- /results:tiny -->" in text
    for heading in ("**Ingest**", "**Queries**", "**Dashboard load**", "**Targets**"):
        assert heading in text
