"""Callback latency benchmark: how long each Dash callback takes to answer, one user at a time.

The dashboard issue's target is "each callback answers in under 150 ms for a pilot place on the
demo workspace". This script measures exactly that, with no concurrency (the load benchmark,
``bench_load.py``, measures the same requests under 20 users):

* one gunicorn worker is started on 127.0.0.1 for a copy of the workspace, so the first round is
  a genuinely **cold** process: nothing is cached in memory, only what ``totalplace build``
  stored in the workspace is there;
* the requests are the ones the Dash renderer sends (read from the running app, as in
  ``bench_load.py``): for every page and every pilot place, the pages callback (the page's
  layout) and every callback that fires when the page loads, plus a few views that change a
  control through the URL (England-wide map, upper-tier level, per-head measure);
* round 1 visits every (view, place) once: its latencies are the **first-visit** figures (the
  cost a user sees the first time they open a place); rounds 2..N repeat the same requests:
  the **repeat** figures.

It prints, per callback, the median and worst first-visit latency and the median and p95
repeat latency, and says which callbacks meet 150 ms. It asserts nothing; ``--json`` writes the
figures for ``run_all.py``.

    python benchmarks/bench_callbacks.py --workspace workspace --rounds 3
"""

from __future__ import annotations

if __package__ in (None, ""):
    import sys
    from pathlib import Path as _P

    sys.path.insert(0, str(_P(__file__).resolve().parent.parent))

import argparse
import http.client
import json
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from benchmarks import percentile
from benchmarks.bench_load import (
    HOST,
    Server,
    body_for,
    components,
    discover,
    initial_callbacks,
    pages_body,
    request,
    short_name,
)

TARGET_MS = 150.0
#: The analysts' pages (the workshop pages need a session token; upload has no callbacks on load).
PAGES = ["/", "/map", "/flows", "/compare", "/explore", "/sources", "/agency", "/deepdive"]
#: Views that change a control through the URL, on top of each page's defaults.
VARIANTS: list[tuple[str, dict[str, str]]] = [
    ("/map", {"area": "england"}),
    ("/map", {"level": "upper_tier", "measure": "per_head"}),
    ("/compare", {"measure": "total"}),
]


def views(places: list[str], year: str, pages: list[str] = PAGES) -> list[tuple[str, str]]:
    """(page, query string) for every page and pilot, then the control variants."""
    out = [(p, "?" + urlencode({"place": pl, "year": year})) for p in pages for pl in places]
    for page, extra in VARIANTS:
        if page in pages:
            out += [(page, "?" + urlencode({"place": pl, "year": year, **extra})) for pl in places]
    return out


def visit(port: int, app: Any, page: str, search: str, conn: Any) -> list[tuple[str, float, int]]:
    """Open one view as the renderer does; (callback, ms, status) for each request."""
    out: list[tuple[str, float, int]] = []
    start = time.perf_counter()
    status, resp = request(
        HOST, port, "POST", "/_dash-update-component", pages_body(app, page, search), conn
    )
    out.append((f"{page} page layout", (time.perf_counter() - start) * 1_000, status))
    if status != 200 or not isinstance(resp, dict):
        return out
    layout = resp.get("response", {}).get("_pages_content", {}).get("children")
    props = components([app.shell, layout])
    for grid in props.values():  # an infinite-model grid asks for its first block on load
        if grid.get("rowModelType") == "infinite" and not grid.get("getRowsRequest"):
            block = int(grid.get("dashGridOptions", {}).get("cacheBlockSize", 100))
            grid["getRowsRequest"] = {
                "startRow": 0,
                "endRow": block,
                "sortModel": [],
                "filterModel": {},
            }
    for cb in initial_callbacks(app.deps, props):
        start = time.perf_counter()
        status, _ = request(
            HOST, port, "POST", "/_dash-update-component", body_for(cb, props), conn
        )
        out.append((f"{page} {short_name(cb)}", (time.perf_counter() - start) * 1_000, status))
    return out


