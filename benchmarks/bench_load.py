"""Dashboard load benchmark: gunicorn with several workers on 127.0.0.1, N simulated users
replaying the callback requests a browser sends when it opens the main pages.

The requests are not hand-written: the script reads the app's callback map
(``/_dash-dependencies``) and layout (``/_dash-layout``), finds the pages from the navigation
links, asks the pages callback for each page's layout (as the browser does on navigation), and
builds the body of every callback that fires when that page loads (inputs present in the page,
no ``prevent_initial_call``, not clientside) exactly as the Dash renderer fills it: component
values from the layout, ``changedPropIds`` for the inputs with values. A "page view" is then:
``/_dash-layout``, ``/_dash-dependencies``, the pages callback, and the page's initial callbacks,
for a place and year drawn at random (``?place=…&year=…``).

Everything is bounded: each user stops after ``--requests`` requests or ``--duration`` seconds,
whichever comes first; the server is stopped (by its PID) at the end. Only 127.0.0.1 is used.
A warm-up phase first views every (page, place, year) a few times so that each worker's
per-process caches hold the answers; the warm-up latencies are reported too (as "cold").
Target: p95 < 150 ms at 20 concurrent users on the demo workspace.

    python benchmarks/bench_load.py --workspace /tmp/ws1 --users 20 --duration 30
"""

from __future__ import annotations

if __package__ in (None, ""):
    import sys
    from pathlib import Path as _P

    sys.path.insert(0, str(_P(__file__).resolve().parent.parent))

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from benchmarks import ROOT, percentile

HOST = "127.0.0.1"
TARGET_P95_MS = 150.0
#: The main pages (the workshop page needs a session token: ``--pages all`` includes it).
DEFAULT_PAGES = ["/", "/deepdive"]
PAGES_CALLBACK_INPUT = "_pages_location"


