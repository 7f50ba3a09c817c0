"""Workshops: partners challenge the count's figures, try scenarios and freeze snapshots.

``service.WorkshopService`` is the one entry point (every call takes the caller's token);
``scenarios`` is the pure scenario engine; ``snapshot`` freezes state and writes workshop packs;
``db.upgrade(url)`` creates or migrates the database (SQLite by default, PostgreSQL by URL).
"""

from totalplace.workshop.access import PermissionDenied, TokenRefused
from totalplace.workshop.models import ImmutableRecord, Role, WorkshopError
from totalplace.workshop.scenarios import ScenarioError
from totalplace.workshop.service import (
    ACCEPTED_SCENARIO,
    Conflict,
    FigureCell,
    NotFound,
    StaleVersion,
    WorkshopService,
)

__all__ = [
    "ACCEPTED_SCENARIO",
    "Conflict",
    "FigureCell",
    "ImmutableRecord",
    "NotFound",
    "PermissionDenied",
    "Role",
    "ScenarioError",
    "StaleVersion",
    "TokenRefused",
    "WorkshopError",
    "WorkshopService",
]
