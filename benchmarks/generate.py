"""Synthetic national spend files: every English district and county council, "spending over
£500" files sized by population, in the real layouts and quirks of the mirror's files.

Each council gets a share of ``--rows`` proportional to its mid-2019 population (ONS MYE, from
the data mirror) and publishes monthly files (fewer, longer ones at small scales) for one
financial year (2010-11 by default, the year the counts use, so the count queries must filter
by source rather than by year). Each council has one house style, drawn with the seed:

* ``devon``      Devon 2011: CRLF, ``dd/mm/yyyy``, Body code + Name of Body, credit notes as
                 ``-123.45``, ``REDACTED UNDER DP ACT`` suppliers, 13 columns.
* ``devon_bom``  Devon 2020: UTF-8 byte-order mark, CRLF, ``2010-10-01 00:00:00`` date-times,
                 amounts like ``9792.5``.
* ``bradford``   Bradford: Windows-1252 (’ and – in supplier names), ISO dates, ``Net Amount``,
                 no paying-body column (ingested with ``--option body=GSS``, as a user would).
* ``manchester`` Manchester: ``Body Name``, ISO dates, quoted fields holding commas.
* ``report``     Report-style export: title rows before the header, space-padded quoted
                 thousands ``" 200,768.88 "``, credit notes in brackets, blank and
                 ``Total for <month>`` rows, a ``Grand Total`` footer.

About one row in 4,000 is broken as real files are (a 31 February date, an amount ``TBC``) and
must be quarantined. Output is reproducible: the same seed, rows and file size give the same
bytes (each file has its own seeded generator, whatever the worker order). A ``manifest.json``
lists every file with its council, style, data rows, broken rows, amount, options and SHA-256.

    python benchmarks/generate.py --rows 1m --out benchmarks/.data/1m
"""

from __future__ import annotations

if __package__ in (None, ""):
    import sys
    from pathlib import Path as _P

    sys.path.insert(0, str(_P(__file__).resolve().parent.parent))

import argparse
import calendar
import csv
import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import DATA_DIR, rows_for

STYLES: tuple[str, ...] = ("devon", "devon_bom", "bradford", "manchester", "report")
STYLE_WEIGHTS: tuple[float, ...] = (0.30, 0.20, 0.15, 0.20, 0.15)
#: One broken row in this many (bad date or amount): quarantined by a correct ingest.
BAD_EVERY = 4_000
POPULATION_LTLA = "population/ons_mye_mid2019_persons_ltla2019_ew.csv"
POPULATION_UTLA = "population/ons_mye_mid2019_persons_utla2019_ew.csv"
REGISTER = "lookups/mysociety_uk_local_authorities_past_current.csv"

AREAS: tuple[str, ...] = (
    "Adult & Community Services",
    "Children's Services",
    "Highways",
    "Environment, Economy & Culture",
    "Corporate Services",
    "Public Health",
    "Libraries and Theatres",
    "Waste Management",
    "Housing",
    "Planning & Regeneration",
    "Finance",
    "Legal & Democratic Services",
    "Schools",
    "Transport",
    "Leisure & Culture",
    "Council Wide",
)
TYPES: tuple[str, ...] = (
    "Residential Care Spot",
    "Dom Care Spot",
    "Main / Term Contractor",
    "Books-Adult Fiction",
    "Papers,Periodic Mags",
    "Gas",
    "Electricity",
    "Consultancy Fees",
    "Agency Staff",
    "Software Licences",
    "Vehicle Hire",
    "Grants to Voluntary Orgs",
    "Building Repairs & Maintenance",
    "Waste Disposal",
    "Home to School Transport",
    "Foster Care Allowances",
    "Legal Fees",
    "Catering Supplies",
    "Printing & Stationery",
    "Equipment Purchase",
    "Care Spot - Private (3rd)",
    "Individualised Support - Private (3rd)",
    "Rents, Rates & Service Charges",
    "Professional Services",
)
_FIRST = (
    "NORTHERN", "SOUTH WEST", "ABBEY", "ACORN", "ALPHA", "AVON", "BEECH", "BRIDGE", "CASTLE",
    "CENTRAL", "COUNTY", "CROWN", "DALE", "EAGLE", "ELM", "FIRST CALL", "GREEN", "HERITAGE",
    "HILLSIDE", "KINGS", "LAKESIDE", "MERIDIAN", "MILLENNIUM", "NORTH STAR", "OAK", "O'NEILL",
    "PARKSIDE", "PREMIER", "QUAY", "RIVERSIDE", "ST JOHN'S", "SUMMIT", "THAMES", "VALLEY",
    "VICTORIA", "WESSEX", "WILLOW", "YORK", "SMITH, JONES", "BROWN & SONS",
)  # fmt: skip
_CORE = (
    "CARE", "HOMECARE", "CONSTRUCTION", "HIGHWAYS", "TRANSPORT", "ENERGY", "BOOKS",
    "CONSULTING", "IT SOLUTIONS", "FACILITIES", "CATERING", "CLEANING", "SECURITY", "LEGAL",
    "FOSTERING", "WASTE", "PRINT", "RECRUITMENT", "HOUSING", "TRAINING",
)  # fmt: skip
_SUFFIX = ("LTD", "LIMITED", "PLC", "LLP", "& CO", "SERVICES LTD", "GROUP", "TRUST", "- UK LTD")
REDACTED = "REDACTED UNDER DP ACT"
FY_DEFAULT = 2010