# -- the server -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server:
    """gunicorn serving ``dashboards.app:create_server()`` on 127.0.0.1 for one workspace."""

    def __init__(self, workspace: Path, workers: int, threads: int = 1) -> None:
        self.port = free_port()
        self.workspace = workspace
        self.workers = workers
        self.threads = threads
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        cmd = [
            str(gunicorn),
            "dashboards.app:create_server()",
            "--bind",
            f"{HOST}:{self.port}",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--timeout",
            "300",
            "--log-level",
            "warning",
        ]
        env = dict(os.environ, TOTALPLACE_WORKSPACE=str(self.workspace))
        self.logdir = tempfile.TemporaryDirectory(prefix="tp-bench-gunicorn-")
        self.log = open(Path(self.logdir.name) / "gunicorn.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            try:
                status, _ = request(HOST, self.port, "GET", "/_dash-layout")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # gunicorn's own graceful stop, by PID
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.logdir.cleanup()


def request(
    host: str, port: int, method: str, path: str, body: Any = None, conn: Any = None
) -> tuple[int, Any]:
    """One HTTP request (JSON in and out); ``conn`` reuses a keep-alive connection."""
    status, parsed, _ = request_sized(host, port, method, path, body, conn)
    return status, parsed


def request_sized(
    host: str, port: int, method: str, path: str, body: Any = None, conn: Any = None
) -> tuple[int, Any, int]:
    """`request`, also giving the response's size in bytes."""
    c = conn or http.client.HTTPConnection(host, port, timeout=300)
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    c.request(method, path, body=data, headers=headers)
    resp = c.getresponse()
    raw = resp.read()
    if conn is None:
        c.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return resp.status, parsed, len(raw)


# -- building callback bodies from the app's own map ----------------------------------------------
def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every component (dict with ``props``) in a layout tree."""
    if isinstance(node, list):
        for x in node:
            yield from walk(x)
    elif isinstance(node, dict):
        if "props" in node and "type" in node:
            yield node
            for value in node["props"].values():
                yield from walk(value)
        else:
            for value in node.values():
                yield from walk(value)


def components(layout: Any) -> dict[str, dict[str, Any]]:
    """Component props by id (string ids only)."""
    return {
        c["props"]["id"]: c["props"] for c in walk(layout) if isinstance(c["props"].get("id"), str)
    }


def split_outputs(output: str) -> list[tuple[str, str]]:
    """``..a.children...b.figure@hash..`` or ``a.children`` -> [(id, property)]."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    out = []
    for p in parts:
        cid, _, prop = p.rpartition(".")
        out.append((cid, prop.split("@")[0]))
    return out


def body_for(cb: dict[str, Any], props: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The request body the Dash renderer sends for ``cb`` with the page's current values."""

    def dep(d: dict[str, Any]) -> dict[str, Any]:
        out = {"id": d["id"], "property": d["property"]}
        value = props.get(d["id"], {}).get(d["property"])
        if value is not None:
            out["value"] = value
        return out

    inputs = [dep(d) for d in cb["inputs"]]
    outputs = [{"id": i, "property": p} for i, p in split_outputs(cb["output"])]
    return {
        "output": cb["output"],
        "outputs": outputs if cb["output"].startswith("..") else outputs[0],
        "inputs": inputs,
        "state": [dep(d) for d in cb["state"]],
        "changedPropIds": [f"{d['id']}.{d['property']}" for d in inputs if "value" in d],
    }


def is_pages_callback(cb: dict[str, Any]) -> bool:
    return any(d["id"] == PAGES_CALLBACK_INPUT for d in cb["inputs"])


def initial_callbacks(
    deps: list[dict[str, Any]], props: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Callbacks that fire when a page with components ``props`` loads."""
    out = []
    for cb in deps:
        if cb.get("clientside_function") or cb.get("prevent_initial_call") or is_pages_callback(cb):
            continue
        ids = [d["id"] for d in cb["inputs"]] + [i for i, _ in split_outputs(cb["output"])]
        if all(isinstance(i, str) and not i.startswith("{") and i in props for i in ids):
            out.append(cb)
    return out


def short_name(cb: dict[str, Any]) -> str:
    outs = split_outputs(cb["output"])
    first = f"{outs[0][0]}.{outs[0][1]}"
    return first + (f" (+{len(outs) - 1})" if len(outs) > 1 else "")


@dataclass
class App:
    """What the benchmark learnt about the running app."""

    shell: Any
    deps: list[dict[str, Any]]
    pages_cb: dict[str, Any]
    pages: list[str]
    places: list[str] = field(default_factory=list)
    years: list[str] = field(default_factory=list)
    page_callbacks: dict[str, list[str]] = field(default_factory=dict)


def discover(port: int, wanted: list[str] | None = None) -> App:
    status, shell = request(HOST, port, "GET", "/_dash-layout")
    assert status == 200, status
    status, deps = request(HOST, port, "GET", "/_dash-dependencies")
    assert status == 200, status
    pages_cb = next(cb for cb in deps if is_pages_callback(cb))
    hrefs = [c["props"].get("href") for c in walk(shell) if c["type"] == "Link"]
    pages = sorted({h for h in hrefs if isinstance(h, str) and h.startswith("/")})
    pages = [p for p in pages if wanted is None or p in wanted]
    app = App(shell, deps, pages_cb, pages)
    for path in pages:
        props = components([shell, page_layout(port, app, path, "")])
        app.page_callbacks[path] = [short_name(cb) for cb in initial_callbacks(deps, props)]
    # the overview page's own dropdowns say which places and years there are
    page = page_layout(port, app, "/", "")
    for cid, p in components(page).items():
        options = p.get("options")
        if isinstance(options, list) and options:
            values = [o["value"] if isinstance(o, dict) else o for o in options]
            if cid.endswith("-place"):
                app.places = [str(v) for v in values]
            elif cid.endswith("-year"):
                app.years = [str(v) for v in values]
    return app


def pages_body(app: App, path: str, search: str) -> dict[str, Any]:
    props = {PAGES_CALLBACK_INPUT: {"pathname": path, "search": search}}
    return body_for(app.pages_cb, props)


def page_layout(port: int, app: App, path: str, search: str, conn: Any = None) -> Any:
    status, resp = request(
        HOST, port, "POST", "/_dash-update-component", pages_body(app, path, search), conn
    )
    if status != 200 or not isinstance(resp, dict):
        raise RuntimeError(f"page {path}{search}: HTTP {status}")
    return resp.get("response", {}).get("_pages_content", {}).get("children")


# -- users ----------------------------------------------------------------------------------------
@dataclass
class Sample:
    name: str
    ms: float
    status: int
    size: int = 0


class User:
    """One simulated user: page views until its request count or time is used up."""

    def __init__(self, port: int, app: App, views: list[tuple[str, str]], seed: int) -> None:
        self.port, self.app, self.views = port, app, views
        self.rng = random.Random(seed)
        self.samples: list[Sample] = []
        self.conn: http.client.HTTPConnection | None = None

    def _do(self, name: str, method: str, path: str, body: Any = None) -> Any:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=300)
        start = time.perf_counter()
        size = 0
        try:
            status, resp, size = request_sized(HOST, self.port, method, path, body, self.conn)
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            status, resp = 599, None
        self.samples.append(Sample(name, (time.perf_counter() - start) * 1_000, status, size))
        return resp if status == 200 else None

    def view(self, path: str, search: str) -> int:
        """One page view; returns the number of requests sent."""
        sent = 3
        self._do("GET /_dash-layout", "GET", "/_dash-layout")
        self._do("GET /_dash-dependencies", "GET", "/_dash-dependencies")
        resp = self._do(
            f"{path} page layout",
            "POST",
            "/_dash-update-component",
            pages_body(self.app, path, search),
        )
        if not isinstance(resp, dict):
            return sent
        page = resp.get("response", {}).get("_pages_content", {}).get("children")
        props = components([self.app.shell, page])
        for cb in initial_callbacks(self.app.deps, props):
            self._do(
                f"{path} {short_name(cb)}", "POST", "/_dash-update-component", body_for(cb, props)
            )
            sent += 1
        return sent

    def run(self, max_requests: int, deadline: float) -> None:
        sent = 0
        while sent < max_requests and time.monotonic() < deadline:
            sent += self.view(*self.rng.choice(self.views))
        if self.conn is not None:
            self.conn.close()


def summarise(samples: list[Sample], seconds: float) -> dict[str, Any]:
    ok = [s.ms for s in samples if s.status in (200, 204)]
    by_name: dict[str, list[Sample]] = {}
    for s in samples:
        by_name.setdefault(s.name, []).append(s)
    return {
        "requests": len(samples),
        "errors": sum(s.status not in (200, 204) for s in samples),
        "seconds": seconds,
        "throughput_rps": len(samples) / seconds if seconds else 0.0,
        "p50_ms": percentile(ok, 50) if ok else None,
        "p95_ms": percentile(ok, 95) if ok else None,
        "p99_ms": percentile(ok, 99) if ok else None,
        "mean_ms": statistics.fmean(ok) if ok else None,
        "by_request": {
            name: {
                "n": len(group),
                "errors": sum(s.status not in (200, 204) for s in group),
                "p50_ms": percentile([s.ms for s in group], 50),
                "p95_ms": percentile([s.ms for s in group], 95),
                "kb": statistics.fmean(s.size for s in group) / 1024,
            }
            for name, group in sorted(by_name.items())
        },
    }


def run_users(
    port: int,
    app: App,
    views: list[tuple[str, str]],
    users: int,
    max_requests: int,
    duration: float,
) -> dict[str, Any]:
    crowd = [User(port, app, views, seed=i) for i in range(users)]
    deadline = time.monotonic() + duration
    start = time.perf_counter()
    threads = [threading.Thread(target=u.run, args=(max_requests, deadline)) for u in crowd]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    return summarise([s for u in crowd for s in u.samples], seconds)


def bench(
    workspace: Path,
    *,
    users: int = 20,
    workers: int = 4,
    duration: float = 30.0,
    max_requests: int = 2_000,
    places: int = 0,
    years: int = 1,
    pages: list[str] | None = DEFAULT_PAGES,
    warm_passes: int = 2,
) -> dict[str, Any]:
    """Start gunicorn, discover the app, warm up, load it with ``users`` users, stop it."""
    server = Server(workspace, workers)
    server.start()
    try:
        app = discover(server.port, pages)
        chosen_pages = app.pages
        default_year = "2010-11" if "2010-11" in app.years else app.years[-1]
        year_list = [default_year] + [y for y in reversed(app.years) if y != default_year]
        place_list = app.places[:places] if places else app.places
        views = [
            (p, "?" + urlencode({"place": pl, "year": y}))
            for p in chosen_pages
            for pl in place_list
            for y in year_list[:years]
        ]
        # warm-up: every view a few times per worker, from a few threads at once
        warm_start = time.perf_counter()
        warm_users = [User(server.port, app, [v], seed=i) for i, v in enumerate(views)]
        with ThreadPoolExecutor(max_workers=min(8, workers * 2)) as pool:
            for _ in range(warm_passes * workers):
                list(pool.map(lambda u: u.view(*u.views[0]), warm_users))
        cold = summarise(
            [s for u in warm_users for s in u.samples], time.perf_counter() - warm_start
        )
        load = run_users(server.port, app, views, users, max_requests, duration)
    finally:
        server.stop()
    return {
        "workspace": str(workspace),
        "workers": workers,
        "users": users,
        "duration_limit_s": duration,
        "max_requests_per_user": max_requests,
        "pages": chosen_pages,
        "views": len(views),
        "places": place_list,
        "years": year_list[:years],
        "callbacks_in_map": len(app.deps),
        "page_callbacks": {p: app.page_callbacks.get(p, []) for p in chosen_pages},
        "loadavg_before": os.getloadavg()[0],
        "warmup": cold,
        "load": load,
        "target": {
            "target": f"p95 at {users} concurrent users",
            "measured": load["p95_ms"],
            "goal": f"< {TARGET_P95_MS:.0f} ms",
            "met": load["p95_ms"] is not None
            and load["p95_ms"] < TARGET_P95_MS
            and load["errors"] == 0,
        },
    }


def report(res: dict[str, Any]) -> str:
    def line(label: str, s: dict[str, Any]) -> str:
        def ms(v: float | None) -> str:
            return "n/a" if v is None else f"{v:,.0f}"

        return (
            f"{label:<8} {s['requests']:>8,} {s['errors']:>7,} {s['throughput_rps']:>9,.1f} "
            f"{ms(s['p50_ms']):>8} {ms(s['p95_ms']):>8} {ms(s['p99_ms']):>8}"
        )

    lines = [
        f"load: gunicorn {res['workers']} workers, {res['users']} users, pages "
        f"{', '.join(res['pages'])}, {len(res['places'])} places x {len(res['years'])} year(s), "
        f"load average {res['loadavg_before']:.2f}",
        f"{'phase':<8} {'requests':>8} {'errors':>7} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8}",
        line("warm-up", res["warmup"]),
        line("load", res["load"]),
        "by request (load phase):",
    ]
    for name, s in res["load"]["by_request"].items():
        lines.append(
            f"  {name:<46} n {s['n']:>5,}  p50 {s['p50_ms']:>6,.0f}  p95 {s['p95_ms']:>6,.0f} ms"
            f"  {s['kb']:>6,.0f} kB" + (f"  errors {s['errors']}" if s["errors"] else "")
        )
    t = res["target"]
    shown = "n/a" if t["measured"] is None else f"{t['measured']:,.0f} ms"
    lines.append(
        f"target {t['target']}: {shown} (goal {t['goal']}): {'met' if t['met'] else 'MISSED'}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workspace", type=Path, default=os.environ.get("TOTALPLACE_WORKSPACE"))
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--duration", type=float, default=30.0, help="seconds (upper bound)")
    ap.add_argument("--requests", type=int, default=2_000, help="per user (upper bound)")
    ap.add_argument("--places", type=int, default=0, help="first N pilots (0: all)")
    ap.add_argument("--years", type=int, default=1, help="years per place (default year first)")
    ap.add_argument("--pages", default=",".join(DEFAULT_PAGES), help="paths, or 'all' (nav)")
    ap.add_argument("--warm-passes", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.workspace is None:
        ap.error("give --workspace (a built workspace) or set TOTALPLACE_WORKSPACE")
    res = bench(
        Path(args.workspace).resolve(),
        users=args.users,
        workers=args.workers,
        duration=args.duration,
        max_requests=args.requests,
        places=args.places,
        years=args.years,
        pages=None if args.pages == "all" else args.pages.split(","),
        warm_passes=args.warm_passes,
    )
    print(report(res))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
