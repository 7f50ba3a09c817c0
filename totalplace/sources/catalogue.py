"""Catalogue of public sources (data/sources.toml): publisher, URL, licence, checksum.

Files are read from a local mirror folder and verified against their SHA-256. On a connected
machine `fetch` downloads a missing file from its pinned URL into the mirror, verifying it
before it becomes visible (written to a temporary name, then renamed).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import tomllib
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from totalplace.config import REFERENCE_DIR
from totalplace.errors import SourceError

#: A download larger than this many times the catalogued size is refused (a wrong URL).
_MAX_GROWTH = 2


@dataclass(frozen=True)
class Source:
    """One public source file as catalogued."""

    id: str
    title: str
    publisher: str
    publisher_url: str
    download_url: str
    licence: str
    path: str
    bytes: int
    sha256: str
    adapter: str
    role: str
    #: Options the adapter needs for this file (e.g. the paying body of a file that omits it).
    options: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=4)
def load_catalogue(reference_dir: Path = REFERENCE_DIR) -> dict[str, Source]:
    """Every catalogued source by id, in file order."""
    with (reference_dir / "sources.toml").open("rb") as fh:
        raw = tomllib.load(fh)
    return {s["id"]: Source(**s) for s in raw["source"]}


def get_source(source_id: str) -> Source:
    cat = load_catalogue()
    if source_id not in cat:
        raise SourceError(f"no source {source_id!r} in data/sources.toml")
    return cat[source_id]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def locate(source: Source, mirror: Path, verify: bool = True) -> Path:
    """The mirror path of ``source``, verified against its checksum, or a clear SourceError."""
    path = mirror / source.path
    if not path.is_file():
        raise SourceError(
            f"{source.path}: not in the data mirror {mirror} "
            f"(source {source.id}; `totalplace sources fetch {source.id}` downloads it)"
        )
    if verify:
        got = sha256_file(path)
        if got != source.sha256:
            raise SourceError(
                f"{source.path}: checksum {got[:12]}… does not match the catalogue's "
                f"{source.sha256[:12]}… (file changed or damaged; fetch it again)"
            )
    return path


def fetch(source: Source, mirror: Path, url: str | None = None, timeout: float = 60) -> Path:
    """Download ``source`` into the mirror and verify it; returns the mirror path.

    ``url`` overrides the catalogued download URL (tests point it at a local server).
    An existing verified file is kept as is.
    """
    target = mirror / source.path
    if target.is_file() and sha256_file(target) == source.sha256:
        return target
    link = url or source.download_url
    if not link:
        raise SourceError(f"{source.id}: no public download URL is known; mirror only")
    target.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=".fetch-", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(link, timeout=timeout) as resp:
            size = 0
            for chunk in iter(lambda: resp.read(1 << 16), b""):
                size += len(chunk)
                if size > max(source.bytes, 1) * _MAX_GROWTH:
                    raise SourceError(
                        f"{source.id}: download from {link} is far larger than "
                        f"the catalogued {source.bytes:,} bytes; refused"
                    )
                h.update(chunk)
                out.write(chunk)
        if h.hexdigest() != source.sha256:
            raise SourceError(
                f"{source.id}: download from {link} has checksum {h.hexdigest()[:12]}…, "
                f"expected {source.sha256[:12]}…; not saved"
            )
        tmp.replace(target)
    except OSError as exc:
        raise SourceError(f"{source.id}: download from {link} failed: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target
