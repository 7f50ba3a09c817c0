"""Ingest benchmark: the same synthetic spend files through three readers, in one run.

* ``totalplace``  the real ingest (``ingest_files``, as ``totalplace ingest`` does): detection,
                  encoding, header search, amounts and dates parsed exactly, paying bodies
                  resolved, every row accounted for; files parsed by a pool of workers (the
                  columnar path), one writer, one transaction.
* ``pandas``      a fair baseline doing the same kind of work: ``pd.read_csv`` per file (told
                  each file's encoding, title rows, amount and date columns and date format,
                  which totalplace has to find out), amounts parsed to pence (brackets, thousands,
                  padding), dates parsed, rows without both dropped (totals, broken rows), each
                  file streamed to its own Parquet file.
* ``duckdb``      DuckDB's own ``read_csv`` counting rows, one query per file layout (told
                  encoding and title rows too): the parse limit on this machine.
* ``duckdb_load`` DuckDB alone, end to end: ``read_csv`` per layout (told the same as pandas),
                  amounts and dates parsed in SQL, every row stored in a table of a DuckDB
                  file: what the same job costs in the engine with no checks, quarantine or
                  provenance (the store's own insert is in it).

Each reader runs in its own process, so peak memory (max RSS) is its own. Rates are the
generated data rows over the reader's own time (interpreter start and imports excluded).
Targets: totalplace >= 5x the pandas rows/s, within 3x of DuckDB's time; 20 M rows in < 30 s
with peak RSS < 2 GB.

    python benchmarks/bench_ingest.py --rows small
"""

from __future__ import annotations

if __package__ in (None, ""):
    import sys
    from pathlib import Path as _P

    sys.path.insert(0, str(_P(__file__).resolve().parent.parent))

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import DATA_DIR, rows_for

READERS = ("totalplace", "pandas", "duckdb", "duckdb_load")
TARGET_VS_PANDAS = 5.0
TARGET_VS_DUCKDB = 3.0
TARGET_20M_SECONDS = 30.0
TARGET_RSS_MB = 2048.0
HEADER_SKIP = {"report": 3}
#: The generator's layouts for the pandas baseline: (amount column, date column, date format).
PANDAS_LAYOUT = {
    "devon": ("Amount", "Date", "%d/%m/%Y"),
    "devon_bom": ("Amount", "Date", "%Y-%m-%d"),
    "bradford": ("Net Amount", "Payment date", "%Y-%m-%d"),
    "manchester": ("Amount", "Invoice Payment Date", "%Y-%m-%d"),
    "report": ("Amount", "Date", "%d/%m/%Y"),
}


