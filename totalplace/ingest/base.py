"""The adapter seam: every published format is one `Adapter`, registered by entry point.

Built-in adapters register exactly as third-party ones do, in the ``totalplace.adapters``
entry-point group of their package's ``pyproject.toml``::

    [project.entry-points."totalplace.adapters"]
    my_format = "my_package.my_module:MyAdapter"

A complete adapter (this one reads a two-column CSV of ``year,amount`` for one council)::

    class TinyAdapter(Adapter):
        name = "tiny"
        title = "Tiny example: year,amount"

        def sniff(self, path: Path, head: bytes) -> bool:
            return head.startswith(b"year,amount")

        def parse(self, path: Path, context: ParseContext) -> ParseResult:
            result = ParseResult()
            for line_no, line in enumerate(path.read_text().splitlines()[1:], start=2):
                result.rows_read += 1
                year, _, amount = line.partition(",")
                try:
                    pence = parse_amount_pence(amount)
                except ValueError as exc:
                    result.quarantine_row(line_no, str(exc), line)
                    continue
                result.add(year=year, area_code="E06000001", area_level="authority",
                           agency="Hartlepool", agency_type="Councils", amount_pence=pence,
                           row=line_no)
            return result

An adapter never touches the store (an import-linter contract enforces it): it turns one file
into ledger rows (or reference-table rows) plus quarantined rows, and the pipeline writes them.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from totalplace.config import REFERENCE_DIR
from totalplace.errors import TotalPlaceError

ENTRY_POINT_GROUP = "totalplace.adapters"
#: How many bytes `sniff` is shown: detection must be cheap.
SNIFF_BYTES = 64 * 1024


@dataclass
class ParseContext:
    """What an adapter may use besides its file: reference data, never the store."""

    source_id: str
    reference_dir: Path = REFERENCE_DIR
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParseResult:
    """Rows from one file: ledger (or reference) rows, quarantined rows, and the count read.

    Invariant checked by the pipeline and the conformance test:
    ``rows_read == len(rows) + len(quarantine)`` (counting data rows, not headers/titles/totals
    that the adapter recognised as such and reports in ``skipped``).
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    frame: pd.DataFrame | None = None
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    rows_read: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, **values: Any) -> None:
        """Append one output row (used by row-by-row adapters)."""
        self.records.append(values)

    def quarantine_row(self, row: int, reason: str, raw: str) -> None:
        """Set one input row aside with a reason a person can act on."""
        self.quarantine.append({"row": row, "reason": reason, "raw": raw})

    def skip(self, what: str, n: int = 1) -> None:
        """Record rows that are not data (title, blank, total, footnote), by kind."""
        self.skipped[what] = self.skipped.get(what, 0) + n

    def rows(self) -> pd.DataFrame:
        """All output rows as one frame (records and/or a vectorised frame)."""
        parts = [
            p
            for p in (self.frame, pd.DataFrame(self.records) if self.records else None)
            if p is not None
        ]
        if not parts:
            return pd.DataFrame()
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    @property
    def rows_out(self) -> int:
        return (0 if self.frame is None else len(self.frame)) + len(self.records)


class Adapter(ABC):
    """One published format. Subclasses set `name`, `title` and implement `sniff` and `parse`."""

    name: ClassVar[str]
    title: ClassVar[str]
    #: 'ledger' for spend; otherwise the reference table the rows go to (e.g. 'population').
    target: ClassVar[str] = "ledger"
    #: File name endings this adapter reads (lower case, with the dot).
    suffixes: ClassVar[tuple[str, ...]] = (".csv",)

    @abstractmethod
    def sniff(self, path: Path, head: bytes) -> bool:
        """Cheaply say whether ``path`` (whose first bytes are ``head``) is in this format."""

    @abstractmethod
    def parse(self, path: Path, context: ParseContext) -> ParseResult:
        """Read the whole file into rows and quarantine. Never raises for one bad row."""


class AdapterNotFound(TotalPlaceError):
    """No registered adapter recognises a file, or an unknown adapter name was asked for."""


def registered_adapters() -> dict[str, Adapter]:
    """Every adapter registered in the entry-point group, built-ins included, by name.

    The entry points are read once per process (``registered_adapters.cache_clear()`` reads
    them again, e.g. after installing a plugin in a running session)."""
    return dict(_registry())


@cache
def _registry() -> tuple[tuple[str, Adapter], ...]:
    found: dict[str, Adapter] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except ModuleNotFoundError as exc:  # a plugin's package is gone: the others still work
            warnings.warn(f"adapter {ep.name!r} ({ep.value}) cannot be loaded: {exc}", stacklevel=2)
            continue
        adapter = cls()
        found[adapter.name] = adapter
    return tuple(sorted(found.items()))


registered_adapters.cache_clear = _registry.cache_clear  # type: ignore[attr-defined]


def get_adapter(name: str) -> Adapter:
    adapters = registered_adapters()
    if name not in adapters:
        raise AdapterNotFound(f"no adapter named {name!r}; known: {', '.join(adapters)}")
    return adapters[name]


def read_head(path: Path, n: int = SNIFF_BYTES) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def detect_adapter(path: Path, candidates: Iterable[Adapter] | None = None) -> Adapter:
    """The first adapter whose `sniff` accepts ``path``, or a clear error naming the file."""
    head = read_head(path)
    pool = list(candidates) if candidates is not None else list(registered_adapters().values())
    suffix = path.suffix.lower()
    for adapter in pool:
        if suffix in adapter.suffixes and adapter.sniff(path, head):
            return adapter
    raise AdapterNotFound(
        f"{path.name}: no adapter recognises this file's layout "
        f"(try --adapter NAME; `totalplace adapters` lists them)"
    )
