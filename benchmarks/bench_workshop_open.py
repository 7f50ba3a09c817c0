"""How long a partner's link takes to open (issue #17): from the browser's GET of
``/workshop?token=...`` to the page being ready (every section filled, no callback pending),
in headless Chromium against the app served in-process on 127.0.0.1, with a workshop that has
some history (challenges, two of them 10,000 characters long, scenarios, comments).

    python benchmarks/bench_workshop_open.py --workspace DIR [--opens 5]

It prints each open's time and the slowest server callbacks of the first open. The app is
warmed first (``dashboards.app.warm``), as ``totalplace serve`` does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

READY = """() => {
  const rows = (s) => document.querySelectorAll(s + ' .ag-row').length > 0;
  const status = document.querySelector('#ws-sc-status')?.textContent || '';
  return rows('#ws-ch-grid') && rows('#ws-count-grid') && rows('#ws-audit')
    && status.includes('version')
    && document.querySelectorAll('[data-dash-is-loading="true"]').length === 0;
}"""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _seed(place: str, year: str, long_texts: int) -> str:
    """A workshop with history; returns a partner's token."""
    from dashboards import data, data_workshop
    from totalplace.workshop.scenarios import CellRef, Move
    from totalplace.workshop.service import FigureCell

    svc = data_workshop.get_workshop_service()
    codes = list(data.count(place, year).place_codes)
    fac = svc.create_workshop(place, codes, year, None, "Fay").token
    partners = [svc.issue_token(fac, "partner", f"Partner {i}").token for i in range(4)]
    base = data_workshop.baseline(place, year).sort_values("amount_pence", ascending=False)
    cells = list(zip(base["agency_type"], base["function"], strict=True))[:6]
    for i in range(20):
        a, f = cells[i % len(cells)]
        long = ("Long evidence. " * 700)[:10_000]
        text = long if i < long_texts else f"Challenge {i}: check this"
        svc.create_challenge(partners[i % 4], FigureCell(place, year, a, f), text)
    (a1, f1), (a2, f2) = cells[0], cells[1]
    for i in range(3):
        move = Move(CellRef(a1, f1), CellRef(a2, f2), amount_pence=1_000_000_00 * (i + 1))
        sid = svc.create_scenario(partners[i], f"Scenario {i}", [move]).id
        svc.comment_scenario(partners[(i + 1) % 4], sid, "What about prevention?")
    return partners[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--opens", type=int, default=5)
    parser.add_argument("--place", default="Birmingham")
    parser.add_argument("--year", default="2010-11")
    parser.add_argument("--long", type=int, default=2, help="challenges of 10,000 characters")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from dashboards import data_workshop
    from dashboards.app import create_app, warm
    from totalplace.config import Settings
    from totalplace.workshop.service import WorkshopService
    from totalplace.workspace import Workspace

    app = create_app(Workspace(Settings(workspace=args.workspace)))
    tmp = Path(tempfile.mkdtemp(prefix="bench-workshop-open-"))
    data_workshop.set_workshop_service(
        WorkshopService.from_url(
            f"sqlite:///{tmp / 'workshop.db'}", migrate=True, figures=data_workshop.baseline
        )
    )
    warm()
    token = _seed(args.place, args.year, args.long)

    timings: dict[str, list[float]] = defaultdict(list)
    local = threading.local()

    @app.server.before_request
    def _start() -> None:
        local.t0 = time.perf_counter()

    @app.server.after_request
    def _stop(response: Any) -> Any:
        from flask import request

        name = request.path
        if name.endswith("_dash-update-component"):
            body = json.loads(request.get_data() or b"{}")
            name = str(body.get("output", "?"))[:70]
        timings[name].append(time.perf_counter() - local.t0)
        return response

    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/workshop?token={token}"
    opens: list[float] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        for i in range(args.opens):
            if i == 1:
                first = {k: list(v) for k, v in timings.items()}
            context = browser.new_context(viewport={"width": 1360, "height": 900})
            page = context.new_page()
            t0 = time.perf_counter()
            page.goto(url)
            page.wait_for_function(READY, timeout=60_000, polling=50)
            opens.append(time.perf_counter() - t0)
            height = page.evaluate("document.documentElement.scrollHeight")
            context.close()
            print(f"open {i + 1}: {opens[-1] * 1000:.0f} ms (page {height} px tall)")
        browser.close()
    server.shutdown()
    print(f"median of {len(opens)} opens: {statistics.median(opens) * 1000:.0f} ms")
    print("server time per request in the first open (slowest first):")
    spent = sorted(((sum(v), k, len(v)) for k, v in first.items()), reverse=True)
    for total, name, n in spent[:10]:
        print(f"  {total * 1000:7.0f} ms  {n}×  {name}")


if __name__ == "__main__":
    main()
