"""The read-only JSON API (/api/v1) on the real built workspace: figures equal the library's,
paging covers every line once, bad input is a JSON 400/404, every answer matches its OpenAPI
schema, and the OpenAPI document itself is valid."""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Any
from urllib.parse import quote, urlsplit

import jsonschema
import numpy as np
import pytest
from flask import Flask

from totalplace.api import openapi_document, register_api
from totalplace.api.payloads import gbp, plain

DOC = openapi_document()
KENT = "/api/v1/count?place=Kent&year=2010-11"


def pence(gbp_value: float) -> int:
    return round(gbp_value * 100)


def schema_for(path: str, status: int) -> dict[str, Any]:
    """The documented JSON schema of ``path``'s answer with ``status`` (components attached)."""
    op = DOC["paths"].get(path, {}).get("get")
    if op is None:  # paths outside the document answer errors only
        ref: dict[str, Any] = {"$ref": "#/components/schemas/Error"}
    else:
        assert str(status) in op["responses"], f"{path} does not document status {status}"
        ref = op["responses"][str(status)]["content"]["application/json"]["schema"]
    return {**ref, "components": DOC["components"]}


@cache
def validator(path: str, status: int) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema_for(path, status))


def check(body: Any, path: str, status: int) -> None:
    validator(path, status).validate(body)


def get(client: Any, url: str, status: int = 200) -> Any:
    """GET ``url``; assert the status, JSON and the documented schema; return the body."""
    r = client.get(url)
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    assert r.mimetype == "application/json"
    body = r.get_json()
    check(body, urlsplit(url).path, status)
    return body


@pytest.fixture(scope="module")
def client(workspace):  # type: ignore[no-untyped-def]
    """The dashboard's Flask server (the API is mounted on it) over the session workspace."""
    from dashboards import data
    from dashboards.app import create_app

    app = create_app(workspace)
    yield app.server.test_client()
    data.set_workspace(None)


# -- the document ---------------------------------------------------------------------------


def test_openapi_document_is_valid() -> None:
    from openapi_spec_validator import validate

    validate(DOC)
    for schema in DOC["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    used = {
        p["$ref"].rsplit("/", 1)[-1]
        for item in DOC["paths"].values()
        for p in item["get"]["parameters"]
    }
    assert used == set(DOC["components"]["parameters"])


def test_every_api_route_is_documented() -> None:
    app = Flask(__name__)
    register_api(app, lambda: None)
    routes = {
        r.rule
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/v1/") and "<" not in r.rule and r.rule != "/api/v1/"
    }
    assert routes == set(DOC["paths"])


def test_served_document_is_the_document(client) -> None:  # type: ignore[no-untyped-def]
    assert get(client, "/api/v1/openapi.json") == DOC


def test_docs_page_lists_every_endpoint_without_external_assets(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    for path in DOC["paths"]:
        assert f"GET {path}" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


# -- reference answers ------------------------------------------------------------------------


def test_places_are_the_13_pilots(client, workspace) -> None:  # type: ignore[no-untyped-def]
    body = get(client, "/api/v1/places")
    pilots = workspace.pilots()
    assert [p["name"] for p in body["places"]] == list(pilots) and len(pilots) == 13
    for p in body["places"]:
        assert p["districts"] == list(pilots[p["name"]].districts)
        assert p["source"]


def test_years_and_themes(client, workspace) -> None:  # type: ignore[no-untyped-def]
    from totalplace.deepdive.rules import theme_ids

    assert get(client, "/api/v1/years")["years"] == workspace.years()
    themes = get(client, "/api/v1/themes")["themes"]
    assert [t["id"] for t in themes] == theme_ids()


# -- figures equal the library's ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("place", "year"),
    [("Kent", "2010-11"), ("E06000058,E06000059", "2012-13"), ("Birmingham", "2008-09")],
)
def test_count_equals_the_library(client, workspace, place: str, year: str) -> None:  # type: ignore[no-untyped-def]
    body = get(client, f"/api/v1/count?place={quote(place)}&year={year}")
    result = workspace.count(place, year)
    assert body["total_gbp"] == round(result.total_gbp, 2)
    assert pence(body["total_gbp"]) == result.total_pence
    assert sum(pence(r["amount_gbp"]) for r in body["rows"]) == result.total_pence
    assert body["districts"] == list(result.place_codes)
    assert body["population"] == result.population
    assert body["caveats"] == result.caveats
    assert body["source"]["population_year"] == result.population_year
    assert body["source"]["releases"] and body["source"]["sources"]
    councils = body["reported_by_councils"]
    if result.reported_by_councils is None:
        assert councils is None
    else:
        want = int(result.reported_by_councils["amount_pence"].sum())
        assert sum(pence(r["amount_gbp"]) for r in councils["rows"]) == want


