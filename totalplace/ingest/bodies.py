"""Resolve a paying body, as a file names it, to an agency and its GSS area.

Spend files name their council in many ways: ``Manchester City Council``, ``London Borough of
Hammersmith and Fulham``, a GSS code, or an old code (Devon's ``Body`` column holds ``18``, its
pre-2011 ONS "SNAC" county code: Devon County Council, E10000008). mySociety's register of UK
councils (past and present) and its table of name variants resolve all of them; LSOA codes go
to their council through mySociety's LSOA lookup (for 360Giving locations).

The lookup frames come from ``ParseContext.options`` (``register``, ``name_lookup``,
``lsoa_lookup``: frames as published by mySociety) or from the data mirror.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from totalplace.config import REFERENCE_DIR, default_mirror
from totalplace.errors import MirrorMissingError

REGISTER = "lookups/mysociety_uk_local_authorities_past_current.csv"
NAME_LOOKUP = "lookups/mysociety_la_name_to_code_lookup.csv"
LSOA_LOOKUP = "lookups/mysociety_lsoa_to_la_code_lookup.csv"
#: Names shared by councils of different eras go to the council alive on this date by default.
REFERENCE_DATE = dt.date(2019, 4, 1)

GSS_RE = re.compile(r"^[EWSNK]\d{8}$")
_LEVELS = (
    ("E01", "lsoa"),
    ("W01", "lsoa"),
    ("S01", "lsoa"),
    ("E05", "ward"),
    ("W05", "ward"),
    ("S13", "ward"),
    ("E06", "district"),
    ("E07", "district"),
    ("E08", "district"),
    ("E09", "district"),
    ("W06", "district"),
    ("S12", "district"),
    ("N09", "district"),
    ("E10", "upper_tier"),
    ("E11", "upper_tier"),
    ("E12", "region"),
    ("E13", "region"),
    ("E92", "nation"),
    ("W92", "nation"),
    ("S92", "nation"),
    ("N92", "nation"),
    ("K02", "nation"),
    ("K03", "nation"),
    ("K04", "nation"),
    ("E23", "police_force_area"),
    ("W15", "police_force_area"),
    ("E31", "fire_authority"),
    ("W25", "fire_authority"),
)
_COUNCIL_WORDS = re.compile(
    r"^(the )|( (city|county|borough|district|metropolitan borough|metropolitan district|"
    r"london borough)? ?council)$|^(london borough of |royal borough of |city of |council of )"
)


def area_level_of(code: str) -> str | None:
    """The ledger's area level for a GSS code, by its prefix (None when not known)."""
    if not GSS_RE.match(code):
        return None
    prefix = code[:3]
    return next((level for p, level in _LEVELS if p == prefix), None)


def normalise_name(name: str) -> str:
    """Lower case, single spaces, '&' as 'and': the form names are compared in."""
    text = str(name).replace("&", " and ").lower()
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text).split())


@dataclass(frozen=True)
class Body:
    """A council as the register knows it."""

    name: str
    area_name: str
    gss: str
    la_code: str
    la_type: str
    start: str
    end: str
    agency_type: str = "Councils"

    def alive_on(self, day: dt.date) -> bool:
        iso = day.isoformat()
        return (not self.start or self.start <= iso) and (not self.end or iso < self.end)