def bench(
    workspace: Path,
    rounds: int,
    year: str | None,
    pages: list[str] = PAGES,
    max_places: int | None = None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tp-bench-cb-") as tmp:
        ws = Path(tmp) / "workspace"
        shutil.copytree(workspace, ws)
        server = Server(ws, workers=1)
        server.start()
        try:
            app = discover(server.port, pages)
            the_year = year or ("2010-11" if "2010-11" in app.years else app.years[-1])
            places = app.places[:max_places] if max_places else app.places
            todo = views(places, the_year, pages)
            first: dict[str, list[float]] = defaultdict(list)
            repeat: dict[str, list[float]] = defaultdict(list)
            errors: list[str] = []
            conn = http.client.HTTPConnection(HOST, server.port, timeout=600)
            started = time.perf_counter()
            for r in range(rounds):
                for page, search in todo:
                    for name, ms, status in visit(server.port, app, page, search, conn):
                        if status not in (200, 204):
                            errors.append(f"{name} {search}: HTTP {status}")
                        (first if r == 0 else repeat)[name].append(ms)
            seconds = time.perf_counter() - started
            conn.close()
        finally:
            server.stop()
    rows = []
    for name in first:
        f, w = first[name], repeat.get(name, [])
        rows.append(
            {
                "callback": name,
                "n_first": len(f),
                "first_p50": statistics.median(f),
                "first_max": max(f),
                "n_repeat": len(w),
                "repeat_p50": statistics.median(w) if w else None,
                "repeat_p95": percentile(w, 95) if w else None,
            }
        )
    return {
        "year": the_year,
        "places": places,
        "views": len(todo),
        "rounds": rounds,
        "seconds": seconds,
        "errors": errors,
        "callbacks": rows,
    }


def report(res: dict[str, Any]) -> str:
    def ms(v: float | None) -> str:
        return "–" if v is None else f"{v:,.0f}"

    rows = res["callbacks"]
    first_ok = sum(r["first_max"] < TARGET_MS for r in rows)
    repeat_ok = sum(r["repeat_p95"] is not None and r["repeat_p95"] < TARGET_MS for r in rows)
    lines = [
        f"Callback latency, one user, one fresh gunicorn worker: {res['views']} views "
        f"({len(res['places'])} pilots, {res['year']}) × {res['rounds']} rounds in "
        f"{res['seconds']:.0f} s; HTTP errors: {len(res['errors'])}.",
        f"Under {TARGET_MS:.0f} ms: first visit (worst) {first_ok} of {len(rows)} callbacks; "
        f"repeat (p95) {repeat_ok} of {len(rows)}.",
        "",
        "| callback | first visit p50 ms | first visit max ms | repeat p50 ms | repeat p95 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in sorted(rows, key=lambda r: r["callback"]):
        flag = "" if r["first_max"] < TARGET_MS else " **>150**"
        lines.append(
            f"| {r['callback']} | {ms(r['first_p50'])} | {ms(r['first_max'])}{flag} | "
            f"{ms(r['repeat_p50'])} | {ms(r['repeat_p95'])} |"
        )
    lines += [f"- error: {e}" for e in res["errors"][:10]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, default=Path("workspace"), help="a built workspace")
    ap.add_argument("--rounds", type=int, default=3, help="1 first-visit round + N-1 repeats")
    ap.add_argument("--year", default=None, help="financial year (default 2010-11)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--pages", nargs="+", default=PAGES, help="pages to visit")
    ap.add_argument("--places", type=int, default=None, help="only the first N pilots")
    args = ap.parse_args(argv)
    if not (args.workspace / "totalplace.duckdb").exists():
        raise SystemExit(f"{args.workspace}: no totalplace.duckdb; run `totalplace build` first")
    res = bench(args.workspace, max(1, args.rounds), args.year, args.pages, args.places)
    print(report(res))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