def test_deepdive_equals_the_library(client, workspace) -> None:  # type: ignore[no-untyped-def]
    url = "/api/v1/deepdive?place=Kent&year=2010-11&theme=older_people"
    body = get(client, url)
    result = workspace.deepdive("Kent", "2010-11", "older_people")
    assert body["total_pence"] == result.total_pence
    assert body["total_gbp"] == gbp(result.total_pence)
    assert body["unallocated_pence"] == result.unallocated_pence
    assert sum(r["amount_pence"] for r in body["by_agency"]) == result.total_pence
    assert all(r["amount_gbp"] == gbp(r["amount_pence"]) for r in body["by_function"])
    assert body["source"]["population_year"] == result.population_year


def test_real_terms_in_a_chosen_years_prices(client, workspace) -> None:  # type: ignore[no-untyped-def]
    default = get(client, KENT)["real_terms"]
    older = get(client, KENT + "&prices=2008-09")["real_terms"]
    assert default["base_year"] == "2018-19" and older["base_year"] == "2008-09"
    want = workspace.count("Kent", "2010-11", prices="2008-09").real_terms
    assert older["factor"] == pytest.approx(want["factor"])
    assert older["total_gbp"] == pytest.approx(want["total_gbp"], abs=0.01)
    dive = get(client, "/api/v1/deepdive?place=Kent&year=2010-11&theme=older_people&prices=2008-09")
    assert dive["real_terms"]["total_gbp"] == pytest.approx(
        dive["total_gbp"] * older["factor"], abs=0.01
    )


@pytest.mark.parametrize("year", ["2010-11", "2005-06"])
def test_flows_balance_to_the_count(client, workspace, year: str) -> None:  # type: ignore[no-untyped-def]
    body = get(client, f"/api/v1/flows?place=Kent&year={year}")
    result = workspace.count("Kent", year)
    assert pence(body["total_gbp"]) == result.total_pence
    ids = {n["id"] for n in body["nodes"]}
    for stage in ("funder->agency_type", "agency_type->function"):
        live = [x for x in body["links"] if x["stage"] == stage and not x["eliminated"]]
        assert sum(pence(x["amount_gbp"]) for x in live) == result.total_pence
    for stage in ("funder", "agency_type", "function"):
        nodes = [n for n in body["nodes"] if n["stage"] == stage]
        assert sum(pence(n["amount_gbp"]) for n in nodes) == result.total_pence
    assert all(x["source"] in ids and x["target"] in ids for x in body["links"])
    gone = [x for x in body["links"] if x["eliminated"] and x["stage"] == "funder->agency_type"]
    replaced = 0 if result.replaced is None else int(result.replaced["amount_pence"].sum())
    assert sum(pence(x["amount_gbp"]) for x in gone) == replaced == pence(body["eliminated_gbp"])
    assert (replaced > 0) == (year == "2010-11")


@pytest.fixture(scope="module")
def south_east(workspace) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The engine's count of every South East district, 2010-11 (pence by district)."""
    frame = workspace.region_district_counts("E12000008", "2010-11")
    frame = frame[frame["region_code"] == "E12000008"]
    return {str(a): int(p) for a, p in zip(frame["area_code"], frame["amount_pence"], strict=True)}


