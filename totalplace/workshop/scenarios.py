"""The scenario engine: pure functions over a baseline (agency_type, function, amount_pence).

A scenario is a named list of changes applied in order to a copy of the baseline; the baseline
itself is never changed. Money is exact: cells are Python integers in pence, percentages are
Decimals rounded half-up to the penny, and every move conserves the total to the penny.

Kinds of change: ``Move`` (an amount or a percentage between two cells), ``SetAmount`` (a cell set
to an amount, e.g. an accepted challenge), ``ChangeDriver`` (recorded; applied only when the caller
passes the baseline recomputed with that driver) and ``InvestToSave`` (an investment in one cell
with a published ratio of savings in another, giving a per-year table of costs and savings).
"""

from __future__ import annotations

import csv
import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from totalplace.config import REFERENCE_DIR
from totalplace.count.result import CountResult
from totalplace.errors import TotalPlaceError

BASELINE_COLUMNS = ("agency_type", "function", "amount_pence")
COMPARE_COLUMNS = (
    "agency_type",
    "function",
    "baseline_pence",
    "scenario_pence",
    "difference_pence",
    "difference_pct",
)
INVEST_COLUMNS = (
    "year",
    "cost_pence",
    "saving_pence",
    "cashable_saving_pence",
    "net_pence",
    "cumulative_net_pence",
)
EVIDENCE_PATH = REFERENCE_DIR / "evidence" / "invest_to_save.csv"
MAX_YEARS = 50


class ScenarioError(TotalPlaceError):
    """A change cannot be applied (unknown cell, negative result, bad percentage...)."""


# -- values -------------------------------------------------------------------------------------
def gbp(pence: int) -> str:
    """Exact pounds for messages: -123456 -> '-£1,234.56'."""
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(int(pence)), 100)
    return f"{sign}£{whole:,}.{part:02d}"


def _pence(value: Any, what: str) -> int:
    """A whole number of pence (ints, or integral Decimals/floats); anything else is refused."""
    if isinstance(value, bool):
        raise ScenarioError(f"{what} must be a whole number of pence, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)) and value == value and value == int(value):
        return int(value)
    raise ScenarioError(f"{what} must be a whole number of pence, not {value!r}")


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ScenarioError(f"{what} must be a number, not {value!r}")
    try:
        out = Decimal(str(value).strip())
    except InvalidOperation:
        raise ScenarioError(f"{what} must be a number, not {value!r}") from None
    if not out.is_finite():
        raise ScenarioError(f"{what} must be a finite number, not {value!r}")
    return out


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, order=True)
class CellRef:
    """One cell of a baseline: an agency type and a function (or a theme in a deep dive)."""

    agency_type: str
    function: str

    def __post_init__(self) -> None:
        for name in ("agency_type", "function"):
            v = getattr(self, name)
            if not isinstance(v, str) or not v.strip():
                raise ScenarioError(f"a cell needs a non-empty {name}, not {v!r}")

    @property
    def label(self) -> str:
        return f"{self.agency_type} × {self.function}"

    def to_dict(self) -> dict[str, str]:
        return {"agency_type": self.agency_type, "function": self.function}

    @classmethod
    def parse(cls, value: Any) -> CellRef:
        if isinstance(value, CellRef):
            return value
        if isinstance(value, Mapping):
            agency, function = value.get("agency_type"), value.get("function")
            return cls(
                agency if isinstance(agency, str) else "",
                function if isinstance(function, str) else "",
            )
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return cls(value[0], value[1])
        raise ScenarioError(f"not a cell (agency_type, function): {value!r}")


# -- changes ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Move:
    """Move ``amount_pence`` or ``percent`` (0-100) of ``from_cell`` to ``to_cell``: the total
    is conserved to the penny."""

    kind: ClassVar[str] = "move"
    from_cell: CellRef
    to_cell: CellRef
    amount_pence: int | None = None
    percent: Decimal | None = None
    allow_negative: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        if self.from_cell == self.to_cell:
            raise ScenarioError(f"move: from and to the same cell ({self.from_cell.label})")
        if (self.amount_pence is None) == (self.percent is None):
            raise ScenarioError("move: give exactly one of amount_pence or percent")
        if self.amount_pence is not None:
            amount = _pence(self.amount_pence, "move: amount_pence")
            if amount < 0:
                raise ScenarioError(
                    f"move: amount must not be negative ({gbp(amount)}); swap the cells"
                )
            object.__setattr__(self, "amount_pence", amount)
        if self.percent is not None:
            pct = _decimal(self.percent, "move: percent")
            if not Decimal(0) <= pct <= Decimal(100):
                raise ScenarioError(f"move: percent must be between 0 and 100, not {pct}")
            object.__setattr__(self, "percent", pct)


