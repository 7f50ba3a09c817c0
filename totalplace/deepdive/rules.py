"""Theme files: the deep dive's rules as data (data/themes/<id>.toml), loaded and validated.

A theme names the population it serves (a driver from data/codes/drivers.csv), what spend is
*relevant* to it, and weighted rules. A rule matches count lines and assigns a share of each
matched line to the theme: a fixed fraction, the theme population's share of the place's
population (``share_by``), or a ratio measured on the place's own HM Treasury CRA lines
(``share_ratio``). Every rule says why: a published ``source`` or an ``assumption`` in words.

Matching, all criteria ANDed, a list means any of its values::

    function_code = ["10"]          # COFOG division, exact
    subfunction = ["10.2"]          # prefix of the sub-function text ('10.2 Old age')
    service_line = ["Social care"]  # council outturn line, exact (case-insensitive)
    agency_type = ["Councils"]      # exact (case-insensitive)
    spend_kind = ["current"]        # 'current' / 'capital'
    basis = ["actual"]              # 'actual' (own outturn) / 'apportioned' (CRA)
    source_id = ["cra_2010"]        # the release or source the line comes from
    agency = "Work and Pensions"    # regular expression, case-insensitive
    description = "STATE PENSION"   # regular expression, case-insensitive
    exclude = { description = "CHRISTMAS" }   # lines matching this are left out
    exclude = [{ subfunction = ["9.4"] }, { description = "HEFCE" }]   # ... any of these
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from totalplace.config import REFERENCE_DIR
from totalplace.count.drivers import builtin_drivers
from totalplace.errors import TotalPlaceError

THEMES_DIR = REFERENCE_DIR / "themes"
MODES = ("reactive", "preventative")
CONTROLS = ("local", "national")
#: Criteria compared exactly (case-insensitive) with any value of a list.
EXACT_KEYS = ("function_code", "service_line", "agency_type", "spend_kind", "basis", "source_id")
#: Criteria that are prefixes of the line's text.
PREFIX_KEYS = ("subfunction",)
#: Criteria that are regular expressions (case-insensitive, searched anywhere).
REGEX_KEYS = ("agency", "description")
MATCH_KEYS = (*EXACT_KEYS, *PREFIX_KEYS, *REGEX_KEYS)
THEME_KEYS = {"id", "name", "population", "description", "sources", "notes", "relevant", "rule"}
RULE_KEYS = {
    "id",
    "label",
    "match",
    "share",
    "share_by",
    "share_ratio",
    "mode",
    "control",
    "service_type",
    "source",
    "assumption",
    "note",
}


class ThemeError(TotalPlaceError):
    """A theme file is missing, unreadable or breaks a rule of the format."""


@dataclass(frozen=True)
class Matcher:
    """Which count lines a rule (or a theme's 'relevant' definition) covers."""

    exact: tuple[tuple[str, tuple[str, ...]], ...] = ()
    prefixes: tuple[str, ...] = ()
    regex: tuple[tuple[str, str], ...] = ()
    exclude: tuple[Matcher, ...] = ()

    def mask(self, lines: pd.DataFrame | LineText) -> pd.Series:
        """Boolean Series over ``lines``: True where every criterion holds."""
        text = lines if isinstance(lines, LineText) else LineText(lines)
        return pd.Series(self.hits(text), index=text.index, dtype=bool)

    def hits(self, text: LineText) -> np.ndarray:
        """The mask as a boolean array, each criterion tested once per distinct text value."""
        ok = np.ones(len(text), dtype=bool)
        for key, values in self.exact:
            ok &= text.test(key, ("in", tuple(sorted({v.casefold() for v in values}))))
        if self.prefixes:
            pattern = "|".join(rf"^{re.escape(p)}(?![0-9A-Za-z])" for p in self.prefixes)
            ok &= text.test("subfunction", ("regex", pattern))
        for key, pattern in self.regex:
            ok &= text.test(key, ("regex", pattern))
        for ex in self.exclude:
            ok &= ~ex.hits(text)
        return ok

    def describe(self) -> str:
        """The criteria in words, e.g. ``agency_type in [Councils] and subfunction starts 10.2``."""
        parts = [f"{k} in [{', '.join(v)}]" for k, v in self.exact]
        if self.prefixes:
            parts.append(f"subfunction starts [{', '.join(self.prefixes)}]")
        parts += [f"{k} ~ /{p}/" for k, p in self.regex]
        text = " and ".join(parts) or "every line"
        if self.exclude:
            text += ", except " + " or ".join(f"({e.describe()})" for e in self.exclude)
        return text


def _text(lines: pd.DataFrame, column: str) -> pd.Series:
    """A column as the text criteria read it: missing values (or a missing column) as ''."""
    if column not in lines.columns:
        return pd.Series("", index=lines.index, dtype=str)
    return lines[column].astype(object).where(lines[column].notna(), "").astype(str)


#: A criterion on one column: ('in', casefolded values) or ('regex', pattern, case-insensitive).
Test = tuple[str, Any]


def _test_values(values: pd.Series, test: Test) -> np.ndarray:
    """``test`` on a Series of text: the one place a criterion's meaning is written down.

    'in': the casefolded text is one of the values (``str.casefold``, as pandas' own
    ``.str.casefold()`` does, without its per-call cost); 'regex': pandas' case-insensitive
    ``str.contains``, so patterns mean what they always have.
    """
    kind, arg = test
    if kind == "in":
        wanted = set(arg)
        return np.fromiter((v.casefold() in wanted for v in values.tolist()), bool, len(values))
    return values.str.contains(arg, case=False, regex=True).to_numpy(dtype=bool)


def _distinct_text(lines: pd.DataFrame, column: str) -> tuple[np.ndarray, pd.Series]:
    """``_text(lines, column)`` as codes per row and distinct values (codes index values).

    A column of text (and missing values) is factorised as it is and only its distinct values
    are made text, missing ones as ''; any other column (numbers, where 1 and 1.0 would share
    a code but not a text) is made text first, row by row.
    """
    if column in lines.columns:
        values = lines[column]
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        distinct = list(uniques)
        if isinstance(values.dtype, pd.StringDtype) or all(isinstance(v, str) for v in distinct):
            codes = np.where(codes < 0, len(distinct), codes)
            return codes, pd.Series([*distinct, ""], dtype=str)
    codes, uniques = pd.factorize(_text(lines, column))
    return np.asarray(codes), pd.Series(uniques, dtype=str)


class LineText:
    """The text of a frame's match columns, each criterion evaluated on distinct values.

    Count lines repeat every source line once per district, and a column holds a few hundred
    distinct texts over thousands of rows, so each column is turned into text and factorised
    once (codes per row, distinct values), a criterion is tested on the distinct values only
    and broadcast back by code, and each (column, criterion) result is kept for the rules that
    repeat it. The answer is the straightforward per-row evaluation's (``_test_values`` on the
    whole column), in a fraction of the time.
    """

    def __init__(self, lines: pd.DataFrame) -> None:
        self.frame = lines
        self.index = lines.index
        self._columns: dict[str, tuple[np.ndarray, pd.Series]] = {}
        self._tests: dict[tuple[str, Test], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.index)

    def column(self, name: str) -> tuple[np.ndarray, pd.Series]:
        """Per-row codes into the column's distinct text values, and those values."""
        if name not in self._columns:
            self._columns[name] = _distinct_text(self.frame, name)
        return self._columns[name]

    def test(self, name: str, test: Test) -> np.ndarray:
        """Boolean array over the rows: ``test`` holds for the row's text in column ``name``."""
        key = (name, test)
        if key not in self._tests:
            codes, values = self.column(name)
            on_values = _test_values(values, test)
            self._tests[key] = on_values[codes] if len(values) else np.zeros(len(self), bool)
        return self._tests[key]


@dataclass(frozen=True)
class Share:
    """How much of a matched line goes to the theme.

    ``fixed``: a fraction of every matched line. ``driver``: the driver population's share of
    the place's whole population. ``numerator``/``denominator``: a ratio of two sums of the
    place's CRA lines (before councils' outturn replaces any).
    """

    fixed: Fraction | None = None
    driver: str | None = None
    numerator: Matcher | None = None
    denominator: Matcher | None = None

    @property
    def kind(self) -> str:
        if self.fixed is not None:
            return "fixed"
        return "population" if self.driver is not None else "ratio"

    def describe(self) -> str:
        if self.fixed is not None:
            return f"{float(self.fixed):.1%} of each line"
        if self.driver is not None:
            label = builtin_drivers()[self.driver].population_label
            return f"{label} as a share of the place's population"
        assert self.numerator is not None and self.denominator is not None
        return (
            f"ratio in the place's CRA lines: ({self.numerator.describe()}) / "
            f"({self.denominator.describe()})"
        )


@dataclass(frozen=True)
class Rule:
    """One weighted rule of a theme."""

    id: str
    label: str
    match: Matcher
    share: Share
    mode: str
    control: str
    service_type: str
    source: str | None = None
    assumption: str | None = None
    note: str | None = None

    @property
    def evidence(self) -> str:
        """'source: …' or 'assumption: …' (exactly one is given in the file)."""
        return f"source: {self.source}" if self.source else f"assumption: {self.assumption}"


@dataclass(frozen=True)
class Theme:
    """A deep-dive theme: its population, what spend is relevant, and its rules."""

    id: str
    name: str
    population: str
    description: str
    rules: tuple[Rule, ...]
    relevant: tuple[Matcher, ...]
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    path: Path | None = field(default=None, compare=False)

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)

    def relevant_mask(self, lines: pd.DataFrame | LineText) -> pd.Series:
        """Lines relevant to the theme: any of the ``[[relevant]]`` definitions."""
        text = lines if isinstance(lines, LineText) else LineText(lines)
        ok = np.zeros(len(text), dtype=bool)
        for m in self.relevant:
            ok |= m.hits(text)
        return pd.Series(ok, index=text.index, dtype=bool)

    def relevant_text(self) -> str:
        return " or ".join(f"({m.describe()})" for m in self.relevant)


