"""The boundaries are a static, cacheable file (dashboards/static.py): a versioned URL, an ETag
that answers 304, a year's immutable Cache-Control, gzip when asked; other responses compressed."""

from __future__ import annotations

import gzip
import json

import pytest

pytestmark = pytest.mark.mirror


@pytest.fixture(scope="module")
def client(workspace):  # type: ignore[no-untyped-def]
    from dashboards import data
    from dashboards.app import create_app

    app = create_app(workspace)
    yield app.server.test_client()
    data.set_workspace(None)


def _url() -> str:
    from dashboards import data

    return data.boundaries_url("district")


def test_boundaries_are_served_gzipped_with_a_year_of_immutable_caching(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get(_url(), headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert r.headers["ETag"]
    body = gzip.decompress(r.get_data())
    doc = json.loads(body)
    assert doc["type"] == "FeatureCollection"
    # every English district of 2019 has a shape, keyed by its GSS code
    ids = {f["id"] for f in doc["features"]}
    assert "E07000105" in ids and len([i for i in ids if i.startswith("E0")]) >= 300
    assert len(r.get_data()) < len(body) / 2  # the compressed file is what crosses the wire


def test_the_version_in_the_url_is_the_etag(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get(_url())
    assert r.status_code == 200 and "Content-Encoding" not in r.headers
    assert _url().endswith("v=" + r.headers["ETag"].strip('"'))


def test_a_browser_that_has_them_gets_304_and_no_body(client) -> None:  # type: ignore[no-untyped-def]
    etag = client.get(_url()).headers["ETag"]
    r = client.get(_url(), headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.get_data() == b""
    # another version is sent in full
    assert client.get(_url(), headers={"If-None-Match": '"stale"'}).status_code == 200


def test_an_unknown_level_is_404(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/_boundaries/parish.geojson").status_code == 404


def test_json_answers_are_compressed(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers.get("Content-Encoding") == "gzip"
    assert json.loads(gzip.decompress(r.get_data()))["openapi"].startswith("3.1")
