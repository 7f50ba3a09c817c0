"""The source catalogue: every entry is complete, mirror files verify, downloads verify."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from totalplace.errors import SourceError
from totalplace.sources.catalogue import Source, fetch, load_catalogue, locate, sha256_file


def test_catalogue_entries_are_complete() -> None:
    cat = load_catalogue()
    assert len(cat) >= 20
    for s in cat.values():
        assert s.publisher and s.licence and s.publisher_url.startswith("http"), s.id
        assert len(s.sha256) == 64 and s.bytes > 0, s.id
        assert s.role in ("ledger", "reference"), s.id


@pytest.mark.mirror
def test_every_catalogued_file_is_in_the_mirror_and_verifies(mirror: Path) -> None:
    for s in load_catalogue().values():
        assert locate(s, mirror).is_file()


def test_a_changed_file_fails_its_checksum(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x\n")
    src = Source(
        "a", "A", "P", "https://example.org", "", "OGL", "a.csv", 2, "0" * 64, "", "ledger"
    )
    with pytest.raises(SourceError, match="checksum"):
        locate(src, tmp_path)
    with pytest.raises(SourceError, match="not in the data mirror"):
        locate(replace(src, path="b.csv"), tmp_path)


@pytest.fixture()
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A static HTTP server on 127.0.0.1 serving a folder (stands in for a publisher)."""
    root = tmp_path / "publisher"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _source_for(content: bytes, path: str = "sub/file.csv") -> Source:
    return Source(
        "t",
        "T",
        "P",
        "https://example.org",
        "",
        "OGL",
        path,
        len(content),
        hashlib.sha256(content).hexdigest(),
        "",
        "ledger",
    )


def test_fetch_downloads_into_the_mirror_and_verifies(
    http_root: tuple[Path, str], tmp_path: Path
) -> None:
    root, base = http_root
    content = b"year,amount\n2010-11,5\n"
    (root / "file.csv").write_bytes(content)
    mirror = tmp_path / "mirror"
    got = fetch(_source_for(content), mirror, url=f"{base}/file.csv")
    assert got == mirror / "sub/file.csv"
    assert sha256_file(got) == hashlib.sha256(content).hexdigest()


def test_fetch_refuses_a_download_with_the_wrong_checksum(
    http_root: tuple[Path, str], tmp_path: Path
) -> None:
    root, base = http_root
    (root / "file.csv").write_bytes(b"tampered\n")
    mirror = tmp_path / "mirror"
    with pytest.raises(SourceError, match="checksum"):
        fetch(_source_for(b"original\n"), mirror, url=f"{base}/file.csv")
    assert not (mirror / "sub/file.csv").exists()
    assert not list((mirror / "sub").glob(".fetch-*"))


def test_fetch_reports_an_unreachable_publisher(
    http_root: tuple[Path, str], tmp_path: Path
) -> None:
    _, base = http_root
    with pytest.raises(SourceError, match="failed"):
        fetch(_source_for(b"x"), tmp_path, url=f"{base}/missing.csv")
