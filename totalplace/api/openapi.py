"""The API's OpenAPI 3.1 document (a plain dict, served at /api/v1/openapi.json) and its small
human page (/api/v1/docs, no external assets).

The document is the API's one definition of its parameters: ``routes`` takes each endpoint's
allowed query parameters from here, and the tests validate every real answer against the
response schemas below.
"""

from __future__ import annotations

import html
from typing import Any

from totalplace import __version__

API_PREFIX = "/api/v1"
API_VERSION = "1.0.0"
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100
MAX_PLACE_LENGTH = 2000

# -- parameters -----------------------------------------------------------------------------

_PLACE_TEXT = (
    "A Total Place pilot name or alias (case-insensitive; a unique prefix works), a district, "
    "county or region name, or one or more GSS codes of 2019 districts (E06/E07/E08/E09), shire "
    "counties (E10) or regions (E12), comma-separated. Place files cannot be read through the API."
)

PARAMETERS: dict[str, dict[str, Any]] = {
    "place": {
        "name": "place",
        "in": "query",
        "required": True,
        "description": _PLACE_TEXT,
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_PLACE_LENGTH,
            "pattern": r"^[^/\\\x00-\x1f\x7f]+$",
        },
        "examples": {
            "pilot": {"value": "Kent"},
            "codes": {"value": "E06000058,E06000059"},
        },
    },
    "year": {
        "name": "year",
        "in": "query",
        "required": True,
        "description": "Financial year, e.g. 2010-11 (see /api/v1/years).",
        "schema": {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}$"},
        "example": "2010-11",
    },
    "prices": {
        "name": "prices",
        "in": "query",
        "required": False,
        "description": (
            "Real terms in this financial year's prices (HM Treasury GDP deflators). Default: "
            "the deflator series' latest outturn year (2018-19 for the March 2020 workbook); a "
            "year the series lacks is 422. Forecast years are allowed and flagged "
            "(base_is_forecast)."
        ),
        "schema": {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}$"},
        "example": "2008-09",
    },
    "theme": {
        "name": "theme",
        "in": "query",
        "required": True,
        "description": "A built-in deep-dive theme id (see /api/v1/themes).",
        "schema": {"type": "string", "pattern": r"^[a-z0-9_]{1,64}$"},
        "example": "older_people",
    },
    "measure": {
        "name": "measure",
        "in": "query",
        "required": False,
        "description": "total: each district's count in GBP; per_head: GBP per person.",
        "schema": {"type": "string", "enum": ["total", "per_head"], "default": "total"},
    },
    "region": {
        "name": "region",
        "in": "query",
        "required": False,
        "description": "A region's GSS code (E12): only its districts. Default: all England.",
        "schema": {"type": "string", "pattern": r"^E12[0-9]{6}$"},
        "example": "E12000008",
    },
    "row": {
        "name": "row",
        "in": "query",
        "required": True,
        "description": "A count row's row_id (from /api/v1/count).",
        "schema": {"type": "string", "pattern": r"^[0-9a-f]{12}$"},
        "example": "914c01dd06ee",
    },
    "page": {
        "name": "page",
        "in": "query",
        "required": False,
        "description": "Page number, from 1 (a page past the last is 404).",
        "schema": {"type": "integer", "minimum": 1, "default": 1},
    },
    "page_size": {
        "name": "page_size",
        "in": "query",
        "required": False,
        "description": f"Rows per page, 1 to {MAX_PAGE_SIZE}.",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_PAGE_SIZE,
            "default": DEFAULT_PAGE_SIZE,
        },
    },
}

# -- schemas --------------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """A closed object: every property required unless named in ``optional``."""
    return {
        "type": "object",
        "properties": props,
        "required": [k for k in props if k not in optional],
        "additionalProperties": False,
    }


def _list(item: Any) -> dict[str, Any]:
    return {"type": "array", "items": item}


STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
OPT_STR = {"type": ["string", "null"]}
OPT_INT = {"type": ["integer", "null"]}
OPT_NUM = {"type": ["number", "null"]}
GBP = {"type": "number", "description": "GBP, two decimals"}
OPT_GBP = {"type": ["number", "null"], "description": "GBP, two decimals"}
STRS = _list(STR)
FLOW_STAGE = {"type": "string", "enum": ["funder", "agency_type", "function"]}