@dataclass(frozen=True)
class SetAmount:
    """Set ``cell`` to ``amount_pence`` (a correction, e.g. from an accepted challenge)."""

    kind: ClassVar[str] = "set"
    cell: CellRef
    amount_pence: int
    allow_negative: bool = False
    source: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        amount = _pence(self.amount_pence, "set: amount_pence")
        if amount < 0 and not self.allow_negative:
            raise ScenarioError(
                f"set: {self.cell.label} cannot be set to a negative amount ({gbp(amount)}) "
                "unless allow_negative"
            )
        object.__setattr__(self, "amount_pence", amount)


@dataclass(frozen=True)
class ChangeDriver:
    """Use driver ``replacement`` instead of ``current`` (for one cell, or the whole baseline).

    The engine cannot recompute an apportionment: it records the change, and applies it when the
    caller passes the baseline computed with ``replacement`` in ``alternatives``.
    """

    kind: ClassVar[str] = "driver"
    replacement: str
    current: str = ""
    cell: CellRef | None = None
    source: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.replacement, str) or not self.replacement.strip():
            raise ScenarioError("driver: name the replacement driver")


@dataclass(frozen=True)
class InvestToSave:
    """Invest in ``invest_cell`` to save ``ratio`` × the investment a year in ``saving_cell``.

    ``recurring``: the investment is repeated every year (e.g. housing support); otherwise it is
    one-off in year 1 (e.g. adaptations). Savings run from ``saving_from_year`` to ``years``.
    Cashable savings reduce the saving cell in the scenario frame (which shows year 1); savings
    that are not cashable free capacity and are reported in the table only.
    """

    kind: ClassVar[str] = "invest_to_save"
    invest_cell: CellRef
    saving_cell: CellRef
    amount_pence: int
    ratio: Decimal
    years: int
    recurring: bool = False
    cashable: bool = True
    saving_from_year: int = 1
    evidence_id: str = ""
    allow_negative: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        amount = _pence(self.amount_pence, "invest to save: amount_pence")
        if amount <= 0:
            raise ScenarioError(
                f"invest to save: the investment must be positive, not {gbp(amount)}"
            )
        ratio = _decimal(self.ratio, "invest to save: ratio")
        if ratio < 0:
            raise ScenarioError(f"invest to save: the ratio must not be negative, not {ratio}")
        if isinstance(self.years, bool) or not isinstance(self.years, int):
            raise ScenarioError(f"invest to save: years must be a whole number, not {self.years!r}")
        if not 1 <= self.years <= MAX_YEARS:
            raise ScenarioError(f"invest to save: years must be 1 to {MAX_YEARS}, not {self.years}")
        if not 1 <= self.saving_from_year <= self.years:
            raise ScenarioError(
                f"invest to save: savings must start between year 1 and year {self.years}"
            )
        object.__setattr__(self, "amount_pence", amount)
        object.__setattr__(self, "ratio", ratio)

    def table(self) -> pd.DataFrame:
        """Per-year costs and savings in pence (year 1 first), with the cumulative net saving."""
        saving = _round(self.ratio * self.amount_pence)
        rows, cumulative = [], 0
        for year in range(1, self.years + 1):
            cost = self.amount_pence if (self.recurring or year == 1) else 0
            saved = saving if year >= self.saving_from_year else 0
            cumulative += saved - cost
            cashable = saved if self.cashable else 0
            rows.append((year, cost, saved, cashable, saved - cost, cumulative))
        return pd.DataFrame(rows, columns=list(INVEST_COLUMNS)).astype("int64")


Change = Move | SetAmount | ChangeDriver | InvestToSave
_KINDS: dict[str, type[Any]] = {c.kind: c for c in (Move, SetAmount, ChangeDriver, InvestToSave)}
_CELL_FIELDS = ("from_cell", "to_cell", "cell", "invest_cell", "saving_cell")


def change_to_dict(change: Change) -> dict[str, Any]:
    """JSON-able form (cells as dicts, Decimals as strings so they stay exact)."""
    out: dict[str, Any] = {"kind": change.kind}
    for name in change.__dataclass_fields__:
        value = getattr(change, name)
        if isinstance(value, CellRef):
            value = value.to_dict()
        elif isinstance(value, Decimal):
            value = str(value)
        out[name] = value
    return out


