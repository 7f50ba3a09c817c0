"""Geography over time: codes of older vintages translated to April 2019 districts.

Old ONS (SNAC) codes (``29UB``, ``00HP``, ``19`` for a county), pre-2019 GSS codes of councils
merged since (``E07000048`` Christchurch → BCP) and earlier GSS codes a council used (Gateshead
``E08000020`` → ``E08000037``) are translated with the mySociety register and the ONS
code-change lookup, and every translation is said in words.
"""

from __future__ import annotations

import re

import pandas as pd

from totalplace.geography.footprints import successors

_SNAC = re.compile(r"^(\d{2}|\d{2}[A-Z]{2}|00[A-Z]{2})$")


def translate_codes(
    codes: list[str],
    districts: pd.DataFrame,
    register: pd.DataFrame,
    changes: pd.DataFrame,
    footprints: pd.DataFrame | None = None,
) -> tuple[list[str], list[str]]:
    """Codes as given, with older ones replaced by 2019 codes; plus notes of what changed."""
    now = set(districts["area_code"]) | set(districts["county_code"].dropna())
    now |= set(districts["region_code"])
    snac = dict(
        zip(
            register["snac"].dropna(),
            register.loc[register["snac"].notna(), "gss_code"],
            strict=True,
        )
    )
    former: dict[str, str] = {}
    for gss, old in zip(register["gss_code"], register["former_gss_codes"], strict=True):
        if isinstance(old, str) and isinstance(gss, str):
            for o in re.split(r"[,\s]+", old):
                if o:
                    former[o] = gss
    succ = successors(changes)
    out: list[str] = []
    notes: list[str] = []
    for code in codes:
        c = code.strip().upper()
        if c in now:
            out.append(c)
            continue
        new, how = c, ""
        if _SNAC.match(c) and c in snac:
            new, how = snac[c], "old ONS code"
        if new in former:
            new, how = former[new], how or "earlier GSS code"
        if new not in now and new in succ:
            new, how = succ[new], (how + ", " if how else "") + "merged in a later reorganisation"
        if new not in now and footprints is not None:
            areas = sorted(footprints.loc[footprints["agency_code"] == new, "area_code"])
            if areas:
                notes.append(
                    f"{c} → {', '.join(areas)} (abolished council: the 2019 districts "
                    "covering its area)"
                )
                out.extend(areas)
                continue
        if new != c:
            notes.append(f"{c} → {new} ({how})")
        out.append(new)
    return out, notes