@pytest.mark.parametrize("measure", ["total", "per_head"])
def test_map_of_a_region_equals_the_library(client, workspace, south_east, measure: str) -> None:  # type: ignore[no-untyped-def]
    body = get(client, f"/api/v1/map?year=2010-11&region=E12000008&measure={measure}")
    want = south_east
    got = {d["area_code"]: d for d in body["districts"]}
    assert set(got) == set(want)
    assert set(workspace.count("Kent", "2010-11").place_codes) <= set(got)
    for code, d in got.items():
        assert pence(d["amount_gbp"]) == int(want[code])
        per_head = round(d["amount_gbp"] / d["population"], 2)
        assert d["value"] == (per_head if measure == "per_head" else d["amount_gbp"])
    assert body["unit"] == ("GBP per head" if measure == "per_head" else "GBP")
    # a district's per-head figure is its own count's
    one = workspace.count("E07000111", "2010-11")
    assert got["E07000111"]["population"] == one.population
    assert body["source"]["population_year"] == one.population_year


def test_map_of_england_has_every_district_once(client, workspace) -> None:  # type: ignore[no-untyped-def]
    body = get(client, "/api/v1/map?year=2010-11")
    codes = [d["area_code"] for d in body["districts"]]
    assert sorted(codes) == sorted(set(workspace.districts["area_code"]))
    assert body["region"] is None and codes == sorted(codes)


# -- rows: provenance and paging ------------------------------------------------------------------


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["source_id"], row["file"], row["row"], row["area_code"], pence(row["amount_gbp"]))


def test_rows_paging_covers_every_line_exactly_once(client, workspace) -> None:  # type: ignore[no-untyped-def]
    result = workspace.count("Kent", "2010-11")
    first = get(client, "/api/v1/rows?place=Kent&year=2010-11&page_size=500")
    assert first["total_rows"] == len(result.lines)
    rows = list(first["rows"])
    for page in range(2, first["pages"] + 1):
        body = get(client, f"/api/v1/rows?place=Kent&year=2010-11&page_size=500&page={page}")
        assert body["page"] == page and len(body["rows"]) <= 500
        rows += body["rows"]
    lines = result.lines
    want = Counter(
        zip(
            lines["source_id"],
            lines["file"],
            lines["row"].astype(int),
            lines["area_code"],
            lines["amount_pence"].astype(int),
            strict=True,
        )
    )
    assert Counter(map(_key, rows)) == want
    assert sum(pence(r["amount_gbp"]) for r in rows) == result.total_pence
    assert all(r["file"] and r["basis"] and r["driver"] for r in rows)
    past = first["pages"] + 1
    get(client, f"/api/v1/rows?place=Kent&year=2010-11&page_size=500&page={past}", 404)


def test_each_count_row_leads_to_its_source_lines(client, workspace) -> None:  # type: ignore[no-untyped-def]
    count = get(client, "/api/v1/count?place=Kent&year=2010-11")
    for row in count["rows"][:6]:
        url = f"/api/v1/sources?place=Kent&year=2010-11&row={row['row_id']}&page_size=500"
        body = get(client, url)
        assert body["row"] == row and body["total_lines"] == len(body["lines"])
        assert sum(pence(s["taken_gbp"]) for s in body["lines"]) == pence(row["amount_gbp"])
        assert pence(body["taken_gbp"]) == pence(row["amount_gbp"])
        assert all(s["file"] and s["row"] is not None for s in body["lines"])
    get(client, "/api/v1/sources?place=Kent&year=2010-11&row=000000000000", 404)
    get(client, "/api/v1/sources?place=Kent&year=2010-11", 400)