def change_from_dict(data: Mapping[str, Any]) -> Change:
    """The inverse of ``change_to_dict``; unknown kinds or fields are refused by name."""
    kind = data.get("kind")
    cls = _KINDS.get(str(kind))
    if cls is None:
        raise ScenarioError(f"unknown change kind {kind!r} (known: {', '.join(sorted(_KINDS))})")
    fields = {k: v for k, v in data.items() if k != "kind"}
    unknown = set(fields) - set(cls.__dataclass_fields__)
    if unknown:
        raise ScenarioError(f"{kind}: unknown field(s) {', '.join(sorted(unknown))}")
    for name in _CELL_FIELDS:
        if fields.get(name) is not None:
            fields[name] = CellRef.parse(fields[name])
    try:
        change: Change = cls(**fields)
    except TypeError as exc:
        raise ScenarioError(f"{kind}: {exc}") from None
    return change


def parse_changes(changes: Iterable[Change | Mapping[str, Any]]) -> list[Change]:
    """Changes given as dataclasses or dicts, validated; errors name the change's position."""
    out: list[Change] = []
    for i, c in enumerate(changes, start=1):
        try:
            out.append(
                c
                if isinstance(c, (Move, SetAmount, ChangeDriver, InvestToSave))
                else change_from_dict(c)
            )
        except ScenarioError as exc:
            raise ScenarioError(f"change {i}: {exc}") from None
    return out


# -- baselines ----------------------------------------------------------------------------------
def baseline_from_count(result: CountResult) -> pd.DataFrame:
    """A count's rows summed by agency type and function: the baseline for scenarios."""
    return normalise(result.rows[list(BASELINE_COLUMNS)])


def _cells(baseline: pd.DataFrame) -> dict[CellRef, int]:
    missing = [c for c in BASELINE_COLUMNS if c not in baseline.columns]
    if missing:
        raise ScenarioError(f"baseline lacks column(s): {', '.join(missing)}")
    cells: dict[CellRef, int] = {}
    for i, (agency, function, amount) in enumerate(
        zip(baseline["agency_type"], baseline["function"], baseline["amount_pence"], strict=True)
    ):
        try:
            cell = CellRef(agency, function)
        except ScenarioError as exc:
            raise ScenarioError(f"baseline row {i + 1}: {exc}") from None
        value = amount.item() if hasattr(amount, "item") else amount
        cells[cell] = cells.get(cell, 0) + _pence(value, f"baseline row {i + 1} amount_pence")
    return cells


def _frame(cells: Mapping[CellRef, int]) -> pd.DataFrame:
    rows = [(c.agency_type, c.function, v) for c, v in sorted(cells.items())]
    df = pd.DataFrame(rows, columns=list(BASELINE_COLUMNS))
    return df.astype({"agency_type": "object", "function": "object", "amount_pence": "int64"})


def normalise(baseline: pd.DataFrame) -> pd.DataFrame:
    """One row per cell (duplicates summed), sorted, amounts int64: the engine's canonical form."""
    return _frame(_cells(baseline))


# -- applying -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogEntry:
    """What one change did: a sentence, the change in each cell, and for invest-to-save a table."""

    step: int
    kind: str
    message: str
    applied: bool = True
    deltas: tuple[tuple[CellRef, int], ...] = ()
    table: pd.DataFrame | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "kind": self.kind,
            "message": self.message,
            "applied": self.applied,
            "deltas": [{**c.to_dict(), "delta_pence": d} for c, d in self.deltas],
            "table": None
            if self.table is None
            else [{k: int(v) for k, v in row.items()} for row in self.table.to_dict("records")],
        }


class _State:
    """The scenario's cells while changes are applied, with the checks every change shares."""

    def __init__(self, cells: dict[CellRef, int]) -> None:
        self.cells = cells

    def get(self, cell: CellRef, step: int, kind: str) -> int:
        if cell not in self.cells:
            raise ScenarioError(f"change {step} ({kind}): unknown cell {cell.label}")
        return self.cells[cell]

    def add(
        self, deltas: Sequence[tuple[CellRef, int]], step: int, kind: str, allow_negative: bool
    ) -> None:
        new = dict(self.cells)
        for cell, delta in deltas:
            new[cell] = new.get(cell, self.get(cell, step, kind)) + delta
        for cell, _ in deltas:
            if new[cell] < 0 and not allow_negative:
                have = self.cells[cell]
                raise ScenarioError(
                    f"change {step} ({kind}): {cell.label} would be negative "
                    f"({gbp(have)} → {gbp(new[cell])}): at most {gbp(max(have, 0))} can come "
                    "out of it; reduce the amount"
                )
        self.cells = new


