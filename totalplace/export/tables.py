"""Write tables as CSV or XLSX with source notes, neutralising text that a spreadsheet would
run as a formula (OWASP CSV injection: = + - @ tab CR at the start). Numbers stay numbers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from totalplace.errors import TotalPlaceError

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


#: Control characters a spreadsheet cannot hold (XML 1.0 forbids them); tab, LF, CR are kept.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralise(value: Any) -> Any:
    """Make a text cell inert: control characters a workbook cannot hold become U+FFFD, and
    text that starts like a formula gets a leading quote. Other values are left alone."""
    if isinstance(value, str):
        value = _ILLEGAL.sub("\ufffd", value)
        if value.startswith(_TRIGGERS):
            return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def write_table(
    frame: pd.DataFrame,
    path: Path,
    notes: list[str] | None = None,
    sheet: str = "data",
    extra: dict[str, pd.DataFrame] | None = None,
) -> Path:
    """Write ``frame`` to ``path`` (.csv or .xlsx); notes go to a 'notes' sheet or a sidecar
    ``<name>.notes.txt`` for CSV. ``extra`` tables (name -> frame, e.g. a count's source lines)
    go to sheets of their own, or to sidecars ``<name>.<table name>.csv``."""
    path = Path(path)
    safe = safe_frame(frame)
    if path.suffix.lower() == ".csv":
        safe.to_csv(path, index=False)
        if notes:
            path.with_suffix(".notes.txt").write_text("\n".join(notes) + "\n", encoding="utf-8")
        for name, table in (extra or {}).items():
            safe_frame(table).to_csv(
                path.with_suffix(f".{name.replace(' ', '_')}.csv"), index=False
            )
    elif path.suffix.lower() == ".xlsx":
        with pd.ExcelWriter(path, engine="openpyxl") as xl:
            safe.to_excel(xl, sheet_name=sheet[:31], index=False)
            for name, table in (extra or {}).items():
                safe_frame(table).to_excel(xl, sheet_name=name[:31], index=False)
            if notes:
                pd.DataFrame({"notes": [neutralise(n) for n in notes]}).to_excel(
                    xl, sheet_name="notes", index=False
                )
    else:
        raise TotalPlaceError(f"{path.name}: output must end in .csv or .xlsx")
    return path
