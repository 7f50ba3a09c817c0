"""The one definition of the ledger: one row per amount, as published, with provenance.

The ledger is never apportioned: a row keeps the area and the level at which its source gives the
amount (a region for HM Treasury's CRA, an authority for revenue outturn). Apportionment happens
when a count is asked for, so drivers can change. This module is used by validation, storage,
exports and the docs alike (``totalplace schema`` prints it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # loaded by the functions that make frames: the field list needs neither
    import pandas as pd
    import pyarrow as pa


@dataclass(frozen=True)
class Field:
    """One ledger column: its name, DuckDB type, pandas dtype, whether required, and meaning."""

    name: str
    sql: str
    dtype: str
    required: bool
    doc: str


LEDGER_FIELDS: tuple[Field, ...] = (
    Field(
        "year",
        "VARCHAR",
        "string",
        True,
        "Financial year the amount belongs to, 'YYYY-YY' (e.g. '2010-11').",
    ),
    Field(
        "date",
        "DATE",
        "datetime64[s]",
        False,
        "Transaction date where the source gives one (spend files), else empty.",
    ),
    Field(
        "area_code",
        "VARCHAR",
        "string",
        True,
        "GSS code of the area the source attributes the amount to (region E12…, nation E92…, "
        "an authority's own code…); never an apportioned area.",
    ),
    Field("area_name", "VARCHAR", "string", False, "Name of that area as known to the tool."),
    Field(
        "area_level",
        "VARCHAR",
        "string",
        True,
        "Geographic level of area_code: nation, region, upper_tier, district, authority, "
        "police_force_area, fire_authority, lsoa.",
    ),
    Field(
        "agency",
        "VARCHAR",
        "string",
        True,
        "The spending body as published (a department, a council, a police authority…).",
    ),
    Field(
        "agency_code",
        "VARCHAR",
        "string",
        False,
        "Code of the spending body where known (GSS, DCLG E-code, department code).",
    ),
    Field(
        "agency_type",
        "VARCHAR",
        "string",
        True,
        "Kind of agency (councils, NHS, police, fire and rescue, benefits and employment, …), "
        "from data/codes/agency_types.csv.",
    ),
    Field(
        "function_code",
        "VARCHAR",
        "string",
        False,
        "COFOG division code ('1'…'10'), or 'UNALLOC' / 'EU' for CRA's non-functional lines.",
    ),
    Field(
        "function",
        "VARCHAR",
        "string",
        False,
        "COFOG division label as CRA prints it, e.g. '10. Social protection'.",
    ),
    Field(
        "subfunction",
        "VARCHAR",
        "string",
        False,
        "Finer function where the release has it (CRA 2014 COFOG level 1 '10.2 Old age'; "
        "CRA 2010 HMT functional classification).",
    ),
    Field(
        "service_line",
        "VARCHAR",
        "string",
        False,
        "Council service line (revenue outturn) or expense area / type (spend files).",
    ),
    Field("spend_kind", "VARCHAR", "string", False, "'current' or 'capital' where known."),
    Field(
        "counterparty",
        "VARCHAR",
        "string",
        False,
        "Supplier, grant recipient or payer where the source names one (redactions kept).",
    ),
    Field("description", "VARCHAR", "string", False, "Free text from the source."),
    Field(
        "amount_pence",
        "BIGINT",
        "int64",
        True,
        "Amount in pence (exact integer; GBP = amount_pence / 100). Negative = credit.",
    ),
    Field(
        "source_id",
        "VARCHAR",
        "string",
        True,
        "Catalogue id of the source (data/sources.toml) or 'local:<name>' for user files.",
    ),
    Field("file", "VARCHAR", "string", True, "File name the row was read from."),
    Field(
        "row",
        "BIGINT",
        "int64",
        True,
        "Line (CSV) or spreadsheet row number (XLSX/XLS, 1-based as Excel shows it).",
    ),
    Field("batch_id", "VARCHAR", "string", True, "Ingest batch that wrote the row."),
)

LEDGER_COLUMNS: tuple[str, ...] = tuple(f.name for f in LEDGER_FIELDS)
PROVENANCE_COLUMNS: tuple[str, ...] = ("source_id", "file", "row", "batch_id")
# The store keeps the ledger as a view over two tables (`totalplace.ledger.keys`): the columns
# a row shares with many others once, as a key, and each amount as a narrow row naming its key.
# The view ``ledger`` gives these columns and each row's ``rowid`` (which count lines cite).
#: Ledger columns kept on every row (``ledger_rows``, with ``key_id``): what differs row by row.
ROW_COLUMNS: tuple[str, ...] = (
    "date",
    "service_line",
    "counterparty",
    "description",
    "amount_pence",
    "row",
)
#: Ledger columns kept once per key (all text), in the ledger's order, as ``ledger_keys``
#: holds them: what a row shares with many others.
KEY_COLUMNS: tuple[str, ...] = tuple(c for c in LEDGER_COLUMNS if c not in ROW_COLUMNS)
#: The column of ``ledger_rows`` naming its key (``ledger_keys``).
KEY_ID = "key_id"

#: Columns an adapter must fill; the pipeline adds source_id, file and batch_id.
ADAPTER_REQUIRED: tuple[str, ...] = tuple(
    f.name for f in LEDGER_FIELDS if f.required and f.name not in ("source_id", "file", "batch_id")
)

QUARANTINE_FIELDS: tuple[Field, ...] = (
    Field("batch_id", "VARCHAR", "string", True, "Ingest batch."),
    Field("source_id", "VARCHAR", "string", True, "Catalogue id or 'local:<name>'."),
    Field("file", "VARCHAR", "string", True, "File name."),
    Field("row", "BIGINT", "int64", True, "Line or spreadsheet row of the rejected row."),
    Field("reason", "VARCHAR", "string", True, "Why the row was set aside, in words."),
    Field("raw", "VARCHAR", "string", True, "The original text of the row."),
)
QUARANTINE_COLUMNS: tuple[str, ...] = tuple(f.name for f in QUARANTINE_FIELDS)


def empty_ledger() -> pd.DataFrame:
    """A ledger frame with every column and no rows."""
    import pandas as pd

    return conform(pd.DataFrame({c: [] for c in LEDGER_COLUMNS}))


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with exactly the ledger columns, in order, with the documented dtypes.

    Missing optional columns are added empty; a missing required column is an error.
    """
    import pandas as pd

    missing = [f.name for f in LEDGER_FIELDS if f.required and f.name not in frame.columns]
    if missing:
        raise ValueError(f"ledger rows lack required columns: {', '.join(missing)}")
    out = pd.DataFrame(index=frame.index)
    for f in LEDGER_FIELDS:
        col = frame[f.name] if f.name in frame.columns else pd.Series(None, index=frame.index)
        if f.dtype.startswith("datetime"):
            out[f.name] = pd.to_datetime(col, errors="raise").astype(f.dtype)
        else:
            out[f.name] = col.astype(f.dtype)
    nulls = [f.name for f in LEDGER_FIELDS if f.required and out[f.name].isna().any()]
    if nulls:
        raise ValueError(f"ledger rows have empty required values in: {', '.join(nulls)}")
    return out.reset_index(drop=True)