def _pence_gbp(name: str) -> dict[str, Any]:
    return {f"{name}_pence": INT, f"{name}_gbp": GBP}


def _shares(key: str) -> dict[str, Any]:
    return _obj({key: OPT_STR, **_pence_gbp("amount"), "share": NUM})


SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _obj({"error": STR}),
    "SourceRef": _obj(
        {"id": STR, "publisher": OPT_STR, "title": OPT_STR, "licence": OPT_STR, "url": OPT_STR}
    ),
    "Source": _obj(
        {
            "releases": STRS,
            "sources": _list(_ref("SourceRef")),
            "population_year": OPT_INT,
            "caveats": STRS,
        }
    ),
    "Place": _obj(
        {
            "name": STR,
            "aliases": STRS,
            "districts": STRS,
            "councils": STRS,
            "region_code": OPT_STR,
            "theme": OPT_STR,
            "note": OPT_STR,
            "source": STR,
        }
    ),
    "Places": _obj({"places": _list(_ref("Place")), "source": _ref("Source")}),
    "Years": _obj({"years": STRS, "source": _ref("Source")}),
    "Theme": _obj(
        {
            "id": STR,
            "name": STR,
            "population": STR,
            "description": STR,
            "sources": STRS,
            "notes": STRS,
            "rule_count": INT,
        }
    ),
    "Themes": _obj({"themes": _list(_ref("Theme")), "source": _ref("Source")}),
    "CountRow": _obj(
        {
            "row_id": {"type": "string", "description": "ask /api/v1/sources for its lines"},
            "agency_type": OPT_STR,
            "function_code": OPT_STR,
            "function": OPT_STR,
            "basis": OPT_STR,
            "driver": OPT_STR,
            "source_id": OPT_STR,
            "release": OPT_STR,
            "amount_gbp": GBP,
        }
    ),
    "CouncilRow": _obj(
        {"agency": OPT_STR, "agency_type": OPT_STR, "service_line": OPT_STR, "amount_gbp": GBP}
    ),
    "Councils": _obj({"total_gbp": GBP, "rows": _list(_ref("CouncilRow"))}),
    "RealTerms": _obj(
        {
            "base_year": STR,
            "base_is_forecast": BOOL,
            "factor": NUM,
            "total_gbp": GBP,
            "per_head_gbp": OPT_GBP,
            "source": STR,
        }
    ),
    "Elimination": _obj(
        {
            "payer": OPT_STR,
            "payee": OPT_STR,
            "function_code": OPT_STR,
            "amount_gbp": GBP,
            "reason": OPT_STR,
            "source": OPT_STR,
        }
    ),
    "Count": _obj(
        {
            "place": STR,
            "districts": STRS,
            "year": STR,
            "release": STR,
            "population": INT,
            "population_year": INT,
            "population_basis": {"type": "string", "description": "how population was obtained"},
            "real_terms": {
                "description": "the count in a base year's prices, where deflators are loaded",
                "oneOf": [_ref("RealTerms"), {"type": "null"}],
            },
            "total_gbp": GBP,
            "per_head_gbp": OPT_GBP,
            "rows": _list(_ref("CountRow")),
            "reported_by_councils": {"oneOf": [_ref("Councils"), {"type": "null"}]},
            "eliminated": {
                "description": "transfers between bodies in the count, taken out of the payer",
                "oneOf": [_list(_ref("Elimination")), {"type": "null"}],
            },
            "caveats": STRS,
            "source": _ref("Source"),
        },
        optional=("population_basis", "real_terms"),
    ),
    "DeepDiveRule": _obj(
        {
            "rule": STR,
            "label": STR,
            "lines": INT,
            "source_rows": INT,
            **_pence_gbp("source"),
            "share": {"type": "string", "description": "the rule's share, in words"},
            **_pence_gbp("amount"),
            "mode": OPT_STR,
            "control": OPT_STR,
            "service_type": OPT_STR,
            "evidence": STR,
        }
    ),
    "DeepDive": _obj(
        {
            "place": STR,
            "year": STR,
            "theme": STR,
            "theme_name": STR,
            "release": STR,
            **_pence_gbp("total"),
            **_pence_gbp("count_total"),
            "share_of_count": OPT_NUM,
            "population_driver": STR,
            "population": INT,
            "population_total": INT,
            "population_year": INT,
            "per_head_gbp": OPT_GBP,
            "relevant": STR,
            **_pence_gbp("relevant"),
            **_pence_gbp("unallocated"),
            "unallocated_share": OPT_NUM,
            **_pence_gbp("outside_relevant"),
            "districts": STRS,
            "by_agency": _list(
                _obj(
                    {
                        "agency_type": OPT_STR,
                        "agency": OPT_STR,
                        **_pence_gbp("amount"),
                        "share": NUM,
                    }
                )
            ),
            "by_function": _list(
                _obj({"function": OPT_STR, "line": OPT_STR, **_pence_gbp("amount"), "share": NUM})
            ),
            "splits": _obj({"mode": _list(_shares("mode")), "control": _list(_shares("control"))}),
            "pooling": _list(
                _obj(
                    {
                        "service_type": OPT_STR,
                        "agency_type": OPT_STR,
                        **_pence_gbp("amount"),
                        "agencies": STR,
                        "candidate": BOOL,
                    }
                )
            ),
            "rules": _list(_ref("DeepDiveRule")),
            "errors": STRS,
            "caveats": STRS,
            "theme_sources": STRS,
            "real_terms": {
                "description": "theme spend in a base year's prices, where deflators are loaded",
                "oneOf": [_ref("RealTerms"), {"type": "null"}],
            },
            "source": _ref("Source"),
        },
        optional=("real_terms",),
    ),
    "FlowNode": _obj(
        {
            "id": STR,
            "label": STR,
            "stage": FLOW_STAGE,
            "kind": {
                "type": ["string", "null"],
                "description": "funders: 'central' (a CRA body) or 'council' (own outturn)",
            },
            "amount_gbp": GBP,
        }
    ),
    "FlowLink": _obj(
        {
            "source": STR,
            "target": STR,
            "stage": {"type": "string", "enum": ["funder->agency_type", "agency_type->function"]},
            "amount_gbp": GBP,
            "eliminated": {
                "type": "boolean",
                "description": "a CRA line councils' own outturn replaced: not in the count",
            },
        }
    ),
    "Flows": _obj(
        {
            "place": STR,
            "districts": STRS,
            "year": STR,
            "total_gbp": GBP,
            "eliminated_gbp": GBP,
            "stages": _list(FLOW_STAGE),
            "nodes": _list(_ref("FlowNode")),
            "links": _list(_ref("FlowLink")),
            "source": _ref("Source"),
        }
    ),
    "MapDistrict": _obj(
        {
            "area_code": STR,
            "area_name": OPT_STR,
            "region_code": OPT_STR,
            "value": {"type": ["number", "null"], "description": "in the answer's unit"},
            "amount_gbp": GBP,
            "population": OPT_INT,
        }
    ),
    "Map": _obj(
        {
            "year": STR,
            "measure": {"type": "string", "enum": ["total", "per_head"]},
            "unit": {"type": "string", "enum": ["GBP", "GBP per head"]},
            "region": OPT_STR,
            "total_gbp": GBP,
            "districts": _list(_ref("MapDistrict")),
            "source": _ref("Source"),
        }
    ),
    "Row": _obj(
        {
            **{
                c: OPT_STR
                for c in (
                    "area_code",
                    "area_name",
                    "region_code",
                    "agency",
                    "agency_type",
                    "function_code",
                    "function",
                    "subfunction",
                    "service_line",
                    "spend_kind",
                    "description",
                    "basis",
                    "driver",
                    "confidence",
                    "source_id",
                    "release",
                    "file",
                )
            },
            "row": OPT_INT,
            "amount_gbp": GBP,
        }
    ),
    "Rows": _obj(
        {
            "place": STR,
            "districts": STRS,
            "year": STR,
            "total_gbp": GBP,
            "total_rows": INT,
            "page": INT,
            "page_size": INT,
            "pages": INT,
            "order": STRS,
            "rows": _list(_ref("Row")),
            "source": _ref("Source"),
        }
    ),
    "SourceLine": _obj(
        {
            "source_id": OPT_STR,
            "file": OPT_STR,
            "row": OPT_INT,
            "agency": OPT_STR,
            "description": OPT_STR,
            "basis": OPT_STR,
            "line_gbp": {
                "type": ["number", "null"],
                "description": "the source line's own amount (an eliminated line: the transfer)",
            },
            "taken_gbp": {"type": "number", "description": "the part of it in this count row"},
            "share": {"type": ["number", "null"], "description": "taken / line, a fraction"},
            "districts": {"type": "integer", "description": "the place's districts it reached"},
        }
    ),
    "SourceLines": _obj(
        {
            "place": STR,
            "year": STR,
            "row": _ref("CountRow"),
            "total_lines": INT,
            "page": INT,
            "page_size": INT,
            "pages": INT,
            "taken_gbp": {"type": "number", "description": "all pages: the row's amount"},
            "lines": _list(_ref("SourceLine")),
            "source": _ref("Source"),
        }
    ),
    "OpenAPI": {
        "type": "object",
        "required": ["openapi", "info", "paths", "components"],
        "properties": {"openapi": {"type": "string", "const": "3.1.0"}},
    },
}