@dataclass(frozen=True)
class Council:
    """One English district or county council: GSS code, official name, mid-2019 population."""

    gss: str
    name: str
    population: int


@dataclass
class FileSpec:
    """One file to write (input to a worker) and, once written, what it holds."""

    name: str
    gss: str
    council: str
    style: str
    months: tuple[int, ...]
    rows: int
    seed: tuple[int, ...]
    fy: int = FY_DEFAULT
    bad_rows: int = 0
    amount_pence: int = 0
    bytes: int = 0
    sha256: str = ""
    encoding: str = "utf-8"
    options: dict[str, str] = field(default_factory=dict)


# -- councils and sizes -------------------------------------------------------------------------
def load_councils(mirror: Path) -> list[Council]:
    """Every English district (E06/E07/E08/E09) and county (E10), mid-2019, from the mirror."""
    names: dict[str, str] = {}
    with (mirror / REGISTER).open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            gss = row["gss-code"].strip()
            if gss and (gss not in names or not row["end-date"]):
                names[gss] = row["official-name"].strip() or row["nice-name"].strip()
    out: dict[str, Council] = {}
    for rel, prefixes in (
        (POPULATION_LTLA, ("E06", "E07", "E08", "E09")),
        (POPULATION_UTLA, ("E10",)),
    ):
        with (mirror / rel).open(encoding="utf-8", newline="") as fh:
            for rec in csv.reader(fh):
                code = rec[0]
                if code.startswith(prefixes):
                    name = names.get(code) or f"{rec[1]} Council"
                    out[code] = Council(code, name, int(rec[2]))
    return [out[k] for k in sorted(out)]