def ledger_arrow_schema(exclude: tuple[str, ...] = (), dictionary: bool = False) -> pa.Schema:
    """The ledger's columns (but ``exclude``) as an Arrow schema, from `LEDGER_FIELDS`; with
    ``dictionary`` text columns are dictionary-encoded (few distinct values, many rows)."""
    import pyarrow as pa

    text = pa.dictionary(pa.int32(), pa.string()) if dictionary else pa.string()
    types = {"VARCHAR": text, "DATE": pa.date32(), "BIGINT": pa.int64()}
    return pa.schema(
        [
            pa.field(f.name, types[f.sql], not f.required)
            for f in LEDGER_FIELDS
            if f.name not in exclude
        ]
    )


def to_ledger_arrow(
    values: Mapping[str, pa.Array | None], n: int, schema: pa.Schema
) -> pa.RecordBatch:
    """`conform` for Arrow: ``n`` rows with exactly ``schema``'s columns, cast to its types,
    missing optional columns empty; a missing or empty required value is an error."""
    import pyarrow as pa

    arrays = []
    for f in schema:
        given = values.get(f.name)
        if given is None:
            if not f.nullable:
                raise ValueError(f"ledger rows lack required columns: {f.name}")
            arrays.append(pa.nulls(n, f.type))
            continue
        arr = given if given.type == f.type else given.cast(f.type)
        if not f.nullable and arr.null_count:
            raise ValueError(f"ledger rows have empty required values in: {f.name}")
        arrays.append(arr)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def schema_markdown() -> str:
    """The schema as a Markdown table (used by `totalplace schema` and docs/LEDGER.md)."""
    lines = ["| column | type | required | meaning |", "| --- | --- | --- | --- |"]
    lines += [
        f"| `{f.name}` | {f.sql} | {'yes' if f.required else ''} | {f.doc} |" for f in LEDGER_FIELDS
    ]
    return "\n".join(lines)
