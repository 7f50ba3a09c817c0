"""Snapshots: the workshop state frozen as canonical JSON, named by its SHA-256, and the
workshop pack exported from one (an XLSX with a sheet per view, the same tables as CSVs in a
zip, and an HTML summary).

The content holds the figures (from the count), the challenges and every scenario with its
result, and nothing that changes when nothing happened (no freezing time, no label), so freezing
the same state twice gives the same hash. Exports neutralise text that a spreadsheet would run
as a formula (leading = + - @ tab or CR get a single quote) and keep numbers as numbers.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import os
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet.worksheet import Worksheet

from totalplace.workshop import scenarios as sc

FORMAT = "totalplace.workshop.snapshot/1"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
GBP_FORMAT = "#,##0.00;[Red]-#,##0.00"


# -- content ------------------------------------------------------------------------------------
def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text, no NaN: the same state always gives the same text."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def content_hash(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def verify(content_text: str, expected_hash: str) -> bool:
    """True when stored content still hashes to its name (and is in canonical form)."""
    content = json.loads(content_text)
    return canonical_json(content) == content_text and content_hash(content) == expected_hash


def frame_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A normalised baseline or scenario frame as JSON records (amounts as ints)."""
    return [
        {"agency_type": str(a), "function": str(f), "amount_pence": int(v)}
        for a, f, v in zip(df["agency_type"], df["function"], df["amount_pence"], strict=True)
    ]