def apportion(total: int, weights: list[int]) -> list[int]:
    """``total`` shared by ``weights`` exactly (largest remainder)."""
    big = sum(weights)
    base = [total * w // big for w in weights]
    order = sorted(range(len(weights)), key=lambda i: -((total * weights[i]) % big))
    for i in order[: total - sum(base)]:
        base[i] += 1
    return base


def pick_councils(councils: list[Council], n: int) -> list[Council]:
    """``n`` councils spread evenly over the code list (all when ``n`` is 0)."""
    if not n or n >= len(councils):
        return councils
    return [councils[i * len(councils) // n] for i in range(n)]


def plan(
    councils: list[Council], rows: int, seed: int, rows_per_file: int, fy: int = FY_DEFAULT
) -> list[FileSpec]:
    """The files to write: rows by population, monthly (or longer) files per council."""
    rng = np.random.default_rng([seed, 0])
    styles = rng.choice(len(STYLES), size=len(councils), p=np.array(STYLE_WEIGHTS))
    shares = apportion(rows, [c.population for c in councils])
    specs: list[FileSpec] = []
    for ci, (council, n, si) in enumerate(zip(councils, shares, styles, strict=True)):
        if n == 0:
            continue
        style = STYLES[int(si)]
        nfiles = int(min(12, max(1, round(n / rows_per_file))))
        groups = [tuple(int(m) for m in g) for g in np.array_split(np.arange(12), nfiles)]
        per_file = apportion(n, [len(g) for g in groups])
        slug = "".join(ch if ch.isalnum() else "_" for ch in council.name.lower())[:40]
        for fi, (months, k) in enumerate(zip(groups, per_file, strict=True)):
            year, month = _month(fy, months[0])
            spec = FileSpec(
                name=f"{council.gss}_{slug}_{year}-{month:02d}.csv",
                gss=council.gss,
                council=council.name,
                style=style,
                months=months,
                rows=k,
                seed=(seed, ci, fi),
                fy=fy,
                encoding="cp1252" if style == "bradford" else "utf-8",
                options={"body": council.gss} if style == "bradford" else {},
            )
            specs.append(spec)
    return specs


def _month(fy: int, index: int) -> tuple[int, int]:
    """Month ``index`` (0 = April) of financial year ``fy``: (year, month)."""
    m = 4 + index
    return (fy, m) if m <= 12 else (fy + 1, m - 12)


# -- writing one file ---------------------------------------------------------------------------
def _q(text: str) -> str:
    """A CSV field, quoted when it must be."""
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def suppliers(seed: int, n: int = 4_000) -> list[str]:
    rng = np.random.default_rng([seed, 1])
    a = rng.integers(0, len(_FIRST), n)
    b = rng.integers(0, len(_CORE), n)
    c = rng.integers(0, len(_SUFFIX), n)
    return [f"{_FIRST[i]} {_CORE[j]} {_SUFFIX[k]}" for i, j, k in zip(a, b, c, strict=True)]


def _plain(p: int) -> str:
    sign = "-" if p < 0 else ""
    p = abs(p)
    return f"{sign}{p // 100}.{p % 100:02d}"


def _short(p: int) -> str:
    """Devon 2020 style: ``9792.5``, ``3000``."""
    text = _plain(p)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _padded(p: int) -> str:
    """Report style: space-padded, thousands, credit notes in brackets, quoted."""
    body = f"{abs(p) // 100:,}.{abs(p) % 100:02d}"
    return f'"({body})"' if p < 0 else f'" {body} "'


def write_file(spec: FileSpec, out: Path, supplier_names: list[str]) -> FileSpec:
    """Write one file; fill in its bytes, SHA-256, broken rows and amount."""
    rng = np.random.default_rng(list(spec.seed))
    n = spec.rows
    days: list[dt.date] = []
    for m in spec.months:
        year, month = _month(spec.fy, m)
        days += [dt.date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]
    day_idx = np.sort(rng.integers(0, len(days), n))
    sup_idx = (len(supplier_names) * rng.random(n) ** 2.2).astype(np.int64)
    area_idx = rng.integers(0, len(AREAS), n)
    type_idx = rng.integers(0, len(TYPES), n)
    pence = (50_000 + rng.lognormal(np.log(120_000), 1.4, n)).astype(np.int64)
    credit = rng.random(n) < 0.012
    pence = np.where(credit, -(pence // 7), pence)
    bad = rng.random(n) < 1.0 / BAD_EVERY
    bad_kind = rng.integers(0, 2, n)
    redacted = rng.random(n) < 0.08
    txn0 = int(rng.integers(10_000_000, 90_000_000))
    style = spec.style
    council, gss = spec.council, spec.gss
    sup_text = [
        REDACTED if r else supplier_names[i] for i, r in zip(sup_idx, redacted, strict=True)
    ]
    if style == "bradford":
        sup_text = [s.replace("'", "\u2019").replace(" - ", " \u2013 ") for s in sup_text]
    sup_q = [_q(s) for s in sup_text]
    areas_q = [_q(a) for a in AREAS]
    types_q = [_q(t) for t in TYPES]
    name_q = _q(council)

    if style in ("devon", "report"):
        date_text = [d.strftime("%d/%m/%Y") for d in days]
    elif style == "devon_bom":
        date_text = [f"{d.isoformat()} 00:00:00" for d in days]
    else:
        date_text = [d.isoformat() for d in days]
    dates = [date_text[i] for i in day_idx]
    fmt = {"devon_bom": _short, "report": _padded}.get(style, _plain)
    amounts = [fmt(int(p)) for p in pence]
    for i in np.flatnonzero(bad):
        if bad_kind[i]:
            dates[i] = "31/02/2011" if style in ("devon", "report") else "2011-02-31"
        else:
            amounts[i] = "TBC"
    good_pence = int(pence[~bad].sum())

    lines: list[str] = []
    nl = "\r\n" if style in ("devon", "devon_bom") else "\n"
    if style in ("devon", "devon_bom"):
        vat = "VAT Reg no" if style == "devon" else "Vat Reg No"
        lines.append(
            "Body,Name of Body,Date,Transaction Number,Invoice Number,Amount,Supplier Name,"
            f"Supplier ID,{vat},Expense Area,Expense Type,Expense Code,Creditor Type"
        )
        lines += [
            f"{gss},{name_q},{d},CF{txn0 + k},{'REDACTED UNDER DP ACT' if r else f'INV{txn0 + k}'},"
            f"{a},{s},{100000 + si},,{areas_q[ai]},{types_q[ti]},{5000 + ti},B"
            for k, (d, a, s, si, ai, ti, r) in enumerate(
                zip(dates, amounts, sup_q, sup_idx, area_idx, type_idx, redacted, strict=True)
            )
        ]
    elif style == "bradford":
        lines.append(
            "Service Code,Service Label,Expenditure code,Expenditure category,Payment date,"
            "Transaction Number,Net Amount,Supplier Number,Supplier Name"
        )
        lines += [
            f"S{ai:03d},{areas_q[ai]},{2300 + ti},{types_q[ti]},{d},{txn0 + k},{a},"
            f"{100000 + si},{s}"
            for k, (d, a, s, si, ai, ti) in enumerate(
                zip(dates, amounts, sup_q, sup_idx, area_idx, type_idx, strict=True)
            )
        ]
    elif style == "manchester":
        lines.append(
            "Body Name,Service Area,Expenses Type,Invoice Payment Date,Transaction Number,Amount,"
            "Supplier Name"
        )
        lines += [
            f"{name_q},{areas_q[ai]},{types_q[ti]},{d},{txn0 + k},{a},{s}"
            for k, (d, a, s, ai, ti) in enumerate(
                zip(dates, amounts, sup_q, area_idx, type_idx, strict=True)
            )
        ]
    else:  # report
        first = days[0]
        lines += [
            name_q,
            f"Payments to suppliers over \u00a3500: {first:%B %Y}",
            "",
            "Body Name,Date,Expense Area,Expense Type,Supplier Name,Transaction Number,Amount",
        ]
        month_of = [days[i].month for i in day_idx]
        running = 0
        for k in range(n):
            if k and month_of[k] != month_of[k - 1]:
                lines += ["", f",,,Total for {days[day_idx[k - 1]]:%B %Y},,,{_plain(running)}"]
                running = 0
            lines.append(
                f"{name_q},{dates[k]},{areas_q[area_idx[k]]},{types_q[type_idx[k]]},{sup_q[k]},"
                f"T{txn0 + k},{amounts[k]}"
            )
            running += int(pence[k])
        if n:
            lines += ["", f",,,Total for {days[day_idx[-1]]:%B %Y},,,{_plain(running)}"]
        lines.append(f"Grand Total,,,,,,{_plain(int(pence.sum()))}")
    text = nl.join(lines) + nl
    data = text.encode(spec.encoding)
    if style == "devon_bom":
        data = b"\xef\xbb\xbf" + data
    (out / spec.name).write_bytes(data)
    spec.bytes = len(data)
    spec.sha256 = hashlib.sha256(data).hexdigest()
    spec.bad_rows = int(bad.sum())
    spec.amount_pence = good_pence
    return spec


def _write_many(args: tuple[list[FileSpec], str, int]) -> list[FileSpec]:
    specs, out, seed = args
    names = suppliers(seed)
    return [write_file(s, Path(out), names) for s in specs]


def _chunks(specs: list[FileSpec], size: int) -> Iterable[list[FileSpec]]:
    for i in range(0, len(specs), size):
        yield specs[i : i + size]


# -- the whole set ------------------------------------------------------------------------------
def generate(
    rows: int,
    out: Path,
    *,
    seed: int = 2010,
    rows_per_file: int = 6_000,
    mirror: Path | None = None,
    workers: int | None = None,
    fy: int = FY_DEFAULT,
    councils: int = 0,
) -> dict[str, Any]:
    """Write the files and ``manifest.json`` to ``out``; return the manifest.

    An existing set with the same parameters (its manifest says so) is reused as it is.
    """
    from totalplace.config import default_mirror

    mirror = mirror or default_mirror()
    if mirror is None:
        raise SystemExit("no data mirror: set TOTALPLACE_MIRROR (the ONS population files)")
    params = {
        "rows": rows,
        "seed": seed,
        "rows_per_file": rows_per_file,
        "fy": fy,
        "councils": councils,
    }
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        files_ok = all((out / f["name"]).exists() for f in old.get("files", []))
        if old.get("params") == params and old.get("complete") and files_ok:
            old["reused"] = True
            return dict(old)
    if out.is_dir() and any(out.glob("*.csv")) and not manifest_path.exists():
        raise SystemExit(f"{out} holds CSV files but no manifest.json: choose an empty folder")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.csv"):  # an earlier set with other parameters, or unfinished
        stale.unlink()
    manifest_path.write_text(json.dumps({"params": params, "complete": False}))
    start = time.perf_counter()
    specs = plan(pick_councils(load_councils(mirror), councils), rows, seed, rows_per_file, fy)
    # big files first so the workers finish together
    order = sorted(specs, key=lambda s: -s.rows)
    jobs = [(chunk, str(out), seed) for chunk in _chunks(order, 16)]
    done: dict[str, FileSpec] = {}
    n_workers = workers or os.cpu_count() or 1
    if n_workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=n_workers) as pool:
            for result in pool.map(_write_many, jobs):
                done.update({s.name: s for s in result})
    else:
        for job in jobs:
            done.update({s.name: s for s in _write_many(job)})
    files = [asdict(done[s.name]) for s in specs]
    seconds = time.perf_counter() - start
    manifest: dict[str, Any] = {
        "params": params,
        "councils": len({f["gss"] for f in files}),
        "files": files,
        "rows": sum(f["rows"] for f in files),
        "bad_rows": sum(f["bad_rows"] for f in files),
        "bytes": sum(f["bytes"] for f in files),
        "amount_pence": sum(f["amount_pence"] for f in files),
        "styles": {s: sum(f["rows"] for f in files if f["style"] == s) for s in STYLES},
        "seconds": round(seconds, 2),
        "digest": hashlib.sha256("".join(f["sha256"] for f in files).encode()).hexdigest(),
        "reused": False,
        "complete": True,
    }
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest


def summary(manifest: dict[str, Any]) -> str:
    m = manifest
    styles = ", ".join(f"{k} {v:,}" for k, v in m["styles"].items())
    return (
        f"generated {m['rows']:,} rows ({m['bad_rows']:,} broken) in {len(m['files']):,} files "
        f"for {m['councils']} councils, {m['bytes'] / 1e6:,.1f} MB, in {m['seconds']:.1f} s"
        f"{' (reused)' if m.get('reused') else ''}\nrows by style: {styles}\n"
        f"digest {m['digest'][:16]}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", default="small", help="tiny|small|1m|5m|20m or a number (1.5m)")
    ap.add_argument("--out", type=Path, help="folder (default benchmarks/.data/<rows>)")
    ap.add_argument("--seed", type=int, default=2010)
    ap.add_argument("--rows-per-file", type=int, default=6_000)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--councils", type=int, default=0, help="only N councils (0: all England)")
    args = ap.parse_args(argv)
    rows = rows_for(args.rows)
    suffix = f"-{args.councils}" if args.councils else ""
    out = args.out or DATA_DIR / f"spend-{rows}{suffix}"
    manifest = generate(
        rows,
        out,
        seed=args.seed,
        rows_per_file=args.rows_per_file,
        workers=args.workers,
        councils=args.councils,
    )
    print(summary(manifest))
    print(f"folder {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