# -- the readers (each runs in a child process) -------------------------------------------------
def _files(data: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    manifest = json.loads((data / "manifest.json").read_text())
    return manifest, list(manifest["files"])


def run_totalplace(data: Path, store_path: Path) -> dict[str, Any]:
    from totalplace.ingest.bulk import FileJob, default_workers, ingest_files
    from totalplace.ledger.store import Store

    manifest, files = _files(data)
    store = Store(store_path)
    store.init_schema()  # open the store before the clock starts
    start = time.perf_counter()
    jobs = [FileJob(data / f["name"], f"spend:{f['gss']}", f["options"]) for f in files]
    reports = ingest_files(store, jobs)
    seconds = time.perf_counter() - start
    sums = store.query(
        "SELECT count(*) AS n, coalesce(sum(amount_pence), 0) AS pence FROM ledger "
        "WHERE source_id LIKE 'spend:%'"
    ).iloc[0]
    store.close()
    errors = [f"{r.file}: {r.message}" for r in reports if r.status == "error"]
    return {
        "seconds": seconds,
        "workers": default_workers(),
        "rows_read": sum(r.rows_read for r in reports),
        "rows_ledger": sum(r.rows_ledger for r in reports),
        "rows_quarantined": sum(r.rows_quarantined for r in reports),
        "ledger_rows_in_store": int(sums["n"]),
        "ledger_amount_pence": int(sums["pence"]),
        "expected_amount_pence": int(manifest["amount_pence"]),
        "expected_quarantined": int(manifest["bad_rows"]),
        "unchanged": sum(r.status == "unchanged" for r in reports),
        "errors": errors[:5],
        "n_errors": len(errors),
    }


def run_pandas(data: Path, out: Path) -> dict[str, Any]:
    import pandas as pd

    _, files = _files(data)
    parquet = out / "pandas-parquet"
    parquet.mkdir(exist_ok=True)
    start = time.perf_counter()
    rows_out = 0
    for i, f in enumerate(files):
        amount, date, fmt = PANDAS_LAYOUT[f["style"]]
        frame = pd.read_csv(
            data / f["name"],
            dtype=str,
            keep_default_na=False,
            encoding=f["encoding"],
            skiprows=HEADER_SKIP.get(f["style"], 0),
            on_bad_lines="skip",
        )
        text = frame[amount].str.strip()
        credit = text.str.startswith("(")
        number = pd.to_numeric(
            text.str.strip("()").str.replace(",", "", regex=False), errors="coerce"
        )
        pence = (number * 100).round().where(~credit, -(number * 100).round())
        day = pd.to_datetime(frame[date].str[:10], format=fmt, errors="coerce")
        keep = pence.notna() & day.notna()
        frame = frame[keep].assign(amount_pence=pence[keep].astype("int64"), date=day[keep])
        frame = frame.drop(columns=[amount])
        frame.to_parquet(parquet / f"{i}.parquet", index=False)
        rows_out += len(frame)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows_out": rows_out}


def _duckdb_inputs(
    data: Path, files: list[dict[str, Any]], tmp: Path
) -> tuple[dict[str, list[str]], int]:
    """Paths by layout for DuckDB, Windows-1252 files transcoded to UTF-8 into ``tmp`` first
    (DuckDB reads only UTF-8, UTF-16 and Latin-1, and refuses cp1252's 0x80-0x9F: ’ –)."""
    by_style: dict[str, list[str]] = {}
    transcoded = 0
    for f in files:
        path = data / f["name"]
        if f["encoding"] not in ("utf-8", "ascii"):
            dst = tmp / f["name"]
            dst.write_bytes(path.read_bytes().decode(f["encoding"]).encode("utf-8"))
            path, transcoded = dst, transcoded + 1
        by_style.setdefault(f["style"], []).append(str(path))
    return by_style, transcoded


_READ_CSV = (
    "read_csv($paths, header = true, skip = $skip, all_varchar = true, null_padding = true, "
    "ignore_errors = true, filename = true)"
)


def run_duckdb(data: Path) -> dict[str, Any]:
    import duckdb

    _, files = _files(data)
    con = duckdb.connect()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tp-bench-utf8-") as tmp:
        by_style, transcoded = _duckdb_inputs(data, files, Path(tmp))
        counted = 0
        for style, paths in by_style.items():
            row = con.execute(
                f"SELECT count(*) FROM {_READ_CSV}",
                {"paths": paths, "skip": HEADER_SKIP.get(style, 0)},
            ).fetchone()
            counted += int(row[0]) if row else 0
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rows_out": counted,
        "threads": _duck_threads(con),
        "transcoded_files": transcoded,
    }


