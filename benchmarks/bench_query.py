"""Query benchmark: the dashboard's questions against a ledger loaded to 1 M, 5 M, 20 M rows.

Operations, each the library call the dashboard makes (run ``--repeat`` times, places rotating
over the 13 pilots; the dashboard caches answers per process, these are the uncached costs):

* ``place_count``  ``Workspace.count(place, year)``: the count of one place (overview page).
* ``region_map``   ``Workspace.region_district_counts(region, year)`` for the place's region:
                   the overview page's map (the engine's ``count_districts`` for one region).
* ``england_map``  ``queries.district_spend(store, year)`` summed by district: the all-England
                   district map (map and compare pages).
* ``deep_dive``    ``Workspace.deepdive(place, year, 'older_people')``.
* ``drill_down``   ``queries.lines_page``: a page of 50 of Kent's count lines, largest first
                   (the Explore grid; the count itself is cached by then, as there).
* ``ledger_page``  one page of 50 raw ledger rows of a place's councils (here: the synthetic
                   spend rows) plus the pager's count and sum, straight from the ledger table.
* ``england_map_engine`` (not in the default set, slow) ``count_districts(store, year)``: the
                   engine's own all-England path, one row per ledger line and district.

The ledger is filled by ingesting the synthetic spend files (``generate.py``) into a copy of a
built workspace (CRA, outturn, population), so the counts must pick the CRA rows out of millions
of spend rows by source: the Kent count must not change as spend rows are added (checked).
``--parquet`` also exports the ledger as a Parquet dataset partitioned by year and source
(``COPY ledger TO dir (FORMAT parquet, PARTITION_BY (year, source_id))``) and runs the count and
the map against ``read_parquet`` through a view, as a multi-machine deployment would.
Targets at 20 M rows: place count < 200 ms, England map < 500 ms (median and p95 reported).

    python benchmarks/bench_query.py --store WS/totalplace.duckdb            # as loaded
    python benchmarks/bench_query.py --sizes 1m,5m --base-store BASE.duckdb  # load, measure
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
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import DATA_DIR, hot_functions, percentile, rows_for

YEAR = "2010-11"
THEME = "older_people"
OPS = ("place_count", "region_map", "england_map", "deep_dive", "drill_down", "ledger_page")
PARQUET_OPS = ("place_count", "england_map", "ledger_page")
TARGET_MS = {"place_count": 200.0, "england_map": 500.0}
PAGE = 50

DRILL_SQL = """
SELECT date, agency, counterparty, service_line, description, amount_pence, file, "row"
FROM ledger
WHERE year = $year AND area_level = 'authority' AND list_contains($codes, area_code)
ORDER BY amount_pence DESC, file, "row"
LIMIT $limit OFFSET $offset
"""
DRILL_COUNT_SQL = """
SELECT count(*) AS n, coalesce(sum(amount_pence), 0) AS pence FROM ledger
WHERE year = $year AND area_level = 'authority' AND list_contains($codes, area_code)
"""


def open_workspace(store_path: Path) -> Any:
    """A read-only Workspace over ``store_path`` (any DuckDB file with the store's tables)."""
    from totalplace.config import Settings
    from totalplace.ledger.store import Store
    from totalplace.workspace import Workspace

    ws = Workspace(Settings(workspace=store_path.parent), read_only=True)
    ws.store = Store(store_path, read_only=True)
    return ws


def operations(ws: Any, year: str = YEAR) -> dict[str, Callable[[int], object]]:
    """The benchmarked operations; each takes the iteration number (to rotate places)."""
    from totalplace import queries
    from totalplace.count.engine import count_districts

    places = sorted(ws.pilots())
    councils: dict[str, list[str]] = {}
    regions: dict[str, str] = {}
    for name in places:
        codes = list(ws.place(name).districts)
        upper = ws.store.query(
            "SELECT DISTINCT utla_code, region_code FROM districts "
            "WHERE list_contains(?, area_code) ORDER BY region_code",
            [codes],
        )
        councils[name] = sorted(set(codes) | set(upper["utla_code"].dropna().astype(str)))
        regions[name] = str(upper["region_code"].iloc[0])
    counted: dict[str, Any] = {}

    def place(i: int) -> str:
        return places[i % len(places)]

    def ledger_page(i: int) -> object:
        params = {"year": year, "codes": councils[place(i)]}
        page = ws.store.query(DRILL_SQL, {**params, "limit": PAGE, "offset": 2 * PAGE})
        pager = ws.store.query(DRILL_COUNT_SQL, params)
        return len(page), int(pager["n"].iloc[0])

    def drill_down(i: int) -> object:
        if "Kent" not in counted:  # the dashboard has the count cached when a grid pages
            counted["Kent"] = ws.count("Kent", year)
        sort = (("amount_gbp", False),)
        start = (2 + i % 5) * PAGE
        return queries.lines_page(
            counted["Kent"].lines, queries.LineFilter(), sort, start, start + PAGE
        )

    def england_map(_i: int) -> object:
        spend = queries.district_spend(ws.store, year)
        return spend.groupby("area_code", as_index=False)["amount_pence"].sum()

    return {
        "place_count": lambda i: ws.count(place(i), year),
        "region_map": lambda i: ws.region_district_counts(regions[place(i)], year),
        "england_map": england_map,
        "deep_dive": lambda i: ws.deepdive(place(i), year, THEME),
        "drill_down": drill_down,
        "ledger_page": ledger_page,
        "england_map_engine": lambda _i: count_districts(ws.store, year),
    }


def measure(
    ws: Any,
    repeat: int,
    ops: tuple[str, ...] = OPS,
    year: str = YEAR,
    budget: float = 60.0,
    min_runs: int = 3,
) -> dict[str, dict[str, Any]]:
    """Median, p95, min and max latency (ms) of each operation over ``repeat`` runs (fewer,
    but at least ``min_runs``, when an operation has used up its ``budget`` seconds)."""
    table = operations(ws, year)
    out: dict[str, dict[str, Any]] = {}
    for k, name in enumerate(ops):
        fn = table[name]
        times = []
        try:
            if k == 0 or name == "drill_down":
                fn(0)  # warm-up: first-use imports, cached reference data (and the paged count)
            spent = 0.0
            for i in range(repeat):
                if i >= min_runs and spent > budget:
                    break
                start = time.perf_counter()
                fn(i)
                times.append((time.perf_counter() - start) * 1_000)
                spent += times[-1] / 1_000
        except Exception as exc:  # a library change mid-run: say so, measure the rest
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            continue
        out[name] = {
            "median_ms": statistics.median(times),
            "p95_ms": percentile(times, 95),
            "min_ms": min(times),
            "max_ms": max(times),
            "n": float(len(times)),
        }
    return out


def kent_total(ws: Any, year: str = YEAR) -> int:
    return int(ws.count("Kent", year).total_pence)


def ledger_rows(store_path: Path) -> int:
    import duckdb

    con = duckdb.connect(str(store_path), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM ledger").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


# -- loading the ledger ---------------------------------------------------------------------------
def load(
    store_path: Path, data: Path, files: list[dict[str, Any]], target_rows: int
) -> tuple[int, float, list[dict[str, Any]]]:
    """Ingest ``files`` (in order) into the store until its ledger has ``target_rows`` rows;
    return the rows now in the ledger, the seconds spent and the files left."""
    from totalplace.ingest.pipeline import ingest_file
    from totalplace.ledger.store import Store

    store = Store(store_path)
    start = time.perf_counter()
    n = int(store.query("SELECT count(*) AS n FROM ledger")["n"].iloc[0])
    rest = list(files)
    while rest and n < target_rows:
        f = rest.pop(0)
        rep = ingest_file(
            store, data / f["name"], source_id=f"spend:{f['gss']}", options=f["options"]
        )
        n += rep.rows_ledger
    store.close()
    return n, time.perf_counter() - start, rest


def replicate(store_path: Path, target_rows: int) -> tuple[int, float]:
    """Fill the ledger to ``target_rows`` by copying ingested spend rows under new batch ids
    (for sizes beyond the ingested set, when ingest time is the limit)."""
    import duckdb

    con = duckdb.connect(str(store_path))
    start = time.perf_counter()
    try:
        n = int(con.execute("SELECT count(*) FROM ledger").fetchone()[0])  # type: ignore[index]
        k = 0
        while n < target_rows:
            k += 1
            take = target_rows - n
            # the store keeps a ledger row as a narrow row naming its key (batch, body…):
            # copy the spend keys under new batch ids and numbers, then rows naming them
            first = con.execute("SELECT max(key_id) + 1 FROM ledger_keys").fetchone()[0]  # type: ignore[index]
            spend = "source_id LIKE 'spend:%' AND batch_id NOT LIKE '%#%'"
            con.execute(
                "INSERT INTO ledger_keys SELECT * REPLACE (key_id + $first AS key_id, "
                f"batch_id || $suffix AS batch_id) FROM ledger_keys WHERE {spend}",
                {"suffix": f"#{k}", "first": first},
            )
            con.execute(
                "INSERT INTO ledger_rows SELECT * REPLACE (key_id + $first AS key_id) "
                f"FROM ledger_rows WHERE key_id IN (SELECT key_id FROM ledger_keys WHERE {spend}) "
                "LIMIT $take",
                {"first": first, "take": take},
            )
            n = int(con.execute("SELECT count(*) FROM ledger").fetchone()[0])  # type: ignore[index]
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return n, time.perf_counter() - start


def export_parquet(store_path: Path, folder: Path) -> tuple[Path, float, int]:
    """The ledger as a Parquet dataset partitioned by year and source, and a small DuckDB file
    with the reference tables and a ``ledger`` view over ``read_parquet``: (db, seconds, files)."""
    import duckdb

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    dataset = folder / "ledger"
    start = time.perf_counter()
    con = duckdb.connect(str(store_path), read_only=True)
    try:
        con.execute(
            f"COPY (SELECT * EXCLUDE (rowid), rowid AS rid FROM ledger) TO '{dataset}' "
            "(FORMAT parquet, PARTITION_BY (year, source_id))"
        )
    finally:
        con.close()
    seconds = time.perf_counter() - start
    db = folder / "parquet_view.duckdb"
    con = duckdb.connect(str(db))
    try:
        con.execute(f"ATTACH '{store_path}' AS src (READ_ONLY)")
        tables = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'"
        ).fetchall()
        for (name,) in tables:
            if name not in ("ledger", "ledger_rows", "ledger_keys"):  # the ledger: Parquet
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM src."{name}"')
        con.execute("DETACH src")
        # the engine's SQL uses the ledger's rowid: the export keeps it as a column
        con.execute(
            "CREATE VIEW ledger AS SELECT * EXCLUDE (rid), rid AS rowid FROM read_parquet("
            f"'{dataset}/**/*.parquet', hive_partitioning = true, "
            "hive_types = {'year': VARCHAR, 'source_id': VARCHAR})"
        )
    finally:
        con.close()
    return db, seconds, sum(1 for _ in dataset.rglob("*.parquet"))


# -- the benchmark --------------------------------------------------------------------------------
def bench_store(
    store_path: Path,
    repeat: int,
    *,
    parquet: bool = False,
    profile: bool = False,
    baseline_kent: int | None = None,
    budget: float = 60.0,
    min_runs: int = 3,
    ops: tuple[str, ...] = OPS,
    parquet_ops: tuple[str, ...] = PARQUET_OPS,
) -> dict[str, Any]:
    """Measure every operation against ``store_path`` as it is (and its Parquet export)."""
    rows = ledger_rows(store_path)
    ws = open_workspace(store_path)
    res: dict[str, Any] = {
        "ledger_rows": rows,
        "loadavg_before": os.getloadavg()[0],
        "ops": measure(ws, repeat, ops, budget=budget, min_runs=min_runs),
    }
    total = kent_total(ws)
    res["kent_total_pence"] = total
    if baseline_kent is not None:
        res["count_filters_by_source"] = total == baseline_kent
    if profile:
        table = operations(ws)
        res["profiles"] = {
            "place_count": hot_functions(lambda: table["place_count"](0)),
            "england_map": hot_functions(lambda: table["england_map"](0)),
        }
    ws.store.close()
    if parquet:
        folder = store_path.parent / "parquet"
        db, seconds, nfiles = export_parquet(store_path, folder)
        pws = open_workspace(db)
        res["parquet"] = {
            "export_seconds": seconds,
            "files": nfiles,
            "bytes": sum(p.stat().st_size for p in (folder / "ledger").rglob("*.parquet")),
            "ops": measure(pws, repeat, parquet_ops, budget=budget, min_runs=min_runs),
            "same_kent_total": kent_total(pws) == total,
        }
        pws.store.close()
        shutil.rmtree(folder, ignore_errors=True)
    res["targets"] = [
        {
            "target": f"{op} at {rows:,} ledger rows (p95)",
            "measured": res["ops"][op]["p95_ms"],
            "goal": f"< {goal:.0f} ms",
            "met": res["ops"][op]["p95_ms"] < goal,
        }
        for op, goal in TARGET_MS.items()
        if "p95_ms" in res["ops"].get(op, {})
    ]
    return res


def bench_sizes(
    sizes: list[int],
    base_store: Path,
    work: Path,
    data: Path,
    repeat: int,
    *,
    fill: str = "ingest",
    parquet: bool = False,
    profile: bool = False,
    budget: float = 60.0,
) -> list[dict[str, Any]]:
    """Copy ``base_store`` to ``work``, then for each size (ascending) load the ledger to that
    many rows and measure."""
    work.mkdir(parents=True, exist_ok=True)
    store_path = work / "totalplace.duckdb"
    for old in (store_path, store_path.with_name(store_path.name + ".wal")):
        old.unlink(missing_ok=True)
    shutil.copyfile(base_store, store_path)
    manifest = json.loads((data / "manifest.json").read_text())
    # month by month across the country, so every size covers every council
    files = sorted(manifest["files"], key=lambda f: (f["months"][0], f["gss"]))
    baseline = kent_total(ws := open_workspace(store_path))
    ws.store.close()
    results = []
    for size in sorted(sizes):
        n, seconds, files = load(store_path, data, files, size)
        how = f"ingested ({seconds:.1f} s)"
        if n < size and fill == "replicate":
            n, more = replicate(store_path, size)
            how += f" + replicated ({more:.1f} s)"
        res = bench_store(
            store_path,
            repeat,
            parquet=parquet,
            profile=profile and size == max(sizes),
            baseline_kent=baseline,
            budget=budget,
        )
        res["size"] = size
        res["filled"] = how
        print(report([res]), flush=True)
        results.append(res)
    return results


def report(results: list[dict[str, Any]]) -> str:
    lines = []
    for res in results:
        lines.append(
            f"query: ledger {res['ledger_rows']:,} rows"
            + (f", {res['filled']}" if "filled" in res else "")
            + f", load average {res['loadavg_before']:.2f}"
        )
        lines.append(
            f"{'operation':<13} {'median ms':>10} {'p95 ms':>10} {'min ms':>10} {'runs':>5}  layout"
        )
        for op, m in res["ops"].items():
            if "error" in m:
                lines.append(f"{op:<13} ERROR {m['error']}")
                continue
            lines.append(
                f"{op:<13} {m['median_ms']:>10.1f} {m['p95_ms']:>10.1f} {m['min_ms']:>10.1f} "
                f"{m['n']:>5.0f}  DuckDB table"
            )
        pq = res.get("parquet")
        if pq:
            for op, m in pq["ops"].items():
                if "error" in m:
                    lines.append(f"{op:<13} ERROR (Parquet) {m['error']}")
                    continue
                lines.append(
                    f"{op:<13} {m['median_ms']:>10.1f} {m['p95_ms']:>10.1f} {m['min_ms']:>10.1f} "
                    f"{m['n']:>5.0f}  Parquet ({pq['files']} files, {pq['bytes'] / 1e6:,.1f} MB)"
                )
        if "count_filters_by_source" in res:
            ok = res["count_filters_by_source"]
            lines.append(f"Kent count unchanged by spend rows: {'yes' if ok else 'NO'}")
        for t in res["targets"]:
            verdict = "met" if t["met"] else "MISSED"
            lines.append(
                f"target {t['target']}: {t['measured']:,.1f} ms (goal {t['goal']}): {verdict}"
            )
        for name, prof in res.get("profiles", {}).items():
            lines.append(f"profile {name} (top, cumulative, project code):")
            lines += [
                f"  {p['cum_s']:7.3f} s  {p['where']}"
                for p in prof
                if p["kind"].startswith("cumulative")
            ][:6]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--store", type=Path, help="measure this store as it is")
    ap.add_argument("--sizes", help="load to these ledger sizes, e.g. 1m,5m,20m")
    ap.add_argument("--base-store", type=Path, help="a built workspace's store (for --sizes)")
    ap.add_argument("--work", type=Path, help="folder for the loaded copy (for --sizes)")
    ap.add_argument("--data", type=Path, help="generated spend files (for --sizes)")
    ap.add_argument("--fill", choices=("ingest", "replicate"), default="ingest")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per operation")
    ap.add_argument("--min-runs", type=int, default=3, help="runs even past the budget")
    ap.add_argument("--ops", default=",".join(OPS), help="operations to time")
    ap.add_argument("--parquet", action="store_true", help="also query a Parquet export")
    ap.add_argument("--profile", action="store_true", help="cProfile the count and the map")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.sizes:
        if args.base_store is None:
            ap.error("--sizes needs --base-store (a built workspace's totalplace.duckdb)")
        sizes = [rows_for(s) for s in args.sizes.split(",")]
        biggest = max(sizes)
        if args.data is None:
            from benchmarks.generate import generate, summary

            rows = biggest if args.fill == "ingest" else min(sizes)
            args.data = DATA_DIR / f"spend-{rows}"
            print(summary(generate(rows, args.data)), flush=True)
        results = bench_sizes(
            sizes,
            args.base_store,
            args.work or DATA_DIR / "query-ws",
            args.data,
            args.repeat,
            fill=args.fill,
            parquet=args.parquet,
            profile=args.profile,
            budget=args.budget,
        )
    elif args.store:
        results = [
            bench_store(
                args.store,
                args.repeat,
                parquet=args.parquet,
                profile=args.profile,
                budget=args.budget,
                min_runs=args.min_runs,
                ops=tuple(args.ops.split(",")),
                parquet_ops=tuple(o for o in args.ops.split(",") if o in PARQUET_OPS),
            )
        ]
        print(report(results))
    else:
        ap.error("give --store, or --sizes with --base-store")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