def test_rows_order_is_deterministic(client) -> None:  # type: ignore[no-untyped-def]
    url = "/api/v1/rows?place=Kent&year=2010-11"
    small = [get(client, f"{url}&page_size=37&page={p}")["rows"] for p in (1, 2, 3)]
    big = get(client, f"{url}&page_size=111")["rows"]
    assert [r for page in small for r in page] == big
    assert get(client, f"{url}&page_size=111")["rows"] == big


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/count", 400),
        ("/api/v1/count?place=Kent", 400),
        ("/api/v1/count?year=2010-11", 400),
        ("/api/v1/count?place=Kent&year=2010", 400),
        ("/api/v1/count?place=Kent&year=1999-00", 404),
        ("/api/v1/count?place=Atlantis&year=2010-11", 404),
        ("/api/v1/count?place=E99999999&year=2010-11", 404),
        ("/api/v1/count?place=..%2F..%2Fetc%2Fpasswd&year=2010-11", 400),
        ("/api/v1/count?place=pilots.toml&year=2010-11", 400),
        ("/api/v1/count?place=%00&year=2010-11", 400),
        ("/api/v1/count?place=%2C%2C&year=2010-11", 400),
        ("/api/v1/count?place=" + "x" * 3000 + "&year=2010-11", 400),
        ("/api/v1/count?place=Kent&year=2010-11&extra=1", 400),
        ("/api/v1/count?place=Kent&place=Durham&year=2010-11", 400),
        ("/api/v1/count?place=Kent&year=2010-11&prices=2010", 400),
        ("/api/v1/count?place=Kent&year=2010-11&prices=2099-00", 422),
        ("/api/v1/deepdive?place=Kent&year=2010-11", 400),
        ("/api/v1/deepdive?place=Kent&year=2010-11&theme=nope", 404),
        ("/api/v1/deepdive?place=Kent&year=2010-11&theme=..%2Fx", 400),
        ("/api/v1/flows?place=Nowhere&year=2010-11", 404),
        ("/api/v1/map?year=2010-11&measure=median", 400),
        ("/api/v1/map?year=2010-11&region=london", 400),
        ("/api/v1/map?year=2010-11&region=E12000099", 404),
        ("/api/v1/map?year=2099-00", 404),
        ("/api/v1/rows?place=Kent&year=2010-11&page=0", 400),
        ("/api/v1/rows?place=Kent&year=2010-11&page=-1", 400),
        ("/api/v1/rows?place=Kent&year=2010-11&page=1.5", 400),
        ("/api/v1/rows?place=Kent&year=2010-11&page=abc", 400),
        ("/api/v1/rows?place=Kent&year=2010-11&page=99999999999999999999", 400),
        ("/api/v1/rows?place=Kent&year=2010-11&page_size=501", 400),
        ("/api/v1/rows?place=Kent&year=2010-11&page_size=0", 400),
        ("/api/v1/rows?place=Kent&year=2010-11&page=99999", 404),
        ("/api/v1/years?x=1", 400),
        ("/api/v1/docs?x=1", 400),
        ("/api/v1/nothing", 404),
        ("/api/v1/count/extra", 404),
    ],
)
def test_bad_input_is_a_json_error(client, url: str, status: int) -> None:  # type: ignore[no-untyped-def]
    body = get(client, url, status)
    assert body["error"] and "Traceback" not in body["error"]


def test_other_methods_are_a_json_405(client) -> None:  # type: ignore[no-untyped-def]
    for method in ("post", "put", "delete", "patch"):
        r = getattr(client, method)(KENT)
        assert r.status_code == 405 and r.mimetype == "application/json"
        assert "read-only" in r.get_json()["error"]


# -- mounting and failures (no data needed) ----------------------------------------------------


def test_a_missing_store_is_a_json_503(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from totalplace.config import Settings
    from totalplace.workspace import Workspace

    ws = Workspace(Settings(workspace=tmp_path / "never-built", mirror=None))
    app = Flask(__name__)
    register_api(app, lambda: ws)
    client = app.test_client()
    for url in ("/api/v1/years", KENT, "/api/v1/map?year=2010-11"):
        r = client.get(url)
        assert r.status_code == 503 and "totalplace build" in r.get_json()["error"]
        check(r.get_json(), urlsplit(url).path, 503)


def test_an_unexpected_error_is_a_json_500_without_details() -> None:
    class Broken:
        def pilots(self) -> Any:
            raise RuntimeError("secret internals")

    app = Flask(__name__)
    register_api(app, Broken)
    r = app.test_client().get("/api/v1/places")
    assert r.status_code == 500 and r.mimetype == "application/json"
    assert "secret" not in r.get_data(as_text=True)


def test_json_values_are_plain_and_gbp_has_two_decimals() -> None:
    assert plain({"a_gbp": np.float64(1.23456), "n": np.int64(3), "x": float("nan")}) == {
        "a_gbp": 1.23,
        "n": 3,
        "x": None,
    }
    assert gbp(12345) == 123.45 and gbp(-1) == -0.01