def run_duckdb_load(data: Path, scratch: Path) -> dict[str, Any]:
    """DuckDB alone, end to end: each layout read by ``read_csv`` (told its encoding, title
    rows, amount and date columns and date format), amounts parsed to pence and dates parsed
    in SQL, rows without both dropped, every column stored in a table of a DuckDB file."""
    import duckdb

    _, files = _files(data)
    db = scratch / "duckdb-load.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tp-bench-utf8-") as tmp:
        by_style, transcoded = _duckdb_inputs(data, files, Path(tmp))
        for style, paths in by_style.items():
            amount, date, fmt = PANDAS_LAYOUT[style]
            text = f'trim("{amount}")'
            pence = (
                f"CAST(round(TRY_CAST(replace(trim({text}, '()'), ',', '') AS DECIMAL(18, 2)) "
                f"* 100) AS BIGINT) * CASE WHEN starts_with({text}, '(') THEN -1 ELSE 1 END"
            )
            day = f"CAST(try_strptime(left(\"{date}\", 10), '{fmt}') AS DATE)"
            con.execute(
                f'CREATE TABLE spend_{style} AS SELECT * FROM (SELECT * EXCLUDE ("{amount}"), '
                f"{pence} AS amount_pence, {day} AS day FROM {_READ_CSV}) "
                "WHERE amount_pence IS NOT NULL AND day IS NOT NULL",
                {"paths": paths, "skip": HEADER_SKIP.get(style, 0)},
            )
        con.execute("CHECKPOINT")
        seconds = time.perf_counter() - start
    row = con.execute(
        " UNION ALL ".join(f"SELECT count(*) FROM spend_{s}" for s in by_style)
    ).fetchall()
    out = {
        "seconds": seconds,
        "rows_out": sum(int(r[0]) for r in row),
        "threads": _duck_threads(con),
        "transcoded_files": transcoded,
    }
    con.close()
    db.unlink(missing_ok=True)
    return out


def _duck_threads(con: Any) -> int:
    row = con.execute("SELECT current_setting('threads')").fetchone()
    return int(row[0]) if row else 0


def child(reader: str, data: Path, result: Path, store: Path | None, scratch: Path) -> None:
    if reader == "totalplace":
        assert store is not None
        out = run_totalplace(data, store)
    elif reader == "pandas":
        out = run_pandas(data, scratch)
    elif reader == "duckdb_load":
        out = run_duckdb_load(data, scratch)
    else:
        out = run_duckdb(data)
    result.write_text(json.dumps(out))


def profile_ingest(data: Path, n_files: int = 24) -> dict[str, Any]:
    """cProfile totalplace's ingest of ``n_files`` files (every layout, largest first) into a
    scratch store: where the time goes, per file and per row."""
    from benchmarks import hot_functions
    from totalplace.ingest.bulk import FileJob, ingest_files
    from totalplace.ingest.pipeline import ingest_file
    from totalplace.ledger.store import Store

    _, files = _files(data)
    by_style: dict[str, list[dict[str, Any]]] = {}
    for f in sorted(files, key=lambda f: -f["rows"]):
        by_style.setdefault(f["style"], []).append(f)
    chosen: list[dict[str, Any]] = []
    while len(chosen) < n_files and any(by_style.values()):
        for group in by_style.values():
            if group and len(chosen) < n_files:
                chosen.append(group.pop(0))
    with tempfile.TemporaryDirectory(prefix="tp-bench-profile-") as tmp:
        store = Store(Path(tmp) / "totalplace.duckdb")
        store.init_schema()
        ingest_file(store, data / chosen[0]["name"], options=chosen[0]["options"], force=True)
        start = time.perf_counter()
        jobs = [FileJob(data / f["name"], None, f["options"]) for f in chosen]
        hot = hot_functions(lambda: ingest_files(store, jobs, force=True, workers=1), top=12)
        seconds = time.perf_counter() - start
        store.close()
    return {
        "files": len(chosen),
        "rows": sum(f["rows"] for f in chosen),
        "seconds_profiled": seconds,
        "hot": hot,
    }


# -- the parent ---------------------------------------------------------------------------------
def run_reader(
    reader: str, data: Path, store: Path | None, scratch: Path, timeout: float
) -> dict[str, Any]:
    """Run one reader in a child process; its result plus peak RSS (MB) and wall time."""
    result = scratch / f"{reader}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", reader, "--data", str(data)]
    cmd += ["--result", str(result), "--scratch", str(scratch)]
    if store is not None:
        cmd += ["--store", str(store)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd)
    deadline = start + timeout
    status, usage = 0, None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            return {"error": f"timed out after {timeout:.0f} s"}
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not result.exists():
        return {"error": f"exit code {proc.returncode}"}
    out: dict[str, Any] = json.loads(result.read_text())
    out["peak_rss_mb"] = usage.ru_maxrss / 1024
    out["wall_seconds"] = wall
    return out