def _apply_driver(
    state: _State, ch: ChangeDriver, step: int, alternatives: Mapping[str, pd.DataFrame]
) -> LogEntry:
    name = f"driver {ch.replacement!r}" + (f" instead of {ch.current!r}" if ch.current else "")
    alt = alternatives.get(ch.replacement)
    where = ch.cell.label if ch.cell else "the whole baseline"
    if alt is None:
        return LogEntry(
            step,
            ch.kind,
            f"{name} for {where}: recorded, not applied "
            "(no baseline computed with this driver was given)",
            applied=False,
        )
    alt_cells = _cells(alt)
    deltas: tuple[tuple[CellRef, int], ...]
    if ch.cell is None:
        deltas = tuple(
            (c, alt_cells.get(c, 0) - state.cells.get(c, 0))
            for c in sorted(set(alt_cells) | set(state.cells))
        )
        state.cells = dict(alt_cells)
    else:
        if ch.cell not in alt_cells:
            raise ScenarioError(
                f"change {step} (driver): the baseline for {ch.replacement!r} has no cell "
                f"{ch.cell.label}"
            )
        before = state.get(ch.cell, step, ch.kind)
        state.cells[ch.cell] = alt_cells[ch.cell]
        deltas = ((ch.cell, alt_cells[ch.cell] - before),)
    return LogEntry(
        step, ch.kind, f"{name} applied to {where}", deltas=tuple(d for d in deltas if d[1])
    )


def _apply_one(state: _State, ch: Change, step: int) -> LogEntry:
    deltas: tuple[tuple[CellRef, int], ...]
    if isinstance(ch, Move):
        have = state.get(ch.from_cell, step, ch.kind)
        state.get(ch.to_cell, step, ch.kind)
        if ch.percent is not None:
            amount = _round(Decimal(have) * ch.percent / 100)
            what = f"{ch.percent}% of {ch.from_cell.label} ({gbp(amount)})"
        else:
            amount = int(ch.amount_pence or 0)
            what = f"{gbp(amount)} from {ch.from_cell.label}"
        deltas = ((ch.from_cell, -amount), (ch.to_cell, amount))
        state.add(deltas, step, ch.kind, ch.allow_negative)
        return LogEntry(step, ch.kind, f"moved {what} to {ch.to_cell.label}", deltas=deltas)
    if isinstance(ch, SetAmount):
        before = state.get(ch.cell, step, ch.kind)
        deltas = ((ch.cell, ch.amount_pence - before),)
        state.add(deltas, step, ch.kind, ch.allow_negative)
        why = f" ({ch.source})" if ch.source else ""
        return LogEntry(
            step,
            ch.kind,
            f"set {ch.cell.label} from {gbp(before)} to {gbp(ch.amount_pence)}{why}",
            deltas=deltas,
        )
    if isinstance(ch, InvestToSave):
        table = ch.table()
        cost = int(table["cost_pence"].iloc[0])
        saved = int(table["cashable_saving_pence"].iloc[0])
        deltas = ((ch.invest_cell, cost),) + (((ch.saving_cell, -saved),) if saved else ())
        state.get(ch.saving_cell, step, ch.kind)
        state.add(deltas, step, ch.kind, ch.allow_negative)
        total = int(table["net_pence"].sum())
        kind = "cashable" if ch.cashable else "not cashable (capacity freed, budgets unchanged)"
        src = f" [{ch.evidence_id}]" if ch.evidence_id else ""
        msg = (
            f"invest {gbp(ch.amount_pence)}{' a year' if ch.recurring else ' once'} in "
            f"{ch.invest_cell.label}, saving {ch.ratio}× a year in {ch.saving_cell.label}"
            f"{src}; savings {kind}; net over {ch.years} year(s) {gbp(total)}; "
            "the scenario shows year 1"
        )
        return LogEntry(step, ch.kind, msg, deltas=deltas, table=table)
    raise ScenarioError(f"change {step}: not a change: {ch!r}")  # pragma: no cover