class Bodies:
    """Council names and codes (GSS, former GSS, SNAC, E-code, DfE number, mySociety code)."""

    def __init__(
        self,
        register: pd.DataFrame,
        names: pd.DataFrame | None = None,
        lsoa: pd.DataFrame | None = None,
    ) -> None:
        self._by_code: dict[str, list[Body]] = {}
        self._by_name: dict[str, list[Body]] = {}
        self._by_la: dict[str, Body] = {}
        self._lsoa_frame = lsoa
        self._lsoa: dict[str, str] | None = None
        self._cache: dict[tuple[str, dt.date | None], Body | None] = {}
        self._load_register(register)
        if names is not None:
            for variant, la in zip(names["la-name"], names["local-authority-code"], strict=True):
                body = self._by_la.get(str(la))
                if body is not None and isinstance(variant, str):
                    self._add(self._by_name, normalise_name(variant), body)

    def _load_register(self, register: pd.DataFrame) -> None:
        reg = register.astype(object).where(register.notna(), "")
        for row in reg.to_dict("records"):
            gss = str(row.get("gss-code", "")).strip()
            la = str(row.get("local-authority-code", "")).strip()
            if not gss or not la:
                continue
            body = Body(
                name=str(row.get("official-name") or row.get("nice-name") or la),
                area_name=str(row.get("nice-name") or row.get("official-name") or la),
                gss=gss,
                la_code=la,
                la_type=str(row.get("local-authority-type", "")),
                start=str(row.get("start-date", "")),
                end=str(row.get("end-date", "")),
            )
            self._by_la[la] = body
            codes = [gss, la, row.get("snac"), row.get("ecode"), row.get("old-ons-la-code")]
            codes += str(row.get("former-gss-codes", "")).split(",")
            for code in codes:
                key = _code_key(code)
                if key:
                    self._add(self._by_code, key, body)
            names = [row.get("official-name"), row.get("nice-name")]
            names += next(csv.reader([str(row.get("alt-names", ""))]), [])
            for name in names:
                if name and str(name).strip():
                    self._add(self._by_name, normalise_name(str(name)), body)

    @staticmethod
    def _add(index: dict[str, list[Body]], key: str, body: Body) -> None:
        found = index.setdefault(key, [])
        if body not in found:
            found.append(body)

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Bodies:
        """From frames in the options (``register`` etc.), else from the data mirror."""
        given = options.get("bodies")
        if isinstance(given, Bodies):
            return given
        register = options.get("register")
        if isinstance(register, pd.DataFrame):
            names = options.get("name_lookup")
            lsoa = options.get("lsoa_lookup")
            return cls(
                register,
                names if isinstance(names, pd.DataFrame) else None,
                lsoa if isinstance(lsoa, pd.DataFrame) else None,
            )
        mirror = options.get("mirror") or default_mirror()
        if mirror is None or not Path(mirror).is_dir():
            raise MirrorMissingError(
                "paying bodies cannot be resolved: no data mirror with the mySociety council "
                "lookups (set TOTALPLACE_MIRROR, or pass --option area_code=GSS)"
            )
        return _from_mirror(Path(mirror).resolve())

    # -- lookups ----------------------------------------------------------------------------------
    def resolve(self, text: object, on: dt.date | None = None) -> Body | None:
        """The council a name or code means (alive on ``on`` when names are shared), or None."""
        key = (str(text), on)
        if key in self._cache:
            return self._cache[key]
        found = self._resolve(str(text), on)
        self._cache[key] = found
        return found

    def _resolve(self, text: str, on: dt.date | None) -> Body | None:
        code = _code_key(text)
        candidates = self._by_code.get(code, []) if code else []
        if not candidates:
            name = normalise_name(text)
            candidates = self._by_name.get(name, [])
            if not candidates:
                short = _COUNCIL_WORDS.sub("", name).strip()
                short = _COUNCIL_WORDS.sub("", short).strip()
                candidates = self._by_name.get(short, [])
        if not candidates:
            return None
        return _choose(candidates, on or REFERENCE_DATE)

    def by_la_code(self, la_code: str) -> Body | None:
        return self._by_la.get(la_code)

    def district_for_lsoa(self, lsoa_code: str) -> Body | None:
        """The council of an LSOA (E01/W01), data zone (S01) or NI SOA, via mySociety."""
        if self._lsoa is None:
            frame = self._lsoa_frame
            if frame is None:
                mirror = default_mirror()
                if mirror is None:
                    raise MirrorMissingError("no LSOA lookup: set TOTALPLACE_MIRROR")
                frame = _lsoa_frame(mirror.resolve())
            self._lsoa = dict(zip(frame["lsoa"], frame["local-authority-code"], strict=True))
        la = self._lsoa.get(lsoa_code)
        return None if la is None else self._by_la.get(la)


def _code_key(code: object) -> str:
    """Codes compared upper case; Excel's ``18.0`` is the code ``18``."""
    if code is None:
        return ""
    text = str(code).strip().upper()
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".")[0]
    if not text or " " in text or len(text) > 10 or text == "NAN":
        return ""
    return text


def _choose(candidates: list[Body], on: dt.date) -> Body:
    alive = [b for b in candidates if b.alive_on(on)]
    pool = alive or candidates
    return max(pool, key=lambda b: b.start or "0000")


@lru_cache(maxsize=4)
def _from_mirror(mirror: Path) -> Bodies:
    register = pd.read_csv(mirror / REGISTER, dtype=str, keep_default_na=False)
    names = pd.read_csv(mirror / NAME_LOOKUP, dtype=str, keep_default_na=False)
    return Bodies(register, names)


@lru_cache(maxsize=4)
def _lsoa_frame(mirror: Path) -> pd.DataFrame:
    return pd.read_csv(mirror / LSOA_LOOKUP, dtype=str, keep_default_na=False)


# -- central government -------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _central_rules() -> tuple[tuple[re.Pattern[str], str], ...]:
    path = REFERENCE_DIR / "codes" / "agency_types.csv"
    rules: list[tuple[re.Pattern[str], str]] = []
    with path.open(encoding="utf-8") as fh:
        lines = (ln for ln in fh if not ln.startswith("#"))
        for row in csv.DictReader(lines):
            if row["level"] in ("*", "CG") and row["function"] == "*":
                rules.append((re.compile(row["department"], re.IGNORECASE), row["agency_type"]))
    return tuple(rules)


def central_agency_type(department: str) -> str:
    """Agency type of a central-government body by name (rules in data/codes/agency_types.csv)."""
    for pattern, agency_type in _central_rules():
        if pattern.search(department):
            return agency_type
    return "Other central government"