# -- endpoints ------------------------------------------------------------------------------

ENDPOINTS: dict[str, dict[str, Any]] = {
    "/places": {
        "summary": "The 13 Total Place pilots",
        "description": "Each pilot with its 2019 districts, member councils and sources.",
        "params": [],
        "schema": "Places",
    },
    "/years": {
        "summary": "Financial years with a count",
        "description": "Years with HM Treasury CRA spend in the store, oldest first.",
        "params": [],
        "schema": "Years",
    },
    "/themes": {
        "summary": "Deep-dive themes",
        "description": "The built-in themes (data/themes), with their population and sources.",
        "params": [],
        "schema": "Themes",
    },
    "/count": {
        "summary": "The high-level count of a place",
        "description": (
            "Every agency's spend in the place by agency type and COFOG function, with basis, "
            "driver and release; what councils reported; caveats."
        ),
        "params": ["place", "year", "prices"],
        "schema": "Count",
    },
    "/deepdive": {
        "summary": "A theme's deep dive for a place",
        "description": "Theme spend by agency, function, mode and control; pooling; rules.",
        "params": ["place", "year", "theme", "prices"],
        "schema": "DeepDive",
    },
    "/flows": {
        "summary": "Money flows: funder -> agency type -> function",
        "description": (
            "Nodes and links of the count in GBP, as the dashboard's flows show them. A funder "
            "is the body a line is published under: the department (or other body) for HM "
            "Treasury CRA lines, the authority for its own outturn. The CRA lines councils' "
            "outturn replaced are links marked eliminated: true; they are not in the count or "
            "in node amounts."
        ),
        "params": ["place", "year"],
        "schema": "Flows",
    },
    "/map": {
        "summary": "Per-district values for a map",
        "description": "Each district's count (or per head) for a region or all England.",
        "params": ["year", "measure", "region"],
        "schema": "Map",
    },
    "/rows": {
        "summary": "The count line by line, with provenance",
        "description": (
            "One row per source line and district (file, row, basis, driver), in a stable "
            "order (see 'order'), paged."
        ),
        "params": ["place", "year", "page", "page_size"],
        "schema": "Rows",
    },
    "/sources": {
        "summary": "The source lines behind one count row",
        "description": (
            "Each ledger line (file, row) a count row is made of: the line's own amount, the "
            "part of it the row took (largest-remainder pence, as the count apportioned it) "
            "and the share; the parts sum to the row's amount to the penny. Paged."
        ),
        "params": ["place", "year", "row", "page", "page_size"],
        "schema": "SourceLines",
    },
    "/openapi.json": {
        "summary": "This document",
        "description": "The OpenAPI 3.1 description of the API.",
        "params": [],
        "schema": "OpenAPI",
    },
}
#: Endpoints that compute figures (they may also answer 404 for an unknown place, year...).
_FIGURES = {"/count", "/deepdive", "/flows", "/map", "/rows", "/sources"}


