"""A throwaway PostgreSQL server on a free loopback port, for tests and load benchmarks.

``initdb`` + ``pg_ctl`` in a temporary folder (as the ``postgres`` user when run as root),
stopped and deleted on exit. Durability settings are relaxed: it is for tests only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def pg_bin() -> Path | None:
    """PostgreSQL's bin folder ($TOTALPLACE_PG_BIN, Debian's newest, or on PATH), or None."""
    env = os.environ.get("TOTALPLACE_PG_BIN")
    if env:
        return Path(env) if (Path(env) / "initdb").exists() else None
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{dbname}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql.encode())


@contextmanager
def throwaway_postgres(bin_dir: Path, max_connections: int = 50) -> Iterator[PgServer]:
    """Start a PostgreSQL server; stop it and delete its folder on exit."""
    as_root = os.geteuid() == 0
    tmp = Path(tempfile.mkdtemp(prefix="totalplace-pg-"))
    if as_root:
        shutil.chown(tmp, "postgres", "postgres")
    tmp.chmod(0o700)
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []

    def run(*args: str) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = (tmp / "log").read_text() if (tmp / "log").exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed:\n{done.stdout}{done.stderr}{log}")

    data = tmp / "data"
    started = False
    try:
        run(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
        )
        for _attempt in range(3):  # another process may take the free port first
            port = free_port()
            opts = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off "
                f"-c max_connections={max_connections}"
            )
            try:
                run(
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(tmp / "log"),
                    "-w",
                    "-t",
                    "30",
                    "-o",
                    opts,
                    "start",
                )
                started = True
                break
            except RuntimeError:
                continue
        if not started:
            raise RuntimeError(f"PostgreSQL did not start: {(tmp / 'log').read_text()}")
        yield PgServer("127.0.0.1", port)
    finally:
        if started:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(tmp, ignore_errors=True)
