"""A small JSON API for workshop actions (``/api/workshop/v1``), so other tools and load tests
can take part in a workshop as the dashboard does. The caller's workshop token goes in an
``Authorization: Bearer`` header; every role check happens in `WorkshopService`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from totalplace.errors import TotalPlaceError
from totalplace.workshop import FigureCell, NotFound, PermissionDenied, WorkshopService

PREFIX = "/api/workshop/v1"
EXTENSION = "totalplace.workshop_service"
MAX_BODY = 64 * 1024

workshop_api = Blueprint("workshop_api", __name__, url_prefix=PREFIX)
_lock = threading.Lock()


def register_workshop_api(server: Flask, make_service: Callable[[], WorkshopService]) -> None:
    """Serve the workshop API on ``server``; the service is made on first use."""
    server.extensions[EXTENSION] = {"make": make_service, "service": None}
    server.register_blueprint(workshop_api)


def _service() -> WorkshopService:
    ext = current_app.extensions[EXTENSION]
    with _lock:
        if ext["service"] is None:
            ext["service"] = ext["make"]()
        service: WorkshopService = ext["service"]
        return service


def _token() -> str:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header[7:].strip():
        raise PermissionDenied("send the workshop token as 'Authorization: Bearer <token>'")
    return header[7:].strip()


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(obj).items()}
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, datetime):
        return obj.isoformat()
    if hasattr(obj, "value") and not isinstance(obj, int | float | str):
        return obj.value
    return obj


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


@workshop_api.errorhandler(PermissionDenied)
def _denied(exc: PermissionDenied) -> tuple[Response, int]:
    return _error(403, str(exc))


@workshop_api.errorhandler(NotFound)
def _missing(exc: NotFound) -> tuple[Response, int]:
    return _error(404, str(exc))


@workshop_api.errorhandler(TotalPlaceError)
def _refused(exc: TotalPlaceError) -> tuple[Response, int]:
    return _error(400, str(exc))


@workshop_api.get("/workshop")
def get_workshop() -> Response:
    return jsonify(_plain(_service().get_workshop(_token())))


@workshop_api.get("/challenges")
def list_challenges() -> Response:
    return jsonify([_plain(c) for c in _service().list_challenges(_token())])


@workshop_api.post("/challenges")
def create_challenge() -> tuple[Response, int]:
    if (request.content_length or 0) > MAX_BODY:
        return _error(413, f"request body over {MAX_BODY:,} bytes")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error(400, "send a JSON object")
    try:
        cell = FigureCell(
            place=str(body["place"]),
            year=str(body["year"]),
            agency_type=str(body["agency_type"]),
            function=body.get("function"),
            theme=body.get("theme"),
        )
        amount = body.get("amount_gbp")
        pence = None if amount is None else round(float(amount) * 100)
        info = _service().create_challenge(
            _token(), cell, str(body["text"]), amount_pence=pence, driver=body.get("driver")
        )
    except (KeyError, TypeError, ValueError) as exc:
        return _error(400, f"bad challenge: {exc}")
    return jsonify(_plain(info)), 201


@workshop_api.get("/audit")
def audit() -> Response:
    return jsonify([_plain(e) for e in _service().audit(_token())])