def params_of(path: str) -> tuple[str, ...]:
    """The query parameters an endpoint (``/count``, without the prefix) accepts."""
    return tuple(ENDPOINTS[path]["params"])


def _error(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}


def _operation(path: str, spec: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": _ref(spec["schema"])}},
        },
        "400": _error("A parameter is malformed, repeated or unknown."),
        "503": _error("The workspace store is missing or cannot answer."),
    }
    if path in _FIGURES:
        responses["404"] = _error("No such place, year, theme, region or page.")
        responses["422"] = _error("The figures cannot be computed for this request.")
    return {
        "operationId": path.strip("/").replace(".", "_"),
        "summary": spec["summary"],
        "description": spec["description"],
        "parameters": [{"$ref": f"#/components/parameters/{p}"} for p in spec["params"]],
        "responses": responses,
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API (a fresh dict each call)."""
    paths: dict[str, Any] = {
        f"{API_PREFIX}{path}": {"get": _operation(path, spec)} for path, spec in ENDPOINTS.items()
    }
    paths[f"{API_PREFIX}/docs"] = {
        "get": {
            "operationId": "docs",
            "summary": "This API's endpoints, as a web page",
            "parameters": [],
            "responses": {
                "200": {"description": "OK", "content": {"text/html": {"schema": STR}}},
                "400": _error("A query parameter was given (this page takes none)."),
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "totalplace API",
            "version": API_VERSION,
            "summary": "All public spending in a UK place (Total Place): read-only figures.",
            "description": (
                "Read-only JSON over a built totalplace workspace (totalplace "
                f"{__version__}). Amounts are GBP with two decimals (the deep dive also gives "
                "exact pence). Every answer carries a 'source' note: releases, catalogued "
                "sources and licences, population year and caveats. Errors are JSON "
                '{"error": "..."} with status 400 (bad parameter), 404 (unknown place, year, '
                "theme, region or page), 422 or 503."
            ),
            "license": {"name": "MIT (code); figures under the Open Government Licence v3.0"},
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "parameters": {k: dict(v) for k, v in PARAMETERS.items()},
            "schemas": SCHEMAS,
        },
    }


# -- the human page -------------------------------------------------------------------------


def docs_html(doc: dict[str, Any]) -> str:
    """A plain page listing every endpoint with its parameters (no scripts, no CDN)."""
    esc = html.escape
    params = doc["components"]["parameters"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(doc['info']['title'])}</title>",
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem}code{background:#f3f3f3;padding:0 .2rem}td,th{text-align:left;"
        "padding:.2rem .6rem;vertical-align:top}</style></head><body>",
        f"<h1>{esc(doc['info']['title'])} {esc(doc['info']['version'])}</h1>",
        f"<p>{esc(doc['info']['description'])}</p>",
        f"<p>Machine-readable: <a href='{API_PREFIX}/openapi.json'>openapi.json</a></p>",
    ]
    for path, item in doc["paths"].items():
        op = item["get"]
        parts.append(f"<h2><code>GET {esc(path)}</code></h2><p>{esc(op['summary'])}")
        if op.get("description"):
            parts.append(f" — {esc(op['description'])}")
        parts.append("</p>")
        refs = [p["$ref"].rsplit("/", 1)[-1] for p in op["parameters"]]
        if refs:
            parts.append("<table><tr><th>parameter</th><th>required</th><th>meaning</th></tr>")
            for name in refs:
                p = params[name]
                req = "yes" if p.get("required") else "no"
                parts.append(
                    f"<tr><td><code>{esc(name)}</code></td><td>{req}</td>"
                    f"<td>{esc(p['description'])}</td></tr>"
                )
            parts.append("</table>")
        codes = ", ".join(sorted(op["responses"]))
        parts.append(f"<p>Answers: {esc(codes)}</p>")
    parts.append("</body></html>")
    return "".join(parts)