def apply(
    baseline: pd.DataFrame,
    changes: Iterable[Change | Mapping[str, Any]],
    alternatives: Mapping[str, pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, list[LogEntry]]:
    """Apply ``changes`` to a copy of ``baseline``: (scenario frame, log of what each did).

    Driver changes go first (they replace figures computed by another driver, from
    ``alternatives`` keyed by driver name); the other changes follow in order. Any invalid change
    refuses the whole scenario with a ScenarioError naming the change.
    """
    parsed = parse_changes(changes)
    state = _State(_cells(baseline))
    alternatives = alternatives or {}
    log: dict[int, LogEntry] = {}
    whole = [
        i
        for i, c in enumerate(parsed, 1)
        if isinstance(c, ChangeDriver) and c.cell is None and c.replacement in alternatives
    ]
    if len(whole) > 1:
        raise ScenarioError(
            f"changes {', '.join(map(str, whole))}: more than one driver change replaces the whole "
            "baseline; compute one baseline with all those drivers and use a single change"
        )
    drivers = [(i, c) for i, c in enumerate(parsed, 1) if isinstance(c, ChangeDriver)]
    for i, drv in sorted(drivers, key=lambda d: d[1].cell is not None):  # whole baseline first
        log[i] = _apply_driver(state, drv, i, alternatives)
    for i, ch in enumerate(parsed, 1):
        if not isinstance(ch, ChangeDriver):
            log[i] = _apply_one(state, ch, i)
    return _frame(state.cells), [log[i] for i in sorted(log)]


def compare(baseline: pd.DataFrame, scenario: pd.DataFrame) -> pd.DataFrame:
    """Side by side, cell by cell: baseline, scenario, difference in pence and in per cent."""
    base, scen = _cells(baseline), _cells(scenario)
    rows = []
    for cell in sorted(set(base) | set(scen)):
        b, s = base.get(cell, 0), scen.get(cell, 0)
        pct = float(Decimal(s - b) * 100 / Decimal(b)) if b else float("nan")
        rows.append((cell.agency_type, cell.function, b, s, s - b, pct))
    df = pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))
    ints = {c: "int64" for c in COMPARE_COLUMNS[2:5]}
    return df.astype(
        {"agency_type": "object", "function": "object", **ints, "difference_pct": "float64"}
    )


# -- evidence library ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Evidence:
    """A published invest-to-save ratio and where it comes from."""

    id: str
    description: str
    ratio: Decimal
    recurring: bool
    paying_agency_type: str
    saving_agency_type: str
    publisher: str
    title: str
    year: str
    url: str
    quote: str
    note: str

    @property
    def citation(self) -> str:
        return f"{self.publisher}, {self.title} ({self.year})"


def load_evidence(path: Path | None = None) -> dict[str, Evidence]:
    """The evidence library (``data/evidence/invest_to_save.csv``), by id."""
    path = path or EVIDENCE_PATH
    out: dict[str, Evidence] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        for n, row in enumerate(csv.DictReader(lines), start=2):
            try:
                ratio = _decimal(row["ratio"], "ratio")
            except ScenarioError as exc:
                raise ScenarioError(f"{path.name} row {n}: {exc}") from None
            out[row["id"]] = Evidence(
                id=row["id"],
                description=row["description"],
                ratio=ratio,
                recurring=row["recurring"].strip().lower() == "true",
                paying_agency_type=row["paying_agency_type"],
                saving_agency_type=row["saving_agency_type"],
                publisher=row["publisher"],
                title=row["title"],
                year=row["year"],
                url=row["url"],
                quote=row["quote"],
                note=row["note"],
            )
    return out


def invest_from_evidence(
    evidence: Evidence,
    invest_cell: CellRef,
    saving_cell: CellRef,
    amount_pence: int,
    years: int,
    *,
    cashable: bool = True,
    saving_from_year: int = 1,
    note: str = "",
) -> InvestToSave:
    """An InvestToSave change using a library ratio (and its recurring/one-off basis)."""
    return InvestToSave(
        invest_cell=invest_cell,
        saving_cell=saving_cell,
        amount_pence=amount_pence,
        ratio=evidence.ratio,
        years=years,
        recurring=evidence.recurring,
        cashable=cashable,
        saving_from_year=saving_from_year,
        evidence_id=evidence.id,
        note=note or evidence.citation,
    )


# -- what an update changed (for the audit trail) ----------------------------------------------
def short_gbp(pence: int) -> str:
    """Pounds in a few characters for sentences: '£2.0m', '£350k', '£1.25bn', '-£40'."""
    sign, v = ("-" if pence < 0 else ""), abs(int(pence)) / 100
    for unit, size in (("bn", 1e9), ("m", 1e6), ("k", 1e3)):
        if v >= size:
            text = f"{v / size:.2f}".rstrip("0").rstrip(".")
            return f"{sign}£{text if '.' in text or unit == 'k' else text + '.0'}{unit}"
    return f"{sign}£{v:,.2f}".replace(".00", "")


