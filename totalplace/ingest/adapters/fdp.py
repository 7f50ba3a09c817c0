"""Fiscal Data Package (OpenSpending's format): ``datapackage.json`` + a CSV resource, with a
``model`` saying which columns are measures (amounts) and dimensions (date, location, payer,
payee, classification...). Import maps the model onto the ledger; `export_fdp` writes a ledger
frame as a Fiscal Data Package that this adapter (or OpenSpending) reads back.

Dimension attributes named like ledger fields (``year``, ``area_code``, ``agency``...) map
directly; others by ``dimensionType``: datetime → date (or year), location → area_code,
entity → agency or counterparty (by name: payee/supplier/recipient → counterparty),
classification → function (cofog/function) or service_line, anything else → description.
Ledger fields the package lacks can be given as options (``year``, ``body``, ``area_code``,
``agency``, ``agency_type``, ``area_level``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from totalplace.errors import InputFileError
from totalplace.ingest.adapters.mapped import TEXT_FIELDS, Plan, escape_formula
from totalplace.ingest.base import Adapter, ParseContext, ParseResult
from totalplace.ingest.tabular import Limits, check_size, open_table
from totalplace.ledger.schema import LEDGER_FIELDS, PROVENANCE_COLUMNS

_LEDGER = {"year", "date", *TEXT_FIELDS}
_PAYEE = re.compile(r"payee|supplier|recipient|beneficiar|vendor|counterpart|contractor")
_KNOWN_KINDS = ("datetime", "location", "entity", "classification")
_OPTION_FIELDS = (
    "year",
    "area_code",
    "area_name",
    "area_level",
    "agency",
    "agency_code",
    "agency_type",
)
ESCAPE_KEY = "x-totalplace-formula-escape"


class FdpAdapter(Adapter):
    """Fiscal Data Package: datapackage.json (with a model) and its CSV resource."""

    name = "fdp"
    title = "Fiscal Data Package (datapackage.json with a model)"
    suffixes: ClassVar[tuple[str, ...]] = (".json",)

    def sniff(self, path: Path, head: bytes) -> bool:
        return (
            b'"resources"' in head
            and b'"measures"' in head
            and (path.name.endswith("datapackage.json") or b'"model"' in head)
        )

    def parse(self, path: Path, context: ParseContext) -> ParseResult:
        limits = Limits.from_options(context.options)
        package = _read_package(path, limits)
        model = package.get("model") or {}
        resource = _resource(path, package, model)
        data = _data_path(path, resource)
        mapping = model_to_mapping(path, model, context.options)
        mapping["unescape_formulas"] = bool(package.get(ESCAPE_KEY))
        plan = Plan.build(path, mapping, path.name, context.options)
        result = ParseResult(notes=[f"resource {data.name}: measure {mapping['measure']!r}"])
        with open_table(
            data, plan.is_header, limits=limits, expected=f"the model's columns ({path.name})"
        ) as table:
            plan.read(table, result)
            table.finish(result)
        return result


def _read_package(path: Path, limits: Limits) -> dict[str, Any]:
    check_size(path, limits)
    try:
        package = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(path, f"is not readable JSON ({exc})") from exc
    if not isinstance(package, dict) or not isinstance(package.get("resources"), list):
        raise InputFileError(path, "is not a data package (no 'resources' list)")
    return package


def _resource(path: Path, package: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    resources = [r for r in package["resources"] if isinstance(r, dict) and r.get("path")]
    sources = {
        str(m.get("source")) for m in (model.get("measures") or {}).values() if isinstance(m, dict)
    }
    for res in resources:
        fields = {f.get("name") for f in (res.get("schema") or {}).get("fields", [])}
        if sources & fields:
            return res
    if not resources:
        raise InputFileError(path, "has no resource with a 'path' to a CSV file")
    return resources[0]


def _data_path(path: Path, resource: dict[str, Any]) -> Path:
    rel = resource["path"][0] if isinstance(resource["path"], list) else resource["path"]
    rel = str(rel)
    if "://" in rel or rel.startswith(("/", "\\")) or ".." in Path(rel).parts:
        raise InputFileError(path, f"resource path {rel!r} must be a file inside the package")
    data = path.parent / rel
    if not data.is_file():
        raise InputFileError(path, f"resource file {rel} is missing")
    return data


def model_to_mapping(path: Path, model: Mapping[str, Any], options: Mapping[str, Any]) -> dict:
    """A `mapped`-adapter mapping (columns, fixed, scale) from an FDP model."""
    measures = model.get("measures") or {}
    if not isinstance(measures, dict) or not measures:
        raise InputFileError(path, "the package's model has no measures (no amount column)")
    name = str(options.get("measure") or next(iter(measures)))
    if name not in measures:
        raise InputFileError(path, f"no measure {name!r}; the model has {', '.join(measures)}")
    measure = measures[name]
    currency = str(measure.get("currency") or "GBP").upper()
    if currency != "GBP":
        raise InputFileError(path, f"measure {name!r} is in {currency}: not summed as pounds")
    factor = float(measure.get("factor") or 1)
    if not factor.is_integer():
        raise InputFileError(path, f"measure factor {factor} is not a whole number")
    columns: dict[str, str] = {"amount": str(measure.get("source") or name)}
    for dim_name, dim in (model.get("dimensions") or {}).items():
        if not isinstance(dim, dict):
            continue
        for attr_name, attr in (dim.get("attributes") or {}).items():
            source = attr.get("source") if isinstance(attr, dict) else None
            field = _field_for(str(dim_name), str(attr_name), str(dim.get("dimensionType", "")))
            if source and field and field not in columns:
                columns[field] = str(source)
    fixed = {k: options[k] for k in _OPTION_FIELDS if options.get(k) and k not in columns}
    given = options.get("body") or options.get("area_code")
    if not given and "area_code" not in columns and "agency_code" in columns:
        # A payer identified by its GSS code (a council) is placed in its own area.
        columns["area_code"] = columns["agency_code"]
        fixed.setdefault("area_level", "authority")
        fixed.setdefault("agency_type", "Councils")
    missing = [f for f in ("area_code", "agency", "agency_type") if f not in columns | fixed]
    if "year" not in columns and "date" not in columns and "year" not in fixed:
        missing.insert(0, "year")
    if missing and not options.get("body"):
        raise InputFileError(
            path,
            f"the package gives no {', '.join(missing)}: pass them as options "
            "(--option body=NAME, or --option area_code=GSS --option agency=NAME "
            "--option agency_type=TYPE; --option year=2010-11)",
        )
    return {"columns": columns, "fixed": fixed, "scale": int(factor), "measure": name}


def _field_for(dim: str, attr: str, kind: str) -> str | None:
    if attr in PROVENANCE_COLUMNS or dim in PROVENANCE_COLUMNS:
        return None
    if attr in _LEDGER:
        return attr
    if kind not in _KNOWN_KINDS and dim in _LEDGER:
        return dim
    codeish = bool(re.search(r"code|id$|_id|identifier", attr.lower()))
    words = f"{dim} {attr}".lower()
    if kind == "datetime":
        return "year" if re.search(r"year|fiscal", words) else "date"
    if kind == "location":
        return "area_code" if codeish else "area_name"
    if kind == "entity":
        if _PAYEE.search(words):
            return "counterparty"
        return "agency_code" if codeish else "agency"
    if kind == "classification":
        if re.search(r"cofog|function", words):
            return "function_code" if codeish else "function"
        return "service_line"
    return "description"


# -- export ---------------------------------------------------------------------------------------
_DIMENSION_TYPES = {
    "year": "datetime",
    "date": "datetime",
    "area_code": "location",
    "area_name": "location",
    "area_level": "location",
    "agency": "entity",
    "agency_code": "entity",
    "agency_type": "entity",
    "counterparty": "entity",
    "function_code": "classification",
    "function": "classification",
    "subfunction": "classification",
    "service_line": "classification",
    "spend_kind": "classification",
}
_FIELD_TYPES = {"DATE": "date", "BIGINT": "integer", "VARCHAR": "string"}


def _pounds(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(int(pence)), 100)
    return f"{sign}{whole}.{part:02d}"


def export_fdp(
    ledger_frame: pd.DataFrame,
    folder: Path,
    *,
    name: str = "totalplace-ledger",
    title: str = "Total Place ledger",
) -> Path:
    """Write ``ledger_frame`` as a Fiscal Data Package in ``folder``; returns datapackage.json.

    Amounts are exact (pence written as pounds with two decimals, currency GBP, factor 1);
    text a spreadsheet would run as a formula is prefixed with ``'`` (and read back unchanged
    by `FdpAdapter`). Files are written beside their final names and then renamed.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fields = [f for f in LEDGER_FIELDS if f.name in ledger_frame.columns]
    out = pd.DataFrame(index=ledger_frame.index)
    schema: list[dict[str, Any]] = []
    for f in fields:
        col = ledger_frame[f.name]
        if f.name == "amount_pence":
            out["amount"] = [_pounds(v) for v in col]
            schema.append({"name": "amount", "type": "number", "description": "Amount in GBP."})
            continue
        if f.sql == "DATE":
            out[f.name] = pd.to_datetime(col).dt.strftime("%Y-%m-%d")
        elif f.sql == "VARCHAR":
            out[f.name] = [None if pd.isna(v) else escape_formula(str(v)) for v in col]
        else:
            out[f.name] = col
        schema.append(
            {"name": f.name, "type": _FIELD_TYPES.get(f.sql, "string"), "description": f.doc}
        )
    dimensions = {
        f.name: {
            "attributes": {f.name: {"source": f.name}},
            "primaryKey": f.name,
            "dimensionType": _DIMENSION_TYPES.get(f.name, "other"),
        }
        for f in fields
        if f.name != "amount_pence" and f.name not in PROVENANCE_COLUMNS
    }
    package = {
        "name": name,
        "title": title,
        "profile": "fiscal-data-package",
        ESCAPE_KEY: "'",
        "resources": [
            {
                "name": "ledger",
                "path": "ledger.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {"fields": schema},
            }
        ],
        "model": {
            "measures": {"amount": {"source": "amount", "currency": "GBP", "factor": 1}},
            "dimensions": dimensions,
        },
    }
    csv_tmp = folder / ".ledger.csv.tmp"
    out.to_csv(csv_tmp, index=False, encoding="utf-8")
    json_tmp = folder / ".datapackage.json.tmp"
    json_tmp.write_text(json.dumps(package, indent=2, ensure_ascii=False) + "\n", "utf-8")
    os.replace(csv_tmp, folder / "ledger.csv")
    os.replace(json_tmp, folder / "datapackage.json")
    return folder / "datapackage.json"
