"""Grants published to the 360Giving standard (JSON ``{"grants": [...]}`` or the flat CSV).

One ledger row per grant, placed in the district (lower-tier or unitary council area) it
benefits: ``beneficiaryLocation`` is preferred over the recipient's own location; LSOA and data
zone codes go to their council through mySociety's LSOA lookup; district codes are used as they
are; a location whose ``geoCode`` and ``geoCodeType`` are swapped (type ``E08000021``, code
``MD``) is read the right way round. agency = the funder, counterparty = the recipient.
A grant in another currency, or with no district to place it in, is quarantined with the reason.
The row number of a JSON grant is its position in the ``grants`` list (1-based).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from totalplace.errors import InputFileError
from totalplace.ingest.base import Adapter, ParseContext, ParseResult
from totalplace.ingest.bodies import GSS_RE, Bodies, area_level_of
from totalplace.ingest.tabular import LedgerRows, Limits, check_size, open_table, sniff_header
from totalplace.ingest.values import (
    check_plausible_date,
    financial_year,
    parse_amount_pence,
    parse_date,
    plausible_years,
)

AGENCY_TYPE = "Grant-makers (360Giving)"
_LOCATION = re.compile(
    r"^(beneficiary location|recipient org location)( \d+)? (geographic code type|"
    r"geographic code|name)$"
)
_FLAT = {
    "identifier": "id",
    "title": "title",
    "description": "description",
    "currency": "currency",
    "amount awarded": "amountAwarded",
    "award date": "awardDate",
    "grant programme title": "programme",
    "funding org identifier": "funder_id",
    "funding org name": "funder",
    "recipient org identifier": "recipient_id",
    "recipient org name": "recipient",
}
_GEO_KEYS = {"geographic code": "geoCode", "geographic code type": "geoCodeType", "name": "name"}


def is_360_header(keys: list[str]) -> bool:
    """360Giving's "Amount Awarded" and a funding organisation's name or identifier."""
    present = set(keys)
    return "amount awarded" in present and bool(
        present & {"funding org name", "funding org identifier"}
    )


class Grants360Adapter(Adapter):
    """360Giving grants (JSON or CSV), placed in the districts they benefit."""

    name = "grants360"
    title = "360Giving grants (JSON or CSV)"
    suffixes: ClassVar[tuple[str, ...]] = (".json", ".csv")

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.suffix.lower() == ".json":
            return b'"grants"' in head and (
                b'"amountAwarded"' in head or b'"fundingOrganization"' in head
            )
        if path.suffix.lower() != ".csv":
            return False
        return sniff_header(path, head, is_360_header, hint=b"awarded")

    def parse(self, path: Path, context: ParseContext) -> ParseResult:
        limits = Limits.from_options(context.options)
        is_json = path.suffix.lower() == ".json" or _looks_json(path)
        grants = _json_grants(path, limits) if is_json else None
        placer = Placer(Bodies.from_options(context.options))
        agency_type = str(context.options.get("agency_type") or AGENCY_TYPE)
        years = plausible_years(context.options)
        result = ParseResult()
        out = LedgerRows()
        if grants is not None:
            for number, grant, raw in grants:
                result.rows_read += 1
                try:
                    out.add(_ledger_row(grant, placer, agency_type, number, years))
                except ValueError as exc:
                    result.quarantine_row(number, str(exc), raw())
            result.notes.append(grants.numbering)
        else:
            with open_table(
                path,
                is_360_header,
                limits=limits,
                expected="'Amount Awarded' and 'Funding Org' columns",
            ) as table:
                to_grant = _flat_reader(table.keys)
                for line, cells in table.rows(result):
                    try:
                        out.add(_ledger_row(to_grant(cells), placer, agency_type, line, years))
                    except ValueError as exc:
                        table.quarantine(result, line, str(exc), cells)
                table.finish(result)
        out.into(result)
        result.notes.extend(placer.summary(result.rows_read))
        return result


def _looks_json(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"["))


_GRANTS_KEY = re.compile(r'"grants"\s*:\s*\[')
_BETWEEN = re.compile(r"[\s,]*")


class _JsonGrants:
    """The grants of a 360Giving JSON file, each with the line it starts on and its text.

    Grants are decoded one by one from the ``grants`` array (``raw_decode``), so each keeps its
    position: the row number is the line where the grant starts, or, when grants share lines
    (minified JSON), its position in the list.
    """

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text
        start = _GRANTS_KEY.search(text)
        if start is None and text.lstrip().startswith("["):
            self.start = text.index("[") + 1
        elif start is None:
            raise InputFileError(path, "has no 'grants' list (not a 360Giving file)")
        else:
            self.start = start.end()
        self.spans: list[tuple[int, int, int]] = []  # (line, start, end)
        self.grants: list[Any] = []
        self._decode()
        lines = [line for line, _s, _e in self.spans]
        self.by_line = len(set(lines)) == len(lines)
        self.numbering = (
            "row numbers are the lines where grants start"
            if self.by_line
            else "row numbers are grants' positions in the list (grants share lines)"
        )

    def _decode(self) -> None:
        decoder, text = json.JSONDecoder(), self.text
        pos, line, counted = self.start, 1 + text.count("\n", 0, self.start), self.start
        while True:
            pos = _BETWEEN.match(text, pos).end()  # type: ignore[union-attr]
            if pos >= len(text):
                raise InputFileError(self.path, "the grants list is not closed (truncated?)")
            if text[pos] == "]":
                return
            line += text.count("\n", counted, pos)
            counted = pos
            try:
                grant, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise InputFileError(
                    self.path, f"is not readable JSON ({exc.msg})", line=exc.lineno
                ) from exc
            self.spans.append((line, pos, end))
            self.grants.append(grant)
            pos = end

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any], Callable[[], str]]]:
        for i, (grant, (line, start, end)) in enumerate(zip(self.grants, self.spans, strict=True)):
            body = grant if isinstance(grant, dict) else {}
            yield (line if self.by_line else i + 1), body, partial(self._raw, start, end)

    def _raw(self, start: int, end: int) -> str:
        return self.text[start:end]


def _json_grants(path: Path, limits: Limits) -> _JsonGrants:
    check_size(path, limits)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(path, f"is not UTF-8 JSON ({exc})") from exc
    return _JsonGrants(path, text)


def _flat_reader(keys: list[str]) -> Callable[[Any], dict[str, Any]]:
    """Turns a flat 360Giving CSV row into the JSON shape (first funder/recipient only)."""
    plain = [(i, _FLAT[k]) for i, k in enumerate(keys) if k in _FLAT]
    geo: list[tuple[int, str, str]] = []
    for i, k in enumerate(keys):
        m = _LOCATION.match(k)
        if m:
            owner = "beneficiaryLocation" if m.group(1).startswith("beneficiary") else "recipient"
            geo.append((i, f"{owner}{m.group(2) or ' 0'}", _GEO_KEYS[m.group(3)]))

    def to_grant(cells: Any) -> dict[str, Any]:
        flat = {name: cells[i] for i, name in plain}
        places: dict[str, dict[str, Any]] = {}
        for i, slot, key in geo:
            if cells[i] not in (None, ""):
                places.setdefault(slot, {})[key] = cells[i]
        recipient = {
            "id": flat.get("recipient_id"),
            "name": flat.get("recipient"),
            "location": [v for k, v in places.items() if k.startswith("recipient")],
        }
        return {
            **{
                k: flat.get(k)
                for k in ("id", "title", "description", "currency", "amountAwarded", "awardDate")
            },
            "fundingOrganization": [{"id": flat.get("funder_id"), "name": flat.get("funder")}],
            "recipientOrganization": [recipient],
            "beneficiaryLocation": [
                v for k, v in places.items() if k.startswith("beneficiaryLocation")
            ],
            "grantProgramme": [{"title": flat["programme"]}] if flat.get("programme") else [],
        }

    return to_grant


def _first(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        value = value[0] if value else {}
    return value if isinstance(value, dict) else {}


def _ledger_row(
    grant: dict[str, Any], placer: Placer, agency_type: str, row: int, years: tuple[int, int]
) -> tuple:
    currency = str(grant.get("currency") or "GBP").strip().upper()
    if currency != "GBP":
        raise ValueError(f"currency {currency}: not summed as pounds")
    pence = parse_amount_pence(grant.get("amountAwarded"))
    day = check_plausible_date(parse_date(grant.get("awardDate")), years)
    funder = _first(grant.get("fundingOrganization"))
    if not funder.get("name"):
        raise ValueError("the grant names no funding organisation")
    recipient = _first(grant.get("recipientOrganization"))
    code, name, level = placer.place(grant)
    programme = _first(grant.get("grantProgramme")).get("title")
    return (
        financial_year(day),
        day,
        code,
        name,
        level,
        str(funder["name"]).strip(),
        funder.get("id"),
        agency_type,
        None,
        programme,
        recipient.get("name"),
        grant.get("title"),
        pence,
        row,
    )


class Placer:
    """Finds the one district a grant benefits, counting how each was found."""

    def __init__(self, bodies: Bodies) -> None:
        self.bodies = bodies
        self.how: Counter[str] = Counter()

    def place(self, grant: Mapping[str, Any]) -> tuple[str, str | None, str]:
        """(area_code, area_name, area_level); ValueError with the reason when there is none."""
        problems: list[str] = []
        sources = (
            ("beneficiary", grant.get("beneficiaryLocation")),
            ("recipient", _first(grant.get("recipientOrganization")).get("location")),
        )
        for owner, locations in sources:
            if not isinstance(locations, list) or not locations:
                continue
            found: dict[str, tuple[str, str | None, str]] = {}
            hows: list[str] = []
            for loc in locations:
                placed = self._one(loc if isinstance(loc, dict) else {}, problems)
                if placed is not None:
                    found[placed[0][0]] = placed[0]
                    hows.append(placed[1])
            if len(found) == 1:
                self.how[f"{owner} {hows[0]}"] += 1
                return next(iter(found.values()))
            if len(found) > 1:
                raise ValueError(
                    f"{owner} locations span {len(found)} districts "
                    f"({', '.join(sorted(found))}): not split"
                )
        if not problems:
            problems.append("the grant gives no location")
        raise ValueError("no district to place the grant in: " + "; ".join(problems))

    def _one(
        self, loc: Mapping[str, Any], problems: list[str]
    ) -> tuple[tuple[str, str | None, str], str] | None:
        code = str(loc.get("geoCode") or "").strip().upper()
        kind = str(loc.get("geoCodeType") or "").strip()
        how = ""
        if GSS_RE.match(kind.upper()) and not GSS_RE.match(code):
            code, kind, how = kind.upper(), code, " (geoCode/geoCodeType swapped)"
        label = loc.get("name") or code or "?"
        if not code:
            named = self.bodies.resolve(label) if loc.get("name") else None
            if named is not None and area_level_of(named.gss) == "district":
                return (named.gss, named.area_name, "district"), "council name" + how
            problems.append(f"location {label!r} has no geographic code")
            return None
        level = area_level_of(code)
        if level == "lsoa":
            body = self.bodies.district_for_lsoa(code)
            if body is None:
                problems.append(f"{code} is not in the LSOA lookup")
                return None
            return (body.gss, body.area_name, "district"), "LSOA" + how
        if level in ("district", "upper_tier"):
            body = self.bodies.resolve(code)
            return (code, body.area_name if body else None, level), "district code" + how
        problems.append(f"{code} ({kind or 'no type'}) is not a district, LSOA or county code")
        return None

    def summary(self, total: int) -> list[str]:
        placed = sum(self.how.values())
        parts = ", ".join(f"{n:,} by {how}" for how, n in self.how.most_common())
        return [
            f"{placed:,} of {total:,} grants placed in a district" + (f": {parts}" if parts else "")
        ]