# -- loading -------------------------------------------------------------------------------


def theme_ids(themes_dir: Path = THEMES_DIR) -> list[str]:
    """Ids of the built-in themes (file names in data/themes), sorted."""
    return sorted(p.stem for p in themes_dir.glob("*.toml"))


@lru_cache(maxsize=32)
def _load_path(path: Path) -> Theme:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ThemeError(f"{path.name}: cannot read theme file ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{path.name}: not valid TOML ({exc})") from exc
    return theme_from_dict(data, path.name, path=path)


def load_theme(spec: str | Path, themes_dir: Path = THEMES_DIR) -> Theme:
    """A built-in theme by id (``older_people``) or a theme file by path."""
    path = Path(spec)
    if path.suffix == ".toml" and path.is_file():
        return _load_path(path.resolve())
    candidate = themes_dir / f"{spec}.toml"
    if candidate.is_file():
        return _load_path(candidate.resolve())
    known = ", ".join(theme_ids(themes_dir)) or "none"
    raise ThemeError(
        f"unknown theme {str(spec)!r}: built-in themes are {known}, "
        "or give the path of a .toml theme file"
    )


def builtin_themes(themes_dir: Path = THEMES_DIR) -> dict[str, Theme]:
    """Every built-in theme, keyed by id."""
    return {i: load_theme(i, themes_dir) for i in theme_ids(themes_dir)}


