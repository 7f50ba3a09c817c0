"""The code lists in ``data/codes`` (CRA region labels, agency-type rules) and the E-code register.

Small, read once and cached per folder. Lines starting with ``#`` in a code list are comments.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from totalplace.config import REFERENCE_DIR
from totalplace.errors import InputFileError

#: mySociety's register of councils past and present (in the data mirror).
MYSOCIETY_REGISTER = "lookups/mysociety_uk_local_authorities_past_current.csv"


def read_code_list(path: Path) -> list[dict[str, str]]:
    """Rows of a code-list CSV, skipping ``#`` comment lines; values stripped."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise InputFileError(path, f"code list cannot be read ({exc.strerror or exc})") from exc
    body = "\n".join(line for line in lines if line.strip() and not line.lstrip().startswith("#"))
    return [
        {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        for row in csv.DictReader(io.StringIO(body))
    ]


# -- CRA regions --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Region:
    """One CRA / PESA region label resolved to an area."""

    label: str
    area_code: str
    area_name: str
    area_level: str
    nuts1: str


_ENGLAND_PREFIX = re.compile(r"^england[\s_:-]+")
_PUNCT = re.compile(r"[^0-9a-z]+")


def normalise_region_label(label: object) -> str:
    """'ENGLAND_Yorkshire and The Humber' -> 'yorkshire and the humber'; 'SCOTLAND' -> 'scotland'.

    Lower case, the 'ENGLAND_' prefix dropped, punctuation to single spaces.
    """
    s = " ".join(str(label or "").split()).casefold()
    s = _ENGLAND_PREFIX.sub("", s)
    return _PUNCT.sub(" ", s).strip()


@lru_cache(maxsize=8)
def cra_regions(reference_dir: Path = REFERENCE_DIR) -> dict[str, Region]:
    """Normalised CRA region label -> Region, from ``codes/cra_regions.csv``."""
    rows = read_code_list(reference_dir / "codes" / "cra_regions.csv")
    return {
        normalise_region_label(r["label"]): Region(
            r["label"], r["area_code"], r["area_name"], r["area_level"], r.get("nuts1", "")
        )
        for r in rows
    }


def cra_region(label: object, reference_dir: Path = REFERENCE_DIR) -> Region | None:
    """The region a CRA label names, or None when the code list does not know it."""
    return cra_regions(reference_dir).get(normalise_region_label(label))


# -- agency types -------------------------------------------------------------------------------
@dataclass(frozen=True)
class AgencyTypeRule:
    """One line of ``codes/agency_types.csv``: department regex, level, function prefix."""

    department: re.Pattern[str]
    level: str
    function: str
    agency_type: str

    def matches(self, department: str, level: str, function_code: str | None) -> bool:
        """Does the rule cover this department, level ('CG', 'LG', 'PC', 'BOE') and function?

        ``function_code`` is the most specific code known ('3.1' in CRA 2014, '3' in CRA 2010);
        a rule '3' covers '3' and '3.1'; a rule '1' does not cover '10'.
        """
        if self.level != "*" and self.level.upper() != level.upper():
            return False
        if self.function != "*":
            code = function_code or ""
            if code != self.function and not code.startswith(self.function + "."):
                return False
        return bool(self.department.search(department))


@lru_cache(maxsize=8)
def agency_type_rules(reference_dir: Path = REFERENCE_DIR) -> tuple[AgencyTypeRule, ...]:
    """The rules of ``codes/agency_types.csv``, in order (the first match wins)."""
    path = reference_dir / "codes" / "agency_types.csv"
    rules = []
    for r in read_code_list(path):
        try:
            pattern = re.compile(r["department"], re.IGNORECASE)
        except re.error as exc:
            raise InputFileError(
                path, f"bad department pattern {r['department']!r}: {exc}"
            ) from exc
        rules.append(AgencyTypeRule(pattern, r["level"], r["function"], r["agency_type"]))
    return tuple(rules)


def agency_type_for(
    department: str,
    level: str,
    function_code: str | None,
    reference_dir: Path = REFERENCE_DIR,
) -> str:
    """Agency type of a CRA line: the first matching rule ('Other central government' if none)."""
    for rule in agency_type_rules(reference_dir):
        if rule.matches(department, level, function_code):
            return rule.agency_type
    return "Other central government"


# -- E-codes --------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def ecode_to_gss(register: Path) -> dict[str, str]:
    """DCLG E-code -> GSS code from mySociety's register (columns ``ecode``, ``gss-code``).

    Authorities the register lacks (police, fire, waste, transport and park authorities) are
    absent from the mapping.
    """
    try:
        with register.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise InputFileError(register, f"cannot be read ({exc.strerror or exc})") from exc
    if rows and not {"ecode", "gss-code"} <= set(rows[0]):
        raise InputFileError(register, "has no 'ecode' and 'gss-code' columns")
    return {
        r["ecode"].strip().upper(): r["gss-code"].strip()
        for r in rows
        if (r.get("ecode") or "").strip() and (r.get("gss-code") or "").strip()
    }