def _cell_words(value: Any) -> str:
    try:
        return CellRef.parse(value).label
    except ScenarioError:
        return "?"


def describe_change(change: Mapping[str, Any]) -> str:
    """One stored change in a few words: 'move £2.0m from A × f to B × g'."""
    kind = change.get("kind")
    if kind == "move":
        what = (
            f"{change['percent']}%"
            if change.get("percent") is not None
            else short_gbp(int(change.get("amount_pence") or 0))
        )
        return (
            f"move {what} from {_cell_words(change.get('from_cell'))} "
            f"to {_cell_words(change.get('to_cell'))}"
        )
    if kind == "set":
        return f"set {_cell_words(change.get('cell'))} to {short_gbp(int(change['amount_pence']))}"
    if kind == "driver":
        where = _cell_words(change["cell"]) if change.get("cell") else "the whole baseline"
        return f"driver {change.get('replacement')} for {where}"
    if kind == "invest_to_save":
        cash = "cashable" if change.get("cashable", True) else "non-cashable"
        return (
            f"invest {short_gbp(int(change['amount_pence']))} in "
            f"{_cell_words(change.get('invest_cell'))}, {cash} saving in "
            f"{_cell_words(change.get('saving_cell'))}"
        )
    return f"{kind} change"


def _field_words(name: str, old: Any, new: Any) -> str:
    if name == "cashable":
        words = {True: "cashable", False: "non-cashable"}
        return f"saving {words[bool(old)]}→{words[bool(new)]}"
    if name == "amount_pence" and old is not None and new is not None:
        return f"amount {short_gbp(int(old))}→{short_gbp(int(new))}"
    if name in _CELL_FIELDS:
        return f"{name.replace('_', ' ')} {_cell_words(old)}→{_cell_words(new)}"
    return f"{name.replace('_', ' ')} {old}→{new}"


def describe_update(
    old: Sequence[Mapping[str, Any]],
    new: Sequence[Mapping[str, Any]],
    *,
    old_name: str | None = None,
    new_name: str | None = None,
) -> list[str]:
    """What turned the changes ``old`` into ``new`` (and the title, if it changed), in words:
    ['added change 3: move £2.0m from A to B', 'change 2: saving cashable→non-cashable', ...].
    Pure; used for the audit trail of a scenario update."""
    out: list[str] = []
    if old_name is not None and new_name is not None and old_name != new_name:
        out.append(f"title {old_name!r}→{new_name!r}")
    keys = [json.dumps(c, sort_keys=True, default=str) for c in old]
    new_keys = [json.dumps(c, sort_keys=True, default=str) for c in new]
    matcher = difflib.SequenceMatcher(a=keys, b=new_keys, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        pairs = min(i2 - i1, j2 - j1) if op == "replace" else 0
        for k in range(pairs):
            before, after = old[i1 + k], new[j1 + k]
            if before.get("kind") != after.get("kind"):
                out.append(f"removed change {i1 + k + 1}: {describe_change(before)}")
                out.append(f"added change {j1 + k + 1}: {describe_change(after)}")
                continue
            fields = [
                _field_words(f, before.get(f), after.get(f))
                for f in sorted(set(before) | set(after))
                if before.get(f) != after.get(f)
            ]
            out.append(f"change {j1 + k + 1} ({describe_change(after)}): {'; '.join(fields)}")
        out += [f"removed change {i + 1}: {describe_change(old[i])}" for i in range(i1 + pairs, i2)]
        out += [f"added change {j + 1}: {describe_change(new[j])}" for j in range(j1 + pairs, j2)]
    return out or ["nothing changed"]


# -- savings: cashable or not ------------------------------------------------------------------
SAVINGS_COLUMNS = ("step", "label", "cashable_pence", "non_cashable_pence")


def savings(log: Iterable[LogEntry]) -> pd.DataFrame:
    """Each invest-to-save change's savings over its years, split cashable / non-cashable."""
    rows = []
    for entry in log:
        if entry.table is None:
            continue
        saved = int(entry.table["saving_pence"].sum())
        cashable = int(entry.table["cashable_saving_pence"].sum())
        rows.append((entry.step, f"change {entry.step}", cashable, saved - cashable))
    frame = pd.DataFrame(rows, columns=list(SAVINGS_COLUMNS))
    return frame.astype({"step": "int64", "cashable_pence": "int64", "non_cashable_pence": "int64"})