def theme_from_dict(data: Mapping[str, Any], where: str, path: Path | None = None) -> Theme:
    """Validate a parsed theme file; errors name the file and the rule."""
    _unknown(data, THEME_KEYS, where)
    for key in ("id", "name", "population"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ThemeError(f"{where}: '{key}' is required (text)")
    population = data["population"]
    _known_driver(population, where, "population")
    rel = data.get("relevant")
    if isinstance(rel, Mapping):
        rel = [rel]
    if not isinstance(rel, list) or not rel:
        raise ThemeError(
            f"{where}: '[[relevant]]' is required: the spend the theme covers, "
            'e.g. relevant = { function_code = ["10", "7"] }'
        )
    relevant = tuple(_matcher(m, f"{where} [relevant]") for m in rel)
    raw_rules = data.get("rule")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ThemeError(f"{where}: a theme needs at least one [[rule]]")
    rules = tuple(_rule(r, where, i) for i, r in enumerate(raw_rules, start=1))
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise ThemeError(f"{where}: rule id {r.id!r} is used twice")
        seen.add(r.id)
    return Theme(
        id=data["id"],
        name=data["name"],
        population=population,
        description=str(data.get("description", "")),
        rules=rules,
        relevant=relevant,
        sources=tuple(_str_list(data.get("sources", []), where, "sources")),
        notes=tuple(_str_list(data.get("notes", []), where, "notes")),
        path=path,
    )


def _rule(raw: Any, where: str, n: int) -> Rule:
    if not isinstance(raw, Mapping):
        raise ThemeError(f"{where}: rule {n} is not a table")
    rid = raw.get("id")
    if not isinstance(rid, str) or not re.fullmatch(r"[a-z0-9_]+", rid):
        raise ThemeError(f"{where}: rule {n} needs an id of lower-case letters, digits and _")
    at = f"{where} rule {rid!r}"
    _unknown(raw, RULE_KEYS, at)
    if "match" not in raw:
        raise ThemeError(f"{at}: 'match' is required (which lines the rule covers)")
    match = _matcher(raw["match"], f"{at} match")
    if not (match.exact or match.prefixes or match.regex):
        raise ThemeError(f"{at}: 'match' must name at least one criterion")
    for key, allowed in (("mode", MODES), ("control", CONTROLS)):
        if raw.get(key) not in allowed:
            raise ThemeError(
                f"{at}: '{key}' must be one of {', '.join(allowed)} (got {raw.get(key)!r})"
            )
    for key in ("label", "service_type"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise ThemeError(f"{at}: '{key}' is required (text)")
    evidence = [k for k in ("source", "assumption") if raw.get(k)]
    if len(evidence) != 1 or not isinstance(raw[evidence[0]], str):
        raise ThemeError(
            f"{at}: give exactly one of 'source' (the published source) or 'assumption' (in words)"
        )
    return Rule(
        id=rid,
        label=raw["label"],
        match=match,
        share=_share(raw, at),
        mode=raw["mode"],
        control=raw["control"],
        service_type=raw["service_type"],
        source=raw.get("source"),
        assumption=raw.get("assumption"),
        note=raw.get("note"),
    )


def _share(raw: Mapping[str, Any], at: str) -> Share:
    given = [k for k in ("share", "share_by", "share_ratio") if k in raw]
    if len(given) != 1:
        raise ThemeError(
            f"{at}: give exactly one of 'share' (a fraction), 'share_by' (a "
            "driver) or 'share_ratio' (numerator and denominator)"
        )
    key = given[0]
    value = raw[key]
    if key == "share":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ThemeError(f"{at}: 'share' must be a number between 0 and 1")
        frac = Fraction(str(value))
        if not 0 < frac <= 1:
            raise ThemeError(f"{at}: 'share' must be above 0 and at most 1 (got {value})")
        return Share(fixed=frac)
    if key == "share_by":
        _known_driver(value, at, "share_by")
        return Share(driver=str(value))
    if not isinstance(value, Mapping) or set(value) != {"numerator", "denominator"}:
        raise ThemeError(f"{at}: 'share_ratio' needs exactly 'numerator' and 'denominator'")
    return Share(
        numerator=_matcher(value["numerator"], f"{at} share_ratio.numerator"),
        denominator=_matcher(value["denominator"], f"{at} share_ratio.denominator"),
    )


def _matcher(raw: Any, at: str) -> Matcher:
    if not isinstance(raw, Mapping):
        raise ThemeError(f"{at}: expected a table of criteria ({', '.join(MATCH_KEYS)})")
    _unknown(raw, {*MATCH_KEYS, "exclude"}, at)
    exact = tuple(
        (k, tuple(_str_list(raw[k], at, k, allow_one=True))) for k in EXACT_KEYS if k in raw
    )
    prefixes = tuple(
        _str_list(raw["subfunction"], at, "subfunction", allow_one=True)
        if "subfunction" in raw
        else []
    )
    regex: list[tuple[str, str]] = []
    for k in REGEX_KEYS:
        if k not in raw:
            continue
        if not isinstance(raw[k], str) or not raw[k]:
            raise ThemeError(f"{at}: '{k}' must be a regular expression (text)")
        try:
            re.compile(raw[k])
        except re.error as exc:
            raise ThemeError(f"{at}: '{k}' is not a valid regular expression ({exc})") from exc
        regex.append((k, raw[k]))
    ex = raw.get("exclude", [])
    ex = [ex] if isinstance(ex, Mapping) else ex
    if not isinstance(ex, list):
        raise ThemeError(f"{at}: 'exclude' must be a table or a list of tables of criteria")
    exclude = tuple(_matcher(e, f"{at}.exclude") for e in ex)
    return Matcher(exact=exact, prefixes=prefixes, regex=tuple(regex), exclude=exclude)


def _str_list(value: Any, at: str, key: str, allow_one: bool = False) -> list[str]:
    if allow_one and isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or not all(isinstance(v, str) and v for v in value)
    ):
        raise ThemeError(f"{at}: '{key}' must be a list of text values")
    return list(value)


def _unknown(data: Mapping[str, Any], allowed: set[str], at: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise ThemeError(
            f"{at}: unknown key(s) {', '.join(extra)} (allowed: {', '.join(sorted(allowed))})"
        )


def _known_driver(name: Any, at: str, key: str) -> None:
    known = builtin_drivers()
    if name not in known:
        raise ThemeError(
            f"{at}: '{key}' must be a driver from data/codes/drivers.csv "
            f"({', '.join(known)}); got {name!r}"
        )