def bench(
    data: Path,
    *,
    store: Path | None = None,
    base_store: Path | None = None,
    readers: tuple[str, ...] = READERS,
    timeout: float = 3_600,
) -> dict[str, Any]:
    """Run the readers on the generated files in ``data``; ``store`` keeps totalplace's store
    (copied from ``base_store`` first, e.g. a built workspace, so queries can use it)."""
    manifest = json.loads((data / "manifest.json").read_text())
    rows = int(manifest["rows"])
    results: dict[str, Any] = {
        "rows": rows,
        "files": len(manifest["files"]),
        "bytes": manifest["bytes"],
        "bad_rows": manifest["bad_rows"],
        "styles": manifest["styles"],
        "loadavg_before": os.getloadavg()[0],
        "readers": {},
    }
    with tempfile.TemporaryDirectory(prefix="tp-bench-ingest-") as tmp:
        scratch = Path(tmp)
        for reader in readers:
            target = None
            if reader == "totalplace":
                target = store or scratch / "ws" / "totalplace.duckdb"
                target.parent.mkdir(parents=True, exist_ok=True)
                for old in (target, target.with_name(target.name + ".wal")):
                    old.unlink(missing_ok=True)
                if base_store is not None:
                    shutil.copyfile(base_store, target)
            res = run_reader(reader, data, target, scratch, timeout)
            if "seconds" in res:
                res["rows_per_s"] = rows / res["seconds"] if res["seconds"] else 0.0
            results["readers"][reader] = res
    results["loadavg_after"] = os.getloadavg()[0]
    r = results["readers"]
    tp, pd_, dk = r.get("totalplace", {}), r.get("pandas", {}), r.get("duckdb", {})
    if "rows_per_s" in tp and "rows_per_s" in pd_:
        results["vs_pandas"] = tp["rows_per_s"] / pd_["rows_per_s"]
    if "seconds" in tp and "seconds" in dk:
        results["vs_duckdb"] = tp["seconds"] / dk["seconds"]
    if "seconds" in tp and "seconds" in r.get("duckdb_load", {}):
        results["vs_duckdb_load"] = tp["seconds"] / r["duckdb_load"]["seconds"]
    if "rows_per_s" in tp:
        results["projected_20m_seconds"] = 20_000_000 / tp["rows_per_s"]
    if "rows_ledger" in tp:
        tp["accounting_ok"] = (
            tp["rows_ledger"] + tp["rows_quarantined"] == rows
            and tp["rows_quarantined"] == tp["expected_quarantined"]
            and tp["ledger_amount_pence"] == tp["expected_amount_pence"]
        )
    results["targets"] = targets(results)
    return results


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target: what, measured, goal, met (None when not measured)."""
    tp = results["readers"].get("totalplace", {})
    out = [
        {
            "target": "totalplace rows/s vs pandas baseline",
            "measured": results.get("vs_pandas"),
            "goal": f">= {TARGET_VS_PANDAS:.0f}x",
            "met": None if "vs_pandas" not in results else results["vs_pandas"] >= TARGET_VS_PANDAS,
        },
        {
            "target": "totalplace time vs DuckDB read_csv count",
            "measured": results.get("vs_duckdb"),
            "goal": f"<= {TARGET_VS_DUCKDB:.0f}x",
            "met": None if "vs_duckdb" not in results else results["vs_duckdb"] <= TARGET_VS_DUCKDB,
        },
        {
            "target": "20 M mixed rows (projected from this run's rate)",
            "measured": results.get("projected_20m_seconds"),
            "goal": f"< {TARGET_20M_SECONDS:.0f} s",
            "met": None
            if "projected_20m_seconds" not in results
            else results["projected_20m_seconds"] < TARGET_20M_SECONDS,
        },
        {
            "target": "accounting: ledger + quarantine = rows read, quarantine = broken rows",
            "measured": None if "rows_ledger" not in tp else float(tp["rows_quarantined"]),
            "goal": "exact",
            "met": tp.get("accounting_ok"),
        },
        {
            "target": "totalplace peak RSS",
            "measured": tp.get("peak_rss_mb"),
            "goal": f"< {TARGET_RSS_MB:.0f} MB",
            "met": None if "peak_rss_mb" not in tp else tp["peak_rss_mb"] < TARGET_RSS_MB,
        },
    ]
    return out


def report(results: dict[str, Any]) -> str:
    lines = [
        f"ingest: {results['rows']:,} rows in {results['files']:,} files "
        f"({results['bytes'] / 1e6:,.1f} MB), load average {results['loadavg_before']:.2f}",
        f"{'reader':<11} {'seconds':>9} {'rows/s':>12} {'peak RSS MB':>12}  notes",
    ]
    for name, r in results["readers"].items():
        if "error" in r:
            lines.append(f"{name:<11} ERROR {r['error']}")
            continue
        if name == "totalplace":
            note = (
                f"ledger {r['rows_ledger']:,}, quarantined {r['rows_quarantined']:,} "
                f"(expected {r['expected_quarantined']:,}), accounting "
                f"{'ok' if r.get('accounting_ok') else 'MISMATCH'}, errors {r['n_errors']}, "
                f"{r.get('workers')} workers"
            )
        elif name == "duckdb":
            note = (
                f"counted {r['rows_out']:,} (incl. total rows), {r.get('threads')} threads, "
                f"{r.get('transcoded_files', 0)} cp1252 files transcoded first"
            )
        elif name == "duckdb_load":
            note = (
                f"{r['rows_out']:,} rows stored (amounts and dates parsed in SQL), "
                f"{r.get('threads')} threads"
            )
        else:
            note = f"{r['rows_out']:,} rows out (amounts and dates parsed)"
        lines.append(
            f"{name:<11} {r['seconds']:>9.2f} {r['rows_per_s']:>12,.0f} "
            f"{r['peak_rss_mb']:>12,.0f}  {note}"
        )
    for t in results["targets"]:
        m = t["measured"]
        shown = "n/a" if m is None else f"{m:,.2f}"
        verdict = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        lines.append(f"target {t['target']}: {shown} (goal {t['goal']}): {verdict}")
    return "\n".join(lines)


def profile_report(prof: dict[str, Any]) -> str:
    lines = [
        f"profile: totalplace ingest of {prof['files']} files, {prof['rows']:,} rows, "
        f"{prof['seconds_profiled']:.1f} s under cProfile"
    ]
    for p in prof["hot"]:
        secs = p["cum_s"] if p["kind"].startswith("cum") else p["own_s"]
        lines.append(f"  {p['kind']:<21} {secs:8.3f} s  {p['calls']:>9,} calls  {p['where']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", default="small", help="tiny|small|1m|5m|20m or a number")
    ap.add_argument("--data", type=Path, help="generated files (default benchmarks/.data/...)")
    ap.add_argument("--readers", default=",".join(READERS))
    ap.add_argument("--councils", type=int, default=0, help="only N councils (0: all England)")
    ap.add_argument("--store", type=Path, help="keep totalplace's store here")
    ap.add_argument("--base-store", type=Path, help="copy this store first (a built workspace)")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--timeout", type=float, default=3_600)
    ap.add_argument("--profile", type=int, default=0, help="also cProfile N files' ingest")
    ap.add_argument("--child", choices=READERS, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.data, args.result, args.store, args.scratch)
        return 0
    from benchmarks.generate import generate, summary

    rows = rows_for(args.rows)
    suffix = f"-{args.councils}" if args.councils else ""
    data = args.data or DATA_DIR / f"spend-{rows}{suffix}"
    print(summary(generate(rows, data, councils=args.councils)), flush=True)
    results = bench(
        data,
        store=args.store,
        base_store=args.base_store,
        readers=tuple(r for r in args.readers.split(",") if r),
        timeout=args.timeout,
    )
    print(report(results))
    if args.profile:
        prof = profile_ingest(data, args.profile)
        results["profile"] = prof
        print(profile_report(prof))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
