"""Crosswalks between the code systems UK councils are known by, from the mySociety register.

* **GSS** codes (ONS, 9 characters, since 2009): ``E06`` unitary, ``E07`` shire district,
  ``E08`` metropolitan district, ``E09`` London borough, ``E10`` shire county. The key used
  everywhere in totalplace. A council whose area changes gets a new code (Gateshead was
  E08000020, now E08000037).
* **SNAC** codes (old ONS "Standard Names and Codes", before 2011): 2 characters for shire
  counties (``29`` Kent), 4 for unitaries and met/London boroughs (``00CN`` Birmingham) and for
  shire districts (``29UB`` Ashford). Found in 2009-era boundary files.
* **E-codes** (DCLG/MHCLG, 5 characters, ``E2221`` Kent CC, ``E4601`` Birmingham): the key of
  local-authority finance returns (revenue outturn, RS/RO forms).
* mySociety's own 3-letter ``local-authority-code`` (``KEN``) joins its name lookup to the register.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

REGISTER = "lookups/mysociety_uk_local_authorities_past_current.csv"
NAME_LOOKUP = "lookups/mysociety_la_name_to_code_lookup.csv"

#: The date the tool's geography describes: a name two councils share goes to the one alive then.
REFERENCE_DATE = "2019-04-01"

_REGISTER_COLUMNS = {
    "local-authority-code": "la_code",
    "gss-code": "gss_code",
    "ecode": "ecode",
    "snac": "snac",
    "official-name": "name",
    "nice-name": "nice_name",
    "local-authority-type": "la_type",
    "start-date": "start_date",
    "end-date": "end_date",
    "replaced-by": "replaced_by",
    "former-gss-codes": "former_gss_codes",
}


def council_register(mirror: Path) -> pd.DataFrame:
    """UK councils past and present (470), one row each, with GSS, E-code and SNAC codes.

    Columns: ``la_code`` (mySociety 3-letter), ``gss_code, ecode, snac, name`` (official name),
    ``nice_name, la_type`` (CTY/NMD/MD/UA/LBO/...), ``start_date, end_date`` (ISO strings, None
    while open), ``replaced_by`` (3-letter codes, comma-separated) and ``former_gss_codes``.
    """
    return _register(Path(mirror)).copy()


def ecode_to_gss(mirror: Path) -> dict[str, str]:
    """DCLG E-code (``'E2221'``) → GSS code (``'E10000016'``) for every council that has both."""
    r = _register(Path(mirror))
    both = r[r["ecode"].notna() & r["gss_code"].notna()]
    return dict(zip(both["ecode"], both["gss_code"], strict=True))


def snac_to_gss(mirror: Path) -> dict[str, str]:
    """Old ONS SNAC code (``'00CN'``, ``'29'``) → GSS code, for councils that have both."""
    r = _register(Path(mirror))
    both = r[r["snac"].notna() & r["gss_code"].notna()]
    return dict(zip(both["snac"], both["gss_code"], strict=True))


def normalise_name(name: str) -> str:
    """Lower case, single spaces, '&' as 'and': the form the name lookup is keyed by."""
    text = name.replace("&", " and ").lower().strip()
    return re.sub(r"\s+", " ", text)


def name_to_gss(mirror: Path) -> dict[str, str]:
    """Lower-cased council name variants (``'kent county council'``, ``'kent'``) → GSS code.

    Variants come from mySociety's name lookup plus each council's official and nice names.
    A name two councils share ('somerset', 'north yorkshire') goes to the council that existed
    on ``REFERENCE_DATE`` (the county in 2019, not the 2023 unitary).
    """
    return dict(_name_to_gss(Path(mirror)))


@lru_cache(maxsize=4)
def _register(mirror: Path) -> pd.DataFrame:
    raw = pd.read_csv(mirror / REGISTER, dtype=str, keep_default_na=False)
    out = raw[list(_REGISTER_COLUMNS)].rename(columns=_REGISTER_COLUMNS)
    out = out.astype(object)
    return out.where(out.map(lambda v: isinstance(v, str) and v.strip() != ""), None)


@lru_cache(maxsize=4)
def _name_to_gss(mirror: Path) -> tuple[tuple[str, str], ...]:
    reg = _register(mirror)
    lookup = pd.read_csv(mirror / NAME_LOOKUP, dtype=str, keep_default_na=False)
    names = pd.concat(
        [
            lookup.rename(columns={"la-name": "variant", "local-authority-code": "la_code"}),
            reg[["name", "la_code"]].rename(columns={"name": "variant"}),
            reg[["nice_name", "la_code"]].rename(columns={"nice_name": "variant"}),
        ]
    )
    names = names[names["variant"].notna()]
    names = names.assign(variant=names["variant"].map(normalise_name)).drop_duplicates()
    joined = names.merge(reg, on="la_code")
    joined = joined[joined["gss_code"].notna()]
    start = joined["start_date"].fillna("0000-00-00")
    end = joined["end_date"].fillna("9999-99-99")
    joined = joined.assign(
        alive=(start <= REFERENCE_DATE) & (end > REFERENCE_DATE), start_key=start
    ).sort_values(["variant", "alive", "start_key"], ascending=[True, False, False])
    best = joined.drop_duplicates("variant")
    return tuple(zip(best["variant"], best["gss_code"], strict=True))