def scenario_result(
    baseline: pd.DataFrame,
    changes: Sequence[Mapping[str, Any]],
    alternatives: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """A scenario applied to the baseline, as JSON; a refused scenario records its error."""
    try:
        frame, log = sc.apply(baseline, changes, alternatives)
    except sc.ScenarioError as exc:
        return {"error": str(exc), "rows": None, "total_pence": None, "log": []}
    return {
        "error": None,
        "rows": frame_records(frame),
        "total_pence": int(frame["amount_pence"].sum()),
        "log": [entry.to_dict() for entry in log],
    }


def build_content(
    *,
    workshop: Mapping[str, Any],
    figures: pd.DataFrame,
    challenges: Sequence[Mapping[str, Any]],
    scenarios: Sequence[Mapping[str, Any]],
    figures_meta: Mapping[str, Any] | None = None,
    alternatives: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """The state to freeze. ``scenarios``: dicts with id, name, version and changes."""
    baseline = sc.normalise(figures)
    return {
        "format": FORMAT,
        "workshop": dict(workshop),
        "figures": {
            "rows": frame_records(baseline),
            "total_pence": int(baseline["amount_pence"].sum()),
            "meta": dict(figures_meta) if figures_meta else None,
            "alternative_drivers": sorted(alternatives or {}),
        },
        "challenges": sorted((dict(c) for c in challenges), key=lambda c: c["id"]),
        "scenarios": [
            {**dict(s), "result": scenario_result(baseline, s["changes"], alternatives)}
            for s in sorted(scenarios, key=lambda s: s["id"])
        ],
    }


# -- safe cells ---------------------------------------------------------------------------------
def safe_cell(value: Any) -> Any:
    """A value safe to write to a spreadsheet cell.

    Text that a spreadsheet would read as a formula (starting = + - @ tab or CR) gets a leading
    single quote; characters XLSX cannot hold are dropped. Numbers and booleans stay as they are;
    NaN becomes empty; anything else becomes text.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if value != value else value
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return safe_cell(value.item())
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


# -- the pack -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportPack:
    xlsx: Path
    html: Path
    csv: Path  # a zip of one CSV per table


def _sheet_title(name: str, taken: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", " ", name).strip().strip("'")[:31] or "Sheet"
    title, n = base, 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


def _write(
    ws: Worksheet,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    money_cols: Sequence[int] = (),
) -> None:
    ws.append([safe_cell(h) for h in header])
    for row in rows:
        ws.append([safe_cell(v) for v in row])
    for col in money_cols:
        for cells in ws.iter_cols(min_col=col + 1, max_col=col + 1, min_row=2):
            for cell in cells:
                cell.number_format = GBP_FORMAT
    ws.freeze_panes = "A2"


def _gbp(pence: int | None) -> float | None:
    return None if pence is None else pence / 100


def _cell_map(records: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], int]:
    return {(r["agency_type"], r["function"]): int(r["amount_pence"]) for r in records}


def _comparison(content: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Baseline and every scenario side by side, cell by cell, with differences (in £)."""
    base = _cell_map(content["figures"]["rows"])
    ok = [s for s in content["scenarios"] if s["result"]["rows"] is not None]
    maps = [_cell_map(s["result"]["rows"]) for s in ok]
    header = ["agency_type", "function", "baseline (£)"]
    for s in ok:
        header += [f"{s['name']} (£)", f"{s['name']}: difference (£)"]
    rows = []
    for cell in sorted(set(base).union(*maps)):
        b = base.get(cell, 0)
        row: list[Any] = [cell[0], cell[1], _gbp(b)]
        for m in maps:
            row += [_gbp(m.get(cell, 0)), _gbp(m.get(cell, 0) - b)]
        rows.append(row)
    return header, rows


@dataclass(frozen=True)
class PackTable:
    """One table of the pack: a sheet of the XLSX and a CSV in the zip."""

    title: str
    header: list[str]
    rows: list[list[Any]]
    money_cols: Sequence[int] = ()


def pack_tables(
    content: Mapping[str, Any], events: Sequence[Mapping[str, Any]], *, meta: Mapping[str, Any]
) -> list[PackTable]:
    """The pack's tables: summary, baseline, one per scenario, comparison, changes,
    invest-to-save tables, challenges and the audit trail (values as they are, not yet safe)."""
    w = content["workshop"]
    tables = [
        PackTable(
            "Summary",
            ["item", "value"],
            [
                ["place", w["place_name"]],
                ["districts", ", ".join(w["place_codes"])],
                ["year", w["year"]],
                ["theme", w["theme"] or ""],
                *([k, v] for k, v in meta.items()),
                ["baseline total (£)", _gbp(content["figures"]["total_pence"])],
            ],
        ),
        PackTable(
            "Baseline",
            ["agency_type", "function", "amount (£)", "amount_pence"],
            [
                [r["agency_type"], r["function"], _gbp(r["amount_pence"]), r["amount_pence"]]
                for r in content["figures"]["rows"]
            ],
            [2],
        ),
    ]
    changes, invest = [], []
    for s in content["scenarios"]:
        res = s["result"]
        title = f"S{s['id']} {s['name']}"
        if res["rows"] is None:
            tables.append(PackTable(title, ["scenario", "refused"], [[s["name"], res["error"]]]))
        else:
            tables.append(
                PackTable(
                    title,
                    ["agency_type", "function", "amount (£)", "amount_pence"],
                    [
                        [
                            r["agency_type"],
                            r["function"],
                            _gbp(r["amount_pence"]),
                            r["amount_pence"],
                        ]
                        for r in res["rows"]
                    ],
                    [2],
                )
            )
        for e in res["log"]:
            changes.append([s["name"], e["step"], e["kind"], e["applied"], e["message"]])
            for t in e["table"] or []:
                invest.append(
                    [
                        s["name"],
                        e["step"],
                        *(_gbp(t[c]) if c != "year" else t[c] for c in sc.INVEST_COLUMNS),
                    ]
                )
    header, rows = _comparison(content)
    tables.append(PackTable("Comparison", header, rows, range(2, len(header))))
    tables.append(
        PackTable("Changes", ["scenario", "step", "kind", "applied", "what it did"], changes)
    )
    tables.append(
        PackTable(
            "Invest to save",
            [
                "scenario",
                "step",
                "year",
                "cost (£)",
                "saving (£)",
                "cashable saving (£)",
                "net (£)",
                "cumulative net (£)",
            ],
            invest,
            range(3, 8),
        )
    )
    ch_cols = [
        "id",
        "place",
        "year",
        "agency_type",
        "function",
        "theme",
        "text",
        "proposed_amount_pence",
        "proposed_driver",
        "author",
        "status",
        "reason",
        "decided_by",
        "decided_at",
        "created_at",
        "scenario",
    ]
    tables.append(
        PackTable(
            "Challenges", ch_cols, [[c.get(k) for k in ch_cols] for c in content["challenges"]]
        )
    )
    ev_cols = ["id", "at", "actor", "role", "action", "target", "why", "payload"]
    tables.append(
        PackTable(
            "Audit",
            ev_cols,
            [
                [
                    e["id"],
                    e["at"],
                    e["actor"],
                    e["role"],
                    e["action"],
                    e["target"],
                    e["why"],
                    canonical_json(e["payload"]),
                ]
                for e in events
            ],
        )
    )
    return tables


def write_xlsx(
    content: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    path: Path,
    *,
    meta: Mapping[str, Any],
) -> Path:
    """The workshop pack workbook: one sheet per ``pack_tables`` table."""
    wb = Workbook()
    taken: set[str] = set()
    first = wb.active
    assert first is not None
    for i, table in enumerate(pack_tables(content, events, meta=meta)):
        ws = first if i == 0 else wb.create_sheet()
        ws.title = _sheet_title(table.title, taken)
        _write(ws, table.header, table.rows, money_cols=table.money_cols)
    wb.save(path)
    return path


def _csv_name(title: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:60] or "table"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return f"{name}.csv"


def write_csv_zip(
    content: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    path: Path,
    *,
    meta: Mapping[str, Any],
) -> Path:
    """The pack's tables as one CSV each (UTF-8 with BOM, so spreadsheets read £ right) in a
    zip, every cell made safe exactly as in the XLSX (``safe_cell``): no formula can run."""
    taken: set[str] = set()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i, table in enumerate(pack_tables(content, events, meta=meta), start=1):
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\r\n")
            writer.writerow([safe_cell(h) for h in table.header])
            writer.writerows([safe_cell(v) for v in row] for row in table.rows)
            name = f"{i:02d}_{_csv_name(table.title, taken)}"
            zf.writestr(name, "\ufeff" + buf.getvalue())
    return path


def write_pack(
    content: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    out_dir: Path,
    *,
    meta: Mapping[str, Any],
    stem: str = "workshop_pack",
) -> ExportPack:
    """Write ``<stem>.xlsx``, ``<stem>.html`` and ``<stem>.csv.zip`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # each file is written under a temporary name and renamed into place, so a crash mid-export
    # never leaves a half-written pack that looks complete
    xlsx, page, zipped = (
        out_dir / f"{stem}.xlsx",
        out_dir / f"{stem}.html",
        out_dir / f"{stem}.csv.zip",
    )
    tmp_xlsx, tmp_page, tmp_zip = (out_dir / f".{p.name}.part" for p in (xlsx, page, zipped))
    write_xlsx(content, events, tmp_xlsx, meta=meta)
    tmp_page.write_text(render_html(content, events, meta=meta), encoding="utf-8")
    write_csv_zip(content, events, tmp_zip, meta=meta)
    os.replace(tmp_xlsx, xlsx)
    os.replace(tmp_page, page)
    os.replace(tmp_zip, zipped)
    return ExportPack(xlsx=xlsx, html=page, csv=zipped)


# -- the HTML summary ---------------------------------------------------------------------------
_CSS = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3;text-align:left}
.neg{color:#b00}.muted{color:#666}code{font-size:.85em}"""
_COLOURS = ("#4c6a92", "#d08c2b", "#5b9b5b", "#a05195", "#c9493b", "#2f8f9d", "#7a6c5d")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _money(pence: int | None) -> str:
    if pence is None:
        return ""
    cls = ' class="n neg"' if pence < 0 else ' class="n"'
    return f"<td{cls}>{_e(sc.gbp(pence))}</td>"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _by_agency(records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        out[r["agency_type"]] = out.get(r["agency_type"], 0) + int(r["amount_pence"])
    return out


def _svg_bars(categories: Sequence[str], series: Sequence[tuple[str, dict[str, int]]]) -> str:
    """Grouped horizontal bars (one group per agency type), drawn inline: no script, no fetch."""
    label_w, bar_w, bar_h, gap = 260, 420, 12, 10
    top = max((v for _, d in series for v in d.values()), default=0) or 1
    group_h = bar_h * len(series) + gap
    height = group_h * len(categories) + 20 * len(series) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 140}" '
        f'height="{height}" role="img" aria-label="Spend by agency type">'
    ]
    for i, cat in enumerate(categories):
        y0 = i * group_h
        parts.append(
            f'<text x="{label_w - 6}" y="{y0 + bar_h}" text-anchor="end" '
            f'font-size="11">{_e(cat[:40])}</text>'
        )
        for j, (_, data) in enumerate(series):
            v = data.get(cat, 0)
            w = max(0, round(bar_w * v / top))
            y = y0 + j * bar_h
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h - 2}" '
                f'fill="{_COLOURS[j % len(_COLOURS)]}"><title>{_e(sc.gbp(v))}</title>'
                "</rect>"
            )
            parts.append(
                f'<text x="{label_w + w + 4}" y="{y + bar_h - 3}" font-size="9">'
                f"{_e(sc.gbp(v))}</text>"
            )
    y = group_h * len(categories) + 4
    for j, (name, _) in enumerate(series):
        parts.append(
            f'<rect x="{label_w}" y="{y + 20 * j}" width="12" height="12" '
            f'fill="{_COLOURS[j % len(_COLOURS)]}"></rect><text x="{label_w + 18}" '
            f'y="{y + 20 * j + 10}" font-size="11">{_e(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(
    content: Mapping[str, Any], events: Sequence[Mapping[str, Any]], *, meta: Mapping[str, Any]
) -> str:
    """A self-contained HTML summary: figures, scenarios, challenges, audit (no network)."""
    w, fig = content["workshop"], content["figures"]
    base = _by_agency(fig["rows"])
    ok = [s for s in content["scenarios"] if s["result"]["rows"] is not None]
    series = [("Baseline", base)] + [(s["name"], _by_agency(s["result"]["rows"])) for s in ok]
    cats = sorted(set().union(*(d.keys() for _, d in series)), key=lambda c: -base.get(c, 0))
    rows = [[f"<td>{_e(c)}</td>", *(_money(d.get(c, 0)) for _, d in series)] for c in cats]
    rows.append(["<th>Total</th>", *(_money(sum(d.values())) for _, d in series)])
    title = f"{w['place_name']} {w['year']}" + (f": {w['theme']}" if w["theme"] else "")
    out = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f"<title>Workshop pack: {_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Workshop pack: {_e(title)}</h1>",
        '<p class="muted">' + "; ".join(f"{_e(k)}: {_e(v)}" for k, v in meta.items()) + "</p>",
        f"<p>Districts: {_e(', '.join(w['place_codes']))}. Baseline total "
        f"<strong>{_e(sc.gbp(fig['total_pence']))}</strong>.</p>",
        "<h2>Spend by agency type</h2>",
        _svg_bars(cats, series),
        _table(["agency type", *(n for n, _ in series)], rows),
        "<h2>Scenarios</h2>",
    ]
    if not content["scenarios"]:
        out.append("<p>No scenarios.</p>")
    for s in content["scenarios"]:
        res = s["result"]
        out.append(
            f'<h3>{_e(s["name"])} <span class="muted">(version {_e(s["version"])})</span></h3>'
        )
        if res["rows"] is None:
            out.append(f'<p class="neg">Refused: {_e(res["error"])}</p>')
            continue
        diff = res["total_pence"] - fig["total_pence"]
        out.append(
            f"<p>Total {_e(sc.gbp(res['total_pence']))} (difference {_e(sc.gbp(diff))}).</p><ol>"
        )
        out += [f"<li>{_e(e['message'])}</li>" for e in res["log"]]
        out.append("</ol>")
        for e in res["log"]:
            if e["table"]:
                out.append(
                    _table(
                        ["year", "cost", "saving", "cashable saving", "net", "cumulative net"],
                        [
                            [
                                f'<td class="n">{t["year"]}</td>',
                                *(_money(t[c]) for c in sc.INVEST_COLUMNS[1:]),
                            ]
                            for t in e["table"]
                        ],
                    )
                )
    out.append("<h2>Challenges</h2>")
    out.append(
        _table(
            ["#", "cell", "challenge", "proposed", "author", "status", "reason"],
            [
                [
                    f"<td>{c['id']}</td>",
                    f"<td>{_e(c['agency_type'])} × {_e(c['function'] or c['theme'])}</td>",
                    f"<td>{_e(c['text'])}</td>",
                    _money(c["proposed_amount_pence"])
                    if c["proposed_amount_pence"] is not None
                    else f"<td>{_e(c['proposed_driver'])}</td>",
                    f"<td>{_e(c['author'])}</td>",
                    f"<td>{_e(c['status'])}</td>",
                    f"<td>{_e(c['reason'])}</td>",
                ]
                for c in content["challenges"]
            ],
        )
        if content["challenges"]
        else "<p>No challenges.</p>"
    )
    out.append(f"<h2>Audit trail</h2><p>{len(events)} event(s) up to this snapshot.</p>")
    out.append(
        _table(
            ["when (UTC)", "who", "role", "action", "target", "why"],
            [
                [
                    f"<td>{_e(e['at'])}</td>",
                    f"<td>{_e(e['actor'])}</td>",
                    f"<td>{_e(e['role'])}</td>",
                    f"<td>{_e(e['action'])}</td>",
                    f"<td>{_e(e['target'])}</td>",
                    f"<td>{_e(e['why'])}</td>",
                ]
                for e in events
            ],
        )
    )
    out.append("</body></html>")
    return "\n".join(out)
