"""The workshop pages' bridge to ``totalplace.workshop``: one WorkshopService per process.

The service is opened on ``Settings().db_url`` (SQLite in the workspace unless
``TOTALPLACE_DB_URL`` names a shared PostgreSQL) when first asked for, after bringing the schema
up to date with the Alembic migrations; tests put their own in with ``set_workshop_service``.
Every permission is checked by the service on the server side: pages pass the caller's token
and show the refusal the service raises.
"""

from __future__ import annotations

import re
import threading
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING

import pandas as pd

from dashboards import data
from totalplace.workshop.models import WorkshopError

if TYPE_CHECKING:
    from totalplace.workshop.scenarios import Evidence
    from totalplace.workshop.service import WorkshopService

_lock = threading.Lock()
_service: WorkshopService | None = None


def set_workshop_service(service: WorkshopService | None) -> None:
    """Use ``service`` from now on (None: open the default one when next asked)."""
    global _service
    with _lock:
        _service = service


def get_workshop_service() -> WorkshopService:
    """The process's service, opened (and migrated) from the settings on first use."""
    global _service
    with _lock:
        if _service is None:
            from totalplace.config import Settings
            from totalplace.workshop.service import WorkshopService

            # the count judges proposed amounts (an implausible challenge is refused)
            _service = WorkshopService.from_url(Settings().db_url, migrate=True, figures=baseline)
        return _service


def baseline(place: str, year: str) -> pd.DataFrame:
    """The count of ``place`` in ``year`` by agency type and function (the scenario baseline)."""
    from totalplace.workshop.scenarios import baseline_from_count

    return baseline_from_count(data.count(place, year))


@lru_cache(maxsize=1)
def evidence() -> dict[str, Evidence]:
    """The invest-to-save evidence library (``data/evidence/invest_to_save.csv``), by id."""
    from totalplace.workshop.scenarios import load_evidence

    return load_evidence()


@lru_cache(maxsize=1)
def drivers() -> tuple[tuple[str, str], ...]:
    """(name, label) of the built-in apportionment drivers, for a challenge's proposed driver."""
    from totalplace.count.drivers import builtin_drivers

    return tuple((d.name, d.label) for d in builtin_drivers().values())


_UNITS = {"": 1, "k": 1_000, "m": 1_000_000, "bn": 1_000_000_000}
_AMOUNT = re.compile(r"£?\s*(\d[\d,]*(?:\.\d+)?|\.\d+)\s*(k|m|bn)?", re.IGNORECASE)


def parse_pounds(text: str | None) -> int:
    """Pounds as a person types them, in exact pence: '1,250,000', '£1.25m', '2bn', '750k'.

    Raises WorkshopError naming what was typed when it is not an amount of 0 or more.
    """
    raw = (text or "").strip()
    match = _AMOUNT.fullmatch(raw.replace(" ", ""))
    if not match:
        raise WorkshopError(
            f"{raw!r} is not an amount in pounds: type e.g. 1,250,000 or £1.25m or 750k"
        )
    try:
        value = Decimal(match.group(1).replace(",", "")) * _UNITS[(match.group(2) or "").lower()]
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise WorkshopError(f"{raw!r} is not an amount in pounds") from None
    return int((value * 100).to_integral_value())


def parse_percent(text: str | None) -> Decimal:
    """A percentage between 0 and 100 ('15', '12.5%')."""
    raw = (text or "").strip().removesuffix("%").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise WorkshopError(f"{text!r} is not a percentage: type e.g. 15 or 12.5%") from None
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(100):
        raise WorkshopError(f"a percentage is between 0 and 100, not {raw}")
    return value
