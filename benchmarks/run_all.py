"""Run every benchmark at one scale and write its results into ``BENCHMARKS.md``.

    python benchmarks/run_all.py                 # --scale small: `make bench`, a few minutes
    python benchmarks/run_all.py --scale 5m      # 5 M synthetic rows (tens of minutes)

Steps: build a base workspace from the mirror (once, kept in ``benchmarks/.data/base-ws``, or
``--base-workspace DIR`` to use a built one), generate the synthetic spend files, run the ingest
benchmark (totalplace's store is kept: the base workspace plus the spend rows), the query
benchmark on that store (and its Parquet export), and the dashboard load benchmark on the
base workspace (the demo). The scale's section of ``BENCHMARKS.md`` (between its
``<!-- results:SCALE -->`` markers) is replaced; every other part of the file is kept.
"""

from __future__ import annotations

if __package__ in (None, ""):
    import sys
    from pathlib import Path as _P

    sys.path.insert(0, str(_P(__file__).resolve().parent.parent))

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from benchmarks import DATA_DIR, ROOT, SCALES

BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
STEPS = ("ingest", "query", "load")


@dataclass(frozen=True)
class Plan:
    """How hard each benchmark works at one scale."""

    rows: int
    councils: int = 0
    repeat: int = 10
    budget: float = 30.0
    parquet: bool = True
    parquet_ops: tuple[str, ...] = ("place_count", "england_map", "ledger_page")
    min_runs: int = 3
    ops: tuple[str, ...] = (
        "place_count",
        "region_map",
        "england_map",
        "deep_dive",
        "drill_down",
        "ledger_page",
    )
    profile: bool = False
    users: int = 20
    workers: int = 4
    duration: float = 30.0
    places: int = 0
    warm_passes: int = 2


PLANS: dict[str, Plan] = {
    "tiny": Plan(
        SCALES["tiny"],
        councils=24,
        repeat=3,
        budget=5,
        min_runs=1,
        ops=("place_count", "england_map", "ledger_page"),
        parquet=True,
        parquet_ops=("place_count", "ledger_page"),
        users=3,
        workers=2,
        duration=4,
        places=1,
        warm_passes=1,
    ),
    "small": Plan(
        SCALES["small"],
        repeat=7,
        budget=8,
        min_runs=2,
        duration=20,
        places=3,
        warm_passes=1,
    ),
    "1m": Plan(SCALES["1m"], repeat=10, budget=30, profile=True, duration=30, places=6),
    "5m": Plan(SCALES["5m"], repeat=10, budget=40, profile=True, duration=30, places=4),
    "20m": Plan(SCALES["20m"], repeat=10, budget=60, profile=True, duration=30, places=6),
}


