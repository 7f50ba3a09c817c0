"""`totalplace deepdive`: theme-specific spend for a place (a typer sub-app the main CLI mounts).

Thin: the figures come from ``totalplace.deepdive.engine``; this module only prints and writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from totalplace.errors import TotalPlaceError

if TYPE_CHECKING:  # pandas and the engine load when a command runs, not with `--help`
    import pandas as pd

    from totalplace.deepdive.engine import ThemeBreakdown

app = typer.Typer(help="Deep dive: theme-specific spend with transparent rules.")
console = Console()
err = Console(stderr=True)
FORMATS = ("table", "json", "csv", "xlsx")


def _gbp(pence: int | float) -> str:
    return f"£{pence / 100:,.0f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


@app.command("deepdive")
def deepdive(
    place: Annotated[str, typer.Option(help="Pilot name, GSS code(s) or place file.")],
    year: Annotated[str, typer.Option(help="Financial year, e.g. 2010-11.")],
    theme: Annotated[str, typer.Option(help="Theme id (see `themes`) or a .toml theme file.")],
    explain: Annotated[
        bool,
        typer.Option("--explain", help="Per rule: lines matched, source amount, share, top lines."),
    ] = False,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="table, json, csv (summary; every line with --explain) or xlsx (needs --output).",
        ),
    ] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", help="Workspace folder (default $TOTALPLACE_WORKSPACE)."),
    ] = None,
    top: Annotated[int, typer.Option(help="Top lines per rule with --explain.")] = 5,
    prices: Annotated[
        str | None,
        typer.Option(
            "--prices", help="Real terms in this financial year's prices (default: latest outturn)."
        ),
    ] = None,
) -> None:
    """Theme spend for a place and year: by agency, function, mode, control; pooling; checks."""
    from totalplace.config import Settings, default_workspace
    from totalplace.count.engine import real_terms
    from totalplace.deepdive.engine import deep_dive
    from totalplace.deepdive.rules import load_theme
    from totalplace.ingest.values import normalise_financial_year
    from totalplace.workspace import Workspace

    if format not in FORMATS:
        _fail(f"--format must be one of {', '.join(FORMATS)}")
    if format == "xlsx" and output is None:
        _fail("--format xlsx needs --output FILE.xlsx")
    try:
        ws = Workspace(Settings(workspace=(workspace or default_workspace()).resolve()))
        fy = normalise_financial_year(year)
        result = deep_dive(ws.store, ws.place(place), fy, load_theme(theme))
        real = real_terms(
            ws.store,
            fy,
            result.total_pence,
            result.population,
            normalise_financial_year(prices) if prices else None,
        )
    except (TotalPlaceError, ValueError) as exc:
        _fail(str(exc))
        return
    if format == "json":
        body = result.to_json(explain=explain, top=top) | {"real_terms": real}
        _emit(json.dumps(body, indent=2) + "\n", output)
    elif format == "csv":
        frame = result.allocations if explain else long_table(result)
        _emit(_safe(frame).to_csv(index=False), output)
    elif format == "xlsx":
        assert output is not None
        write_xlsx(result, output)
        console.print(f"wrote {output}")
    else:
        print_breakdown(result, explain=explain, top=top)
        if real is not None:
            from totalplace.count.deflators import describe_real_terms

            console.print(describe_real_terms(real))
    if result.errors:
        raise typer.Exit(code=1)


@app.command("themes")
def themes() -> None:
    """List the built-in deep-dive themes."""
    from totalplace.count.drivers import builtin_drivers
    from totalplace.deepdive.rules import builtin_themes

    table = Table(title="Deep-dive themes (data/themes)")
    for col in ("id", "name", "population", "rules"):
        table.add_column(col)
    for t in builtin_themes().values():
        table.add_row(
            t.id, t.name, builtin_drivers()[t.population].population_label, str(len(t.rules))
        )
    console.print(table)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=1)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")


def _safe(frame: pd.DataFrame) -> pd.DataFrame:
    from totalplace.export.tables import safe_frame

    return safe_frame(frame)


def long_table(result: ThemeBreakdown) -> pd.DataFrame:
    """Every summary table stacked: table, group, item, amount_pence, amount_gbp, share."""
    import pandas as pd

    parts = [
        ("total", result.theme.name, "", result.total_pence, 1.0),
        ("relevant", "relevant spend", "", result.relevant_pence, None),
        ("relevant", "unallocated", "", result.unallocated_pence, result.unallocated_share),
    ]
    rows = [
        dict(zip(("table", "group", "item", "amount_pence", "share"), p, strict=True))
        for p in parts
    ]
    specs = (
        ("by_agency", result.by_agency(), "agency_type", "agency"),
        ("by_function", result.by_function(), "function", "line"),
        ("mode", result.split("mode"), "mode", None),
        ("control", result.split("control"), "control", None),
        ("rules", result.by_rule(), "rule", "label"),
        ("pooling", result.pooling(), "service_type", "agency_type"),
    )
    for name, df, group, item in specs:
        total = result.total_pence
        for r in df.to_dict("records"):
            rows.append(
                {
                    "table": name,
                    "group": r[group],
                    "item": r[item] if item else "",
                    "amount_pence": int(r["amount_pence"]),
                    "share": r["amount_pence"] / total if total else None,
                }
            )
    out = pd.DataFrame(rows)
    out.insert(4, "amount_gbp", out["amount_pence"] / 100)
    return out


def write_xlsx(result: ThemeBreakdown, path: Path) -> Path:
    """One sheet per table (summary, by agency, by function, splits, pooling, rules, checks,
    lines); text cells that would run as formulas are neutralised."""
    import pandas as pd

    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, frame in result.tables().items():
            _safe(frame).to_excel(xl, sheet_name=name[:31], index=False)
    return path


def print_breakdown(result: ThemeBreakdown, explain: bool = False, top: int = 5) -> None:
    """The deep dive as rich tables."""
    s = result.summary()
    console.print(
        f"[bold]{escape(result.place_name)} {result.year}: {escape(result.theme.name)}[/]"
    )
    console.print(
        f"Theme spend [bold]{_gbp(result.total_pence)}[/] ({_pct(s['share_of_count'])} of the "
        f"count, {_gbp(result.count_total_pence)}) · {result.population:,} "
        f"{_population_label(result)} (mid-{result.population_year}) · "
        f"£{(result.per_head_gbp or 0):,.0f} per head"
    )
    _print(result.by_agency(), "By agency", ["agency_type", "agency"])
    _print(result.by_function(), "By function and service line", ["function", "line"])
    for col in ("mode", "control"):
        _print(result.split(col), f"Split: {col}", [col])
    pool = result.pooling()
    _print(
        pool[pool["candidate"]],
        "Pooling candidates (service types with 2+ agency types)",
        ["service_type", "agency_type", "agencies"],
        share=False,
    )
    console.print(
        f"Relevant spend ({escape(result.theme.relevant_text())}): "
        f"{_gbp(result.relevant_pence)}; "
        f"unallocated {_gbp(result.unallocated_pence)} ({_pct(result.unallocated_share)})"
    )
    if result.outside_relevant_pence:
        console.print(
            f"Theme spend from lines outside 'relevant': {_gbp(result.outside_relevant_pence)}"
        )
    if explain:
        _print_explain(result, top)
    else:
        _print(
            result.by_rule(),
            "Rules (use --explain for the lines)",
            ["rule", "share", "mode", "control"],
            share=False,
        )
    for e in result.errors:
        console.print(f"[bold red]error:[/] {escape(e)}")
    for c in result.caveats:
        console.print(f"[dim]• {escape(c)}[/]")


def _population_label(result: ThemeBreakdown) -> str:
    from totalplace.count.drivers import builtin_drivers

    return builtin_drivers()[result.theme.population].population_label


def _print(df: pd.DataFrame, title: str, cols: list[str], share: bool = True) -> None:
    """Columns ``cols``, the amount and (if ``share``) its share of the theme total."""
    import pandas as pd

    table = Table(title=title)
    for c in cols:
        table.add_column(c.replace("_", " "), overflow="fold")
    table.add_column("amount", justify="right")
    if share:
        table.add_column("share", justify="right")
    for r in df.to_dict("records"):
        cells = [("" if pd.isna(r[c]) else escape(str(r[c]))) for c in cols]
        cells.append(_gbp(r["amount_pence"]))
        table.add_row(*cells, *([_pct(r["share"])] if share else []))
    console.print(table)


def _print_explain(result: ThemeBreakdown, top: int) -> None:
    for r in result.explain(top):
        console.print(
            f"\n[bold]{r['rule']}[/] — {escape(r['label'])}: {r['lines']:,} lines "
            f"({r['source_rows']:,} source rows), source {_gbp(r['source_pence'])} × "
            f"{escape(r['share'])} = [bold]{_gbp(r['amount_pence'])}[/] · {r['mode']}, "
            f"{r['control']}, {escape(r['service_type'])}"
        )
        console.print(f"  match: {escape(r['match'])}")
        console.print(f"  {escape(r['evidence'])}")
        if r.get("problem"):
            console.print(f"  [red]{escape(r['problem'])}[/]")
        for t in r["top_lines"]:
            what = " / ".join(x for x in (t["agency"], t["description"], t["service_line"]) if x)
            console.print(
                f"    {escape(t['file'])} row {t['row']:,}: {escape(what)}: "
                f"{_gbp(t['source_pence'])} → {_gbp(t['amount_pence'])}"
            )
