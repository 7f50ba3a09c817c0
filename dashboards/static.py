"""What the dashboard server sends as files rather than as callback answers: the boundaries,
fetched once per browser (a versioned URL, an ETag, a year's ``Cache-Control``, gzip), and
compression of every other response (``flask_compress``).

A map figure names its boundaries by URL (plotly's ``geojson`` accepts one), so callbacks
answer with the figure alone and the ~400 KB of district shapes cross the network once.
"""

from __future__ import annotations

import gzip
from functools import lru_cache

from flask import Flask, Response, abort, request
from flask_compress import Compress

from dashboards import data
from totalplace.errors import TotalPlaceError

#: Where the boundaries are served (``data.boundaries_url`` adds the version).
BOUNDARIES_ROUTE = "/_boundaries/<level>.geojson"
#: Compressed: JSON answers (callbacks, layouts, the API), scripts, styles and pages.
MIMETYPES = [
    "application/json",
    "application/javascript",
    "text/javascript",
    "text/css",
    "text/html",
    "text/plain",
    "text/csv",
]


def register(server: Flask) -> None:
    """Serve the boundaries and compress responses on ``server``."""
    server.config.setdefault("COMPRESS_ALGORITHM", ["gzip"])
    server.config.setdefault("COMPRESS_LEVEL", 5)
    server.config.setdefault("COMPRESS_MIN_SIZE", 1_000)
    server.config.setdefault("COMPRESS_MIMETYPES", MIMETYPES)
    Compress(server)
    server.add_url_rule(BOUNDARIES_ROUTE, "boundaries", _boundaries)


def _boundaries(level: str) -> Response:
    try:
        body, etag = data.boundary_file(level)
    except TotalPlaceError:
        abort(404)
    if etag in request.if_none_match:
        response = Response(status=304)
    else:
        gz = "gzip" in request.headers.get("Accept-Encoding", "")
        response = Response(_gzipped(level) if gz else body, mimetype="application/geo+json")
        if gz:
            response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(etag)
    # the URL carries the version: a browser may keep it for a year without asking again
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


@lru_cache(maxsize=4)
def _gzip(level: str, etag: str) -> bytes:
    """``level``'s boundaries gzipped, once per version (``etag``)."""
    return gzip.compress(data.boundary_file(level)[0], compresslevel=9, mtime=0)


def _gzipped(level: str) -> bytes:
    return _gzip(level, data.boundary_file(level)[1])