def base_workspace(given: Path | None, data_dir: Path = DATA_DIR) -> Path:
    """A built workspace folder: ``given``, else ``benchmarks/.data/base-ws`` (built once)."""
    if given is not None:
        if not (given / "totalplace.duckdb").exists():
            raise SystemExit(f"{given} holds no totalplace.duckdb: run `totalplace build -w`")
        return given
    ws = data_dir / "base-ws"
    if not (ws / "totalplace.duckdb").exists():
        exe = Path(sys.executable).with_name("totalplace")
        print(f"building the base workspace in {ws} ...", flush=True)
        subprocess.run([str(exe), "build", "--workspace", str(ws)], check=True, cwd=ROOT)
    return ws


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    versions = {}
    for pkg in ("duckdb", "pandas", "pyarrow", "numpy", "dash", "plotly", "gunicorn", "flask"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = "-"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


# -- running ------------------------------------------------------------------------------------
def run(
    scale: str, plan: Plan, base: Path, only: set[str], data_dir: Path = DATA_DIR
) -> dict[str, Any]:
    from benchmarks import bench_ingest, bench_load, bench_query
    from benchmarks.generate import generate, summary

    suffix = f"-{plan.councils}" if plan.councils else ""
    data = data_dir / f"spend-{plan.rows}{suffix}"
    manifest = generate(plan.rows, data, councils=plan.councils)
    print(summary(manifest), flush=True)
    # results of steps not run this time are kept from the last run on the same data
    saved = data_dir / f"results-{scale}.json"
    results: dict[str, Any] = {}
    if saved.exists() and not set(STEPS) <= only:
        old = json.loads(saved.read_text())
        if old.get("generate", {}).get("digest") == manifest["digest"]:
            results = {k: v for k, v in old.items() if k in STEPS or k == "step_seconds"}
    results.update(
        scale=scale,
        plan=dict(plan.__dict__),
        machine=machine(),
        started=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    results["generate"] = {k: v for k, v in manifest.items() if k != "files"}
    results["generate"]["files"] = len(manifest["files"])
    steps: dict[str, float] = results.setdefault("step_seconds", {})
    t0 = time.perf_counter()

    def done(step: str, value: Any, since: float) -> None:
        results[step] = value
        steps[step] = time.perf_counter() - since
        saved.write_text(json.dumps(results, indent=1, default=str))

    store = data_dir / f"ws-{scale}" / "totalplace.duckdb"
    if "ingest" in only:
        print("== ingest", flush=True)
        t = time.perf_counter()
        ing = bench_ingest.bench(data, store=store, base_store=base / "totalplace.duckdb")
        print(bench_ingest.report(ing), flush=True)
        if plan.profile:
            try:
                ing["profile"] = bench_ingest.profile_ingest(data)
                print(bench_ingest.profile_report(ing["profile"]), flush=True)
            except Exception as exc:  # the figures above stand without a profile
                print(f"profile failed: {exc!r}", flush=True)
        done("ingest", ing, t)
    if "query" in only:
        print("== query", flush=True)
        t = time.perf_counter()
        if not store.exists():
            raise SystemExit(f"no loaded store at {store}: run with the ingest step first")
        base_ws = bench_query.open_workspace(base / "totalplace.duckdb")
        baseline = bench_query.kent_total(base_ws)
        base_ws.store.close()
        q = bench_query.bench_store(
            store,
            plan.repeat,
            baseline_kent=baseline,
            parquet=plan.parquet,
            profile=plan.profile,
            budget=plan.budget,
            min_runs=plan.min_runs,
            ops=plan.ops,
            parquet_ops=plan.parquet_ops,
        )
        print(bench_query.report([q]), flush=True)
        done("query", q, t)
    if "load" in only:
        print("== load", flush=True)
        t = time.perf_counter()
        demo = data_dir / "load-ws"
        demo.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(base / "totalplace.duckdb", demo / "totalplace.duckdb")
        ld = bench_load.bench(
            demo,
            users=plan.users,
            workers=plan.workers,
            duration=plan.duration,
            places=plan.places,
            warm_passes=plan.warm_passes,
        )
        print(bench_load.report(ld), flush=True)
        done("load", ld, t)
    results["seconds"] = time.perf_counter() - t0
    results["all_steps_seconds"] = sum(steps.values())
    return results


# -- writing BENCHMARKS.md ----------------------------------------------------------------------
def _ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.0f}"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[met]


def _steps(res: dict[str, Any]) -> str:
    parts = [f"{k} {v / 60:,.1f} min" for k, v in res.get("step_seconds", {}).items()]
    return "steps: " + ", ".join(parts) if parts else "no steps"


def section(res: dict[str, Any]) -> str:
    """The Markdown block for one scale."""
    m, g = res["machine"], res["generate"]
    v = m["versions"]
    out = [
        f"### Scale `{res['scale']}`: {g['rows']:,} synthetic spend rows",
        "",
        f"Measured {res['started']} on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; "
        f"Python {m['python']}, DuckDB {v['duckdb']}, pandas {v['pandas']}, pyarrow "
        f"{v['pyarrow']}, Dash {v['dash']}, plotly {v['plotly']}, gunicorn {v['gunicorn']}; "
        f"commit `{m['commit']}`{' (with uncommitted changes)' if m['dirty'] else ''}. "
        f"This run took {res['seconds'] / 60:,.1f} min ({_steps(res)}). Reproduce: "
        f"`python benchmarks/run_all.py --scale {res['scale']}`.",
        "",
        f"Data: {g['rows']:,} rows ({g['bad_rows']:,} deliberately broken) in {g['files']:,} "
        f"files from {g['councils']} councils, {g['bytes'] / 1e6:,.0f} MB; rows by layout: "
        + ", ".join(f"{k} {n:,}" for k, n in g["styles"].items())
        + ".",
        "",
    ]
    targets: list[tuple[str, str, str, str]] = []
    ing = res.get("ingest")
    if ing:
        out += [
            f"**Ingest** (load average {ing['loadavg_before']:.1f} at the start, "
            f"{ing.get('loadavg_after', float('nan')):.1f} at the end: the machine is shared)",
            "",
            "| reader | seconds | rows/s | peak RSS MB | notes |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for name, r in ing["readers"].items():
            if "error" in r:
                out.append(f"| {name} | error | | | {r['error']} |")
                continue
            if name == "totalplace":
                note = (
                    f"ledger {r['rows_ledger']:,}, quarantined {r['rows_quarantined']:,} "
                    f"(expected {r['expected_quarantined']:,}), accounting "
                    f"{'exact' if r.get('accounting_ok') else 'MISMATCH'}"
                )
            elif name == "duckdb":
                note = f"count only; {r.get('transcoded_files', 0)} cp1252 files transcoded first"
            elif name == "duckdb_load":
                note = "read_csv, amounts and dates parsed in SQL, stored in a DuckDB table"
            else:
                note = "read_csv, amounts and dates parsed, Parquet per file"
            out.append(
                f"| {name} | {r['seconds']:,.2f} | {r['rows_per_s']:,.0f} | "
                f"{r['peak_rss_mb']:,.0f} | {note} |"
            )
        out.append("")
        prof = ing.get("profile")
        if prof:
            out += [
                f"Profile of totalplace's ingest ({prof['files']} files of every layout, "
                f"{prof['rows']:,} rows; cProfile, {prof['seconds_profiled']:.1f} s):",
                "",
            ]
            out += [
                f"- {p['cum_s']:.2f} s cumulative, {p['calls']:,} calls: `{p['where']}`"
                for p in prof["hot"]
                if p["kind"].startswith("cumulative")
            ][:10]
            out += [
                f"- {p['own_s']:.2f} s own time, {p['calls']:,} calls: `{p['where']}`"
                for p in prof["hot"]
                if p["kind"].startswith("own")
            ][:6]
            out.append("")
        for t in ing["targets"]:
            shown = "n/a" if t["measured"] is None else f"{t['measured']:,.2f}"
            targets.append(
                ("ingest", t["target"], f"{shown} (goal {t['goal']})", _verdict(t["met"]))
            )
    q = res.get("query")
    if q:
        out += [
            f"**Queries** at {q['ledger_rows']:,} ledger rows (the base workspace's CRA, outturn "
            f"and population plus the spend rows; load average {q['loadavg_before']:.1f})",
            "",
            "| operation | layout | median ms | p95 ms | runs |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for op, s in q["ops"].items():
            if "error" in s:
                out.append(f"| {op} | DuckDB table | error: {s['error']} | | |")
                continue
            out.append(
                f"| {op} | DuckDB table | {_ms(s['median_ms'])} | {_ms(s['p95_ms'])} | "
                f"{s['n']:.0f} |"
            )
        pq = q.get("parquet")
        if pq:
            for op, s in pq["ops"].items():
                if "error" in s:
                    out.append(f"| {op} | Parquet | error: {s['error']} | | |")
                    continue
                out.append(
                    f"| {op} | Parquet, {pq['files']:,} files | {_ms(s['median_ms'])} | "
                    f"{_ms(s['p95_ms'])} | {s['n']:.0f} |"
                )
        out.append("")
        notes = []
        if "count_filters_by_source" in q:
            notes.append(
                "the Kent count is unchanged by the spend rows"
                if q["count_filters_by_source"]
                else "the Kent count CHANGED when spend rows were added"
            )
        if pq:
            notes.append(
                f"Parquet export {pq['export_seconds']:,.1f} s, {pq['bytes'] / 1e6:,.1f} MB; "
                + ("same Kent total" if pq["same_kent_total"] else "DIFFERENT Kent total")
            )
        if notes:
            out += ["Checks: " + "; ".join(notes) + ".", ""]
        for t in q["targets"]:
            targets.append(
                (
                    "query",
                    t["target"],
                    f"{t['measured']:,.0f} ms (goal {t['goal']})",
                    _verdict(t["met"]),
                )
            )
        for name, prof in q.get("profiles", {}).items():
            out += [f"Profile of `{name}` (cProfile, one run; cumulative seconds):", ""]
            out += [
                f"- {p['cum_s']:.3f} s `{p['where']}`"
                for p in prof
                if p["kind"].startswith("cumulative")
            ][:6]
            out += [
                f"- own time {p['own_s']:.3f} s `{p['where']}`"
                for p in prof
                if p["kind"].startswith("own")
            ][:3]
            out.append("")
    ld = res.get("load")
    if ld:
        out += [
            f"**Dashboard load**: gunicorn {ld['workers']} workers on 127.0.0.1, {ld['users']} "
            f"users without think time, pages {', '.join(ld['pages'])}, {len(ld['places'])} "
            f"places x {', '.join(ld['years'])}; at most {ld['duration_limit_s']:.0f} s "
            f"(load average {ld['loadavg_before']:.1f})",
            "",
            "| phase | requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for label, s in (("warm-up (cold caches)", ld["warmup"]), ("load", ld["load"])):
            out.append(
                f"| {label} | {s['requests']:,} | {s['errors']:,} | {s['throughput_rps']:,.1f} | "
                f"{_ms(s['p50_ms'])} | {_ms(s['p95_ms'])} | {_ms(s['p99_ms'])} |"
            )
        out += [
            "",
            "| request (load phase) | n | p50 ms | p95 ms | kB |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for name, s in ld["load"]["by_request"].items():
            out.append(
                f"| `{name}` | {s['n']:,} | {_ms(s['p50_ms'])} | {_ms(s['p95_ms'])} | "
                f"{s['kb']:,.0f} |"
            )
        out.append("")
        t = ld["target"]
        targets.append(
            ("load", t["target"], f"{_ms(t['measured'])} ms (goal {t['goal']})", _verdict(t["met"]))
        )
    if targets:
        out += [
            "**Targets**",
            "",
            "| area | target | measured | verdict |",
            "| --- | --- | --- | --- |",
        ]
        out += [f"| {a} | {t} | {m} | {v} |" for a, t, m, v in targets]
        out.append("")
    return "\n".join(out)


TEMPLATE = """# Benchmarks

How fast totalplace ingests, counts and serves at national scale, against the obvious
alternatives, on this project's machine (2 cores, 24 GiB). `make bench` runs everything at the
small scale in a few minutes and rewrites the `small` section below; other scales:
`python benchmarks/run_all.py --scale 1m|5m|20m` (each rewrites only its own section).
Generated data goes to `benchmarks/.data/` (git-ignored). The scripts are in `benchmarks/`:
`generate.py` (synthetic national spend files), `bench_ingest.py`, `bench_query.py`,
`bench_load.py`, `run_all.py`; each has `--help`.

## Results

<!-- results go here -->
"""


def write_markdown(res: dict[str, Any], path: Path) -> None:
    scale = res["scale"]
    block = f"<!-- results:{scale} -->\n{section(res)}\n<!-- /results:{scale} -->"
    text = path.read_text(encoding="utf-8") if path.exists() else TEMPLATE
    pattern = re.compile(
        rf"<!-- results:{re.escape(scale)} -->.*?<!-- /results:{re.escape(scale)} -->", re.S
    )
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    elif "<!-- results go here -->" in text:
        text = text.replace("<!-- results go here -->", f"{block}\n\n<!-- results go here -->")
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scale", choices=list(PLANS), default="small")
    ap.add_argument("--base-workspace", type=Path, help="a built workspace (default: build one)")
    ap.add_argument("--only", default="ingest,query,load", help="steps to run")
    ap.add_argument("--out", type=Path, default=BENCHMARKS_MD, help="Markdown file to update")
    ap.add_argument("--json", type=Path, help="also write all results as JSON")
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR, help="generated data and stores")
    args = ap.parse_args(argv)
    plan = PLANS[args.scale]
    base = base_workspace(args.base_workspace, args.data_dir)
    res = run(args.scale, plan, base, set(args.only.split(",")), args.data_dir)
    write_markdown(res, args.out)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str))
    print(f"wrote {args.out} ({res['seconds'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
