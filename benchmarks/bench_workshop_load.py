"""Load with workshop writes (issue "Reliability and security"): gunicorn on 127.0.0.1 sharing a
throwaway PostgreSQL for workshop state; N simulated partners for a fixed time, each mixing
reads (the count API) and writes (challenges through the workshop API). Afterwards the database
is checked: every acknowledged challenge is there exactly once with its audit event.

    python benchmarks/bench_workshop_load.py --workspace DIR [--users 50] [--seconds 20]

Traffic goes only to 127.0.0.1; every loop is bounded in time; the servers it starts are
stopped by their PIDs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from totalplace.devtools.postgres import free_port, pg_bin, throwaway_postgres
from totalplace.workshop import WorkshopService

PLACES = ["Kent", "Birmingham", "Croydon", "Dorset, Poole and Bournemouth", "Bradford", "Lewisham"]


def _request(
    url: str, body: dict[str, Any] | None = None, token: str | None = None
) -> tuple[int, float, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            payload = json.loads(resp.read() or b"null")
            return resp.status, time.perf_counter() - start, payload
    except urllib.error.HTTPError as exc:
        return exc.code, time.perf_counter() - start, None
    except OSError:
        return 599, time.perf_counter() - start, None


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def run(workspace: Path, users: int, seconds: float, workers: int) -> dict[str, Any]:
    bin_dir = pg_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL binaries not found: apt-get install postgresql")
    with throwaway_postgres(bin_dir, max_connections=200) as pg:
        url = pg.url("postgres")
        svc = WorkshopService.from_url(url, migrate=True)
        issued = svc.create_workshop("Kent", ["E07000105"], "2012-13", None, "Facilitator")
        tokens = [
            svc.issue_token(issued.token, "partner", f"Partner {i}").token for i in range(users)
        ]
        port = free_port()
        env = {**os.environ, "TOTALPLACE_WORKSPACE": str(workspace), "TOTALPLACE_DB_URL": url}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "dashboards.app:create_server()",
                "-w",
                str(workers),
                "--threads",
                "4",
                "-b",
                f"127.0.0.1:{port}",
                "--timeout",
                "120",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if _request(f"{base}/api/v1/years")[0] == 200:
                    break
                time.sleep(0.5)
            for place in PLACES:  # warm each worker's cache a little
                _request(f"{base}/api/v1/count?place={place}&year=2012-13")
            reads: list[float] = []
            writes: list[float] = []
            statuses: dict[int, int] = {}
            acknowledged: list[int] = []
            lock = threading.Lock()
            stop_at = time.monotonic() + seconds

            def user(i: int) -> None:
                rnd = random.Random(i)
                n = 0
                while time.monotonic() < stop_at:
                    if rnd.random() < 0.3:
                        body = {
                            "place": "Kent",
                            "year": "2012-13",
                            "agency_type": "Councils",
                            "function": "9. Education",
                            "text": f"u{i}-{n}",
                            "amount_gbp": n,
                        }
                        code, dt, payload = _request(
                            f"{base}/api/workshop/v1/challenges", body, tokens[i]
                        )
                        with lock:
                            writes.append(dt)
                            statuses[code] = statuses.get(code, 0) + 1
                            if code == 201:
                                acknowledged.append(int(payload["id"]))
                        n += 1
                    else:
                        place = rnd.choice(PLACES)
                        code, dt, _ = _request(f"{base}/api/v1/count?place={place}&year=2012-13")
                        with lock:
                            reads.append(dt)
                            statuses[code] = statuses.get(code, 0) + 1

            threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=seconds + 120)
            elapsed = time.monotonic() - t0
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        stored = svc.list_challenges(issued.token)
        events = [e for e in svc.audit(issued.token) if e.action == "challenge.create"]
        svc.close()
    ids = [c.id for c in stored]
    texts = [c.text for c in stored]
    return {
        "users": users,
        "seconds": round(elapsed, 1),
        "workers": workers,
        "requests": len(reads) + len(writes),
        "throughput_rps": round((len(reads) + len(writes)) / elapsed, 1),
        "read_p50_ms": round(_pct(reads, 0.5), 1),
        "read_p95_ms": round(_pct(reads, 0.95), 1),
        "read_p99_ms": round(_pct(reads, 0.99), 1),
        "write_p50_ms": round(_pct(writes, 0.5), 1),
        "write_p95_ms": round(_pct(writes, 0.95), 1),
        "write_p99_ms": round(_pct(writes, 0.99), 1),
        "server_errors": sum(n for code, n in statuses.items() if code >= 500),
        "statuses": statuses,
        "acknowledged_writes": len(acknowledged),
        "lost_writes": len(set(acknowledged) - set(ids)),
        "duplicated_writes": len(texts) - len(set(texts)),
        "events_match_challenges": len(events) == len(stored),
        "mean_read_ms": round(statistics.fmean(reads) * 1000, 1) if reads else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workspace", type=Path, default=Path(os.environ.get("TOTALPLACE_WORKSPACE", "workspace"))
    )
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    result = run(args.workspace.resolve(), args.users, args.seconds, args.workers)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
