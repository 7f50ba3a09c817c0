"""The read-only JSON API (``/api/v1``) and its OpenAPI document.

``register_api(server, get_workspace)`` mounts it on any Flask server (the dashboard's, or a
bare one); ``openapi_document()`` is the API's description, served at ``/api/v1/openapi.json``.
"""

from totalplace.api.openapi import API_PREFIX, openapi_document
from totalplace.api.routes import register_api

__all__ = ["API_PREFIX", "openapi_document", "register_api"]
