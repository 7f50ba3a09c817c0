"""The command line: thin typer commands; the work happens in the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from totalplace.config import Settings, default_mirror, default_workspace
from totalplace.errors import TotalPlaceError

if TYPE_CHECKING:  # the progress bar loads with the commands that show one (build, ingest)
    from rich.progress import Progress

app = typer.Typer(help="totalplace: map all public spending in a place.", no_args_is_help=True)
sources_app = typer.Typer(help="The catalogue of public sources and the data mirror.")
app.add_typer(sources_app, name="sources")


def _mount_deepdive() -> None:
    from totalplace.deepdive.cli import app as deepdive_app

    app.add_typer(deepdive_app)


_mount_deepdive()
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace folder (default $TOTALPLACE_WORKSPACE)."),
]
MirrorOpt = Annotated[
    Path | None, typer.Option("--mirror", help="Data mirror folder (default $TOTALPLACE_MIRROR).")
]


def _settings(workspace: Path | None, mirror: Path | None = None) -> Settings:
    return Settings(
        workspace=(workspace or default_workspace()).resolve(),
        mirror=(mirror.resolve() if mirror else default_mirror()),
    )


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code=getattr(exc, "exit_code", 1))  # StoreBusyError: 75, retry later


def _gbp(pence: int | float) -> str:
    return f"£{pence / 100:,.0f}"


def _progress() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


@app.command()
def build(
    workspace: WorkspaceOpt = None,
    mirror: MirrorOpt = None,
    rebuild: Annotated[bool, typer.Option(help="Delete the store and build from scratch.")] = False,
    precompute: Annotated[
        bool,
        typer.Option(
            help="Also compute every pilot's count and England's spend by district for every "
            "year, so the dashboard and the API answer at once (about a minute)."
        ),
    ] = True,
) -> None:
    """Load every catalogue source that has an adapter into the workspace (no serving)."""
    from totalplace.build import build_workspace, precompute_results

    settings = _settings(workspace, mirror)
    try:
        with _progress() as bar:
            task = bar.add_task("build", total=None)

            def step(msg: str, done: int, total: int) -> None:
                bar.update(task, description=msg, completed=done, total=total)

            reports = build_workspace(settings, progress=step, rebuild=rebuild)
            done = None
            if precompute:
                bar.update(task, description="precomputing figures", completed=None, total=None)
                done = precompute_results(
                    settings, lambda msg: bar.update(task, description=f"precomputing: {msg}")
                )
    except TotalPlaceError as exc:
        _fail(exc)
        return
    _print_reports(reports)
    if done is not None:
        console.print(
            f"precomputed: {done.counts} counts and {done.district_spend_years} years of "
            f"England's spend by district in {done.seconds:.0f} s "
            f"({done.already} already up to date)"
        )
    console.print(f"workspace: {settings.store_path}")
    if any(r.status == "error" for r in reports):
        raise typer.Exit(code=1)


def _print_reports(reports: list[Any], details: bool = False) -> None:
    table = Table(title="Ingest summary")
    replacing = any(r.replaced for r in reports)
    cols = ("file", "adapter", "status", "rows read", "ledger", "quarantined", "amount")
    for col in (*cols, "replaces") if replacing else cols:
        table.add_column(
            col,
            justify="right" if col in ("rows read", "ledger", "quarantined", "amount") else "left",
        )
    for r in reports:
        cells = [
            r.file,
            r.adapter,
            r.status,
            f"{r.rows_read:,}",
            f"{r.rows_ledger:,}",
            f"{r.rows_quarantined:,}",
            f"£{r.amount_gbp:,.0f}",
        ]
        table.add_row(*cells, *([r.replaced_text()] if replacing else []))
    console.print(table)
    for r in reports:
        if r.status == "error":
            err.print(f"[red]{r.message}[/]")
        elif details and r.status == "ingested":
            not_data = ", ".join(f"{n:,} {what}" for what, n in sorted(r.skipped.items()))
            lines = r.notes + ([f"rows that are not data: {not_data}"] if not_data else [])
            console.print(f"{r.file}:" + "".join(f"\n  {line}" for line in lines))


@app.command()
def serve(
    workspace: WorkspaceOpt = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8050,
    debug: bool = False,
) -> None:
    """Serve the dashboard on 127.0.0.1 (build the workspace first)."""
    from dashboards.app import create_app
    from totalplace.workspace import Workspace

    settings = _settings(workspace)
    try:
        ws = Workspace(settings)
        problems = ws.store.check()
    except TotalPlaceError as exc:
        _fail(exc)
        return
    if problems:
        _fail(
            TotalPlaceError(
                "damaged workspace: "
                + "; ".join(problems)
                + " — rebuild with `totalplace build --rebuild`"
            )
        )
    try:  # the workshop database: migrated to the current schema, or a clear message
        from totalplace.workshop import WorkshopService

        WorkshopService.from_url(settings.db_url, migrate=True).close()
    except Exception as exc:  # any driver or migration error is reported, not a traceback
        _fail(
            TotalPlaceError(
                f"the workshop database {settings.db_url} cannot be opened or "
                f"migrated ({exc}); fix TOTALPLACE_DB_URL or move the file aside"
            )
        )
    dash_app = create_app(ws)
    from dashboards.app import warm

    console.print("opening each page once for the pilots (a few seconds)…")
    missing = warm()
    if missing:
        err.print(f"[yellow]not loaded (the pages say so): {', '.join(missing)}[/]")
    console.print(f"totalplace dashboard on http://127.0.0.1:{port}/")
    dash_app.run(host="127.0.0.1", port=port, debug=debug)


DriverOpt = Annotated[
    list[str] | None,
    typer.Option("--driver", help="Override a driver: FUNCTION=DRIVER, e.g. 10.2=population."),
]


PricesOpt = Annotated[
    str | None,
    typer.Option(
        "--prices", help="Real terms in this financial year's prices (default: latest outturn)."
    ),
]


def _prices(prices: str | None) -> str | None:
    from totalplace.ingest.values import normalise_financial_year

    return normalise_financial_year(prices) if prices else None


def _overrides(drivers: list[str] | None) -> dict[str, str]:
    out = {}
    for d in drivers or []:
        key, sep, value = d.partition("=")
        if not sep or not key or not value:
            raise TotalPlaceError(f"--driver {d!r}: write FUNCTION=DRIVER, e.g. 10.2=population")
        out[key.strip()] = value.strip()
    return out


def _write_or_print(
    frame: Any, output: Path | None, fmt: str, notes: list[str], extra: Any = None
) -> bool:
    """Write to --output (CSV/XLSX by suffix; ``extra`` tables as more sheets or sidecar CSVs)
    or print CSV; True if handled."""
    from totalplace.export.tables import write_table

    if output is not None:
        write_table(frame, output, notes, extra=extra)
        console.print(f"wrote {output}")
        return True
    if fmt == "csv":
        from totalplace.export.tables import safe_frame

        safe_frame(frame).to_csv(sys.stdout, index=False)
        return True
    return False


@app.command()
def count(
    place: Annotated[str, typer.Option(help="Pilot name, GSS code(s) or place file.")],
    year: Annotated[str, typer.Option(help="Financial year, e.g. 2010-11.")],
    workspace: WorkspaceOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write .csv/.xlsx.")] = None,
    driver: DriverOpt = None,
    outturn: Annotated[bool, typer.Option(help="Use councils' own outturn where loaded.")] = True,
    sources: Annotated[
        str | None,
        typer.Option(
            help="Show the source lines of the count row with this id ('all': every row)."
        ),
    ] = None,
    prices: PricesOpt = None,
) -> None:
    """High-level count of identifiable public spend in a place for a year; every row leads to
    its source lines (file, row, amount, share taken)."""
    from totalplace.workspace import Workspace

    on_screen = format == "table" and output is None and sources is None
    try:
        ws = Workspace(_settings(workspace))
        # a pilot's default count on screen: as `totalplace build` kept it for the store as it
        # is now, if it did (read without pandas or the engine); else computed below
        default = on_screen and not driver and outturn and prices is None
        kept = ws.cached_screen(place, year) if default else None
    except TotalPlaceError as exc:
        _fail(exc)
        return
    if kept is not None:
        _print_count(kept)
        return
    from totalplace.count.engine import CountOptions, count_place, with_prices
    from totalplace.geography.places import explain_resolution
    from totalplace.ingest.values import normalise_financial_year

    try:
        opts = CountOptions(drivers=_overrides(driver), use_outturn=outturn)
        chosen = ws.place(place)
        result = count_place(ws.store, chosen, normalise_financial_year(year), opts)
        result = with_prices(ws.store, result, _prices(prices))
    except (TotalPlaceError, ValueError) as exc:
        _fail(exc)
        return
    said = explain_resolution(place, chosen)
    if said:
        err.print(said, soft_wrap=True)
    if not on_screen:
        # the source lines of every row go with every output but the screen's table, which
        # gives each row's id for `--sources ROW`
        from totalplace.count import provenance
        from totalplace.count.result import row_ids

        try:
            lines = provenance.source_lines(result, ws.store)
        except TotalPlaceError as exc:
            _fail(exc)
            return
        if sources is not None:
            _print_source_lines(result, lines, sources, format, output)
            return
        if format == "json":
            out = result.to_json()
            out["rows"] = provenance.attach(out["rows"], lines)
            sys.stdout.write(json.dumps(out, indent=2) + "\n")
            return
        ids = row_ids(result.rows)
        frame = result.rows.assign(amount_gbp=result.rows["amount_pence"] / 100, row_id=ids)
        frame = frame.drop(columns="amount_pence")
        extra = {"source lines": provenance.table_frame(lines)}
        if _write_or_print(frame, output, format, result.caveats, extra):
            return
    from totalplace.count.screen import screen_summary

    _print_count(screen_summary(result))


def _print_count(screen: dict[str, Any]) -> None:
    """A count on screen from its summary (``totalplace.count.screen``): one renderer for a
    count computed now and one ``totalplace build`` kept."""
    table = Table(title=screen["title"])
    for col in ("row", "agency type", "function", "basis", "driver", "amount"):
        table.add_column(col, justify="right" if col == "amount" else "left")
    for r in screen["rows"]:
        cells = (r["row"], r["agency_type"], r["function"], r["basis"], r["driver"])
        table.add_row(*cells, _gbp(r["amount_pence"]))
    console.print(table)
    console.print("[dim]source lines of a row: add --sources ROW (or --sources all)[/]")
    console.print(
        f"[bold]Total {_gbp(screen['total_pence'])}[/] · population {screen['population']:,} "
        f"(mid-{screen['population_year']}) · £{screen['per_head_gbp'] or 0:,.0f} per head · "
        f"{screen['release']}"
    )
    console.print("confidence: " + ", ".join(f"{k} {v:.0%}" for k, v in screen["confidence"]))
    if screen["real_terms"] is not None:
        console.print(screen["real_terms"])
    if screen["reported_by_councils_pence"] is not None:
        console.print(
            "of which reported by councils (revenue outturn): "
            f"{_gbp(screen['reported_by_councils_pence'])}"
        )
    if screen["replaced"] is not None:
        console.print("replaced (CRA local-government current spend, now from councils' outturn):")
        for function, pence in screen["replaced"]:
            console.print(f"  {function}: {_gbp(pence)}")
    if screen["eliminated"] is not None:
        console.print("eliminated (transfers between bodies in the count, counted once):")
        for e in screen["eliminated"]:
            console.print(
                f"  {e['payer']} → {e['payee']}: {_gbp(e['amount_pence'])} ({e['reason']})"
            )
    for c in screen["caveats"]:
        console.print(f"[dim]• {c}[/]")


def _print_source_lines(result: Any, lines: Any, row: str, fmt: str, output: Path | None) -> None:
    """The source lines of one count row (or of all rows) as a table, JSON or CSV/XLSX."""
    from totalplace.count import provenance

    chosen = lines if row == "all" else lines[lines["row_id"] == row]
    if chosen.empty:
        _fail(TotalPlaceError(f"no count row {row!r}: the table's 'row' column gives the ids"))
    if fmt == "json":
        sys.stdout.write(json.dumps(provenance.source_lines_json(chosen), indent=2) + "\n")
        return
    if _write_or_print(provenance.table_frame(chosen), output, fmt, result.caveats):
        return
    table = Table(title=f"{result.place_name} {result.year}: source lines of row {row}")
    for col in ("file", "row", "agency", "description", "line amount", "share taken", "taken"):
        table.add_column(col, justify="right" if col in ("line amount", "taken", "row") else "left")
    for r in chosen.itertuples():
        share = "-" if r.share != r.share else f"{r.share:.4%}"
        whole = "-" if r.line_pence is None or r.line_pence != r.line_pence else _gbp(r.line_pence)
        table.add_row(
            str(r.file),
            str(r.row),
            str(r.agency)[:40],
            str(r.description)[:60],
            whole,
            share,
            _gbp(r.taken_pence),
        )
    console.print(table)
    console.print(
        f"{len(chosen):,} source lines; taken {_gbp(int(chosen['taken_pence'].sum()))} "
        "(the row's amount, to the penny)"
    )


@app.command()
def reconcile(
    workspace: WorkspaceOpt = None,
    mirror: MirrorOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write .csv/.xlsx.")] = None,
    prices: PricesOpt = None,
) -> None:
    """The tool's counts beside the figures the pilots published, with the gaps explained."""
    import pandas as pd

    from totalplace.count.deflators import with_real_column
    from totalplace.count.reconcile import reconcile as run
    from totalplace.sources.catalogue import get_source, locate
    from totalplace.workspace import Workspace

    settings = _settings(workspace, mirror)
    try:
        path = locate(get_source("tp_published_figures"), settings.require_mirror())
        ws = Workspace(settings)
        table_df = run(ws, pd.read_csv(path))
        series, base = ws.deflators(), _prices(prices)
        if series is None and base:
            raise TotalPlaceError(f"--prices {base}: no GDP deflator series is loaded")
        for col in ("published_gbp", "tool_gbp") if series is not None else ():
            table_df = with_real_column(table_df, series, base, value=col)
    except (TotalPlaceError, ValueError) as exc:
        _fail(exc)
        return
    if format == "json":
        records = table_df.astype(object).where(table_df.notna(), None).to_dict("records")
        sys.stdout.write(json.dumps(records, indent=2) + "\n")
        return
    if _write_or_print(table_df.drop(columns="published_basis"), output, format, []):
        return
    table = Table(title="Reconciliation with published Total Place figures")
    for col in ("scope", "measure", "year", "published", "tool", "difference", "explained by"):
        table.add_column(col)
    for r in table_df.itertuples():
        tool = "-" if pd.isna(r.tool_gbp) else f"£{r.tool_gbp / 1e6:,.0f}m"
        diff = "-" if pd.isna(r.difference_gbp) else f"£{r.difference_gbp / 1e6:+,.0f}m"
        table.add_row(
            r.scope,
            str(r.measure)[:40],
            str(r.year),
            f"£{r.published_gbp / 1e6:,.0f}m",
            tool,
            diff,
            f"{r.explanation} [{r.breakdown}]",
        )
    console.print(table)
    basis = Table(title="On the published basis: the count regrouped as the pilots counted")
    for col in ("scope", "measure", "published", "count, published basis", "gap", "attributed to"):
        basis.add_column(col)
    for r in table_df.dropna(subset=["tool_published_basis_gbp"]).itertuples():
        basis.add_row(
            r.scope,
            str(r.measure)[:40],
            f"£{r.published_gbp / 1e6:,.0f}m",
            f"£{r.tool_published_basis_gbp / 1e6:,.0f}m",
            f"£{r.published_basis_gap_gbp / 1e6:+,.0f}m",
            str(r.gap_attribution),
        )
    console.print(basis)
    if "prices" in table_df and len(table_df):
        console.print(
            f"[dim]published_real_gbp, tool_real_gbp (--format json/csv): "
            f"{table_df['prices'].iloc[0]} prices[/]"
        )


@app.command("driver-add")
def driver_add(
    name: Annotated[str, typer.Argument(help="Driver name, e.g. need_index.")],
    path: Annotated[
        Path, typer.Argument(help="CSV with columns area_code,value (2019 districts).")
    ],
    source: Annotated[str, typer.Option(help="Where the values come from (publisher, table).")],
    vintage: Annotated[str, typer.Option(help="Year the values describe, e.g. 2010.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Add a user driver (e.g. a need index) to apportion by: `count --driver 7=NAME`."""
    import pandas as pd

    from totalplace.count.drivers import builtin_drivers, read_user_driver
    from totalplace.ledger.store import Store

    if name in builtin_drivers() or not name.isidentifier():
        _fail(TotalPlaceError(f"driver name {name!r} is taken or not a plain word"))
    try:
        frame = read_user_driver(path).assign(driver=name, source=source, vintage=vintage)
        with Store(_settings(workspace).store_path) as store:
            known = set(store.table("districts")["area_code"])
            bad = sorted(set(frame["area_code"]) - known)
            if bad:
                raise TotalPlaceError(f"{path.name}: {bad[0]} is not a 2019 district code")
            old = (
                store.query("SELECT * FROM user_drivers WHERE driver <> ?", [name])
                if "user_drivers" in store.tables()
                else frame.iloc[0:0]
            )
            store.replace_table("user_drivers", pd.concat([old, frame], ignore_index=True))
    except TotalPlaceError as exc:
        _fail(exc)
        return
    console.print(f"driver {name}: {len(frame)} districts ({source}, {vintage})")


@app.command()
def drivers(
    place: Annotated[str | None, typer.Option(help="Show sensitivity for this place.")] = None,
    year: Annotated[str | None, typer.Option(help="Financial year for sensitivity.")] = None,
    workspace: WorkspaceOpt = None,
    driver: DriverOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write .csv/.xlsx.")] = None,
) -> None:
    """List the drivers and the default driver per function; with --place and --year, show how
    the count moves under other drivers (default alternative: population for everything)."""
    import pandas as pd

    from totalplace.count.drivers import builtin_drivers, default_rules

    if place is None or year is None:
        t = Table(title="Drivers (ONS mid-year population by single year of age)")
        for col in ("driver", "label", "ages"):
            t.add_column(col)
        for d in builtin_drivers().values():
            t.add_row(d.name, d.label, f"{d.age_min}-{d.age_max}")
        console.print(t)
        r = Table(title="Default driver by function (data/codes/default_drivers.csv)")
        for col in ("function", "driver", "why"):
            r.add_column(col)
        for m, name, why in default_rules():
            r.add_row(m, name, why)
        console.print(r)
        return
    from totalplace.count.sensitivity import sensitivity
    from totalplace.ingest.values import normalise_financial_year
    from totalplace.workspace import Workspace

    try:
        ws = Workspace(_settings(workspace))
        df = sensitivity(
            ws.store, ws.place(place), normalise_financial_year(year), _overrides(driver) or None
        )
    except (TotalPlaceError, ValueError) as exc:
        _fail(exc)
        return
    if format == "json":
        sys.stdout.write(df.to_json(orient="records", indent=2) + "\n")
        return
    if _write_or_print(df, output, format, []):
        return
    t = Table(title=f"Sensitivity of {place} {year} to drivers")
    for col in ("function", "default", "alternative", "difference", "%"):
        t.add_column(col, justify="left" if col == "function" else "right")
    for r in df.itertuples():
        share = "" if pd.isna(r.difference_share) else f"{r.difference_share:+.1%}"
        t.add_row(
            str(r.function),
            _gbp(r.default_pence),
            _gbp(r.alternative_pence),
            _gbp(r.difference_pence),
            share,
        )
    console.print(t)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files to ingest.")],
    workspace: WorkspaceOpt = None,
    adapter: Annotated[str | None, typer.Option(help="Adapter name (default: detect).")] = None,
    report: Annotated[str, typer.Option(help="table or json.")] = "table",
    force: Annotated[
        bool,
        typer.Option(
            help="Read a file again even if unchanged; a changed file replaces the earlier "
            "version ingested from the same path (refused without --force)."
        ),
    ] = False,
    replaces: Annotated[
        str | None,
        typer.Option(
            help="Source id, path or batch id that this (one) file supersedes; its rows are "
            "removed and the report says how many."
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", help="Adapter option KEY=VALUE, e.g. year=2010-11, body=Lambeth."),
    ] = None,
) -> None:
    """Ingest files into the workspace ledger; every row is counted or quarantined."""
    from totalplace.ingest.bulk import ingest_files
    from totalplace.ingest.pipeline import ingest_file
    from totalplace.ledger.store import Store

    settings = _settings(workspace)
    options: dict[str, str] = {}
    for o in option or []:
        key, sep, value = o.partition("=")
        if not sep or not key:
            _fail(TotalPlaceError(f"--option {o!r}: write KEY=VALUE"))
        options[key.strip()] = value.strip()
    if replaces and len(paths) != 1:
        _fail(TotalPlaceError("--replaces names what ONE file supersedes: give one file"))
    try:  # one message for a busy or damaged store, not one per file
        store = Store(settings.store_path).open()
    except TotalPlaceError as exc:
        _fail(exc)
        return
    with store, _progress() as bar:
        task = bar.add_task(f"ingest {len(paths)} file(s)", total=None)
        if replaces:
            reports = [
                ingest_file(
                    store,
                    paths[0],
                    adapter=adapter,
                    force=force,
                    options=options,
                    replaces=replaces,
                )
            ]
        else:
            reports = ingest_files(store, paths, adapter=adapter, force=force, options=options)
        if any(r.status == "ingested" for r in reports):
            from totalplace.count.materialise import refresh_parts

            bar.update(task, description="count lines kept for live counts")
            refresh_parts(store)
    if report == "json":
        sys.stdout.write(json.dumps([r.as_dict() for r in reports], indent=2) + "\n")
    else:
        _print_reports(reports, details=True)
    from totalplace.results import RESULTS_DIR

    if any(r.status == "ingested" for r in reports) and (settings.workspace / RESULTS_DIR).is_dir():
        err.print(
            "The figures `totalplace build` precomputed are from before this ingest: counts are "
            "computed live (from the count lines kept just now) until `totalplace build` "
            "refreshes them."
        )
    if any(r.status == "error" for r in reports):
        raise typer.Exit(code=1)


@app.command("export-ledger")
def export_ledger(
    directory: Annotated[Path, typer.Argument(help="Folder to write (new or empty).")],
    workspace: WorkspaceOpt = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an earlier export there.")] = False,
) -> None:
    """Write the ledger as Parquet partitioned by source and year (DIR/source_id=…/year=…/),
    for DuckDB, pyarrow, Spark or pandas."""
    from totalplace.export.parquet import export_ledger as run
    from totalplace.ledger.store import Store

    try:
        with Store(_settings(workspace).store_path, read_only=True) as store:
            done = run(store, directory, overwrite=overwrite)
    except TotalPlaceError as exc:
        _fail(exc)
        return
    table = Table(title=f"Ledger exported to {done.directory}")
    for col in ("source_id", "years", "rows", "amount"):
        table.add_column(col, justify="left" if col == "source_id" else "right")
    for r in done.by_source.itertuples():
        table.add_row(str(r.source_id), f"{r.years:,}", f"{r.rows:,}", _gbp(r.amount_pence))
    console.print(table)
    console.print(
        f"{done.files:,} Parquet files, {int(done.by_source['rows'].sum()):,} rows; read with "
        f"read_parquet('{done.directory}/**/*.parquet', hive_partitioning=true)"
    )


@app.command()
def transfers(
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV: year,payer_code,payee_code,function_code,amount_gbp,reason,source"
        ),
    ],
    workspace: WorkspaceOpt = None,
) -> None:
    """Load transfers between public bodies, eliminated from counts so money is counted once."""
    from totalplace.count.consolidate import read_transfers
    from totalplace.ledger.store import Store

    try:
        frame = read_transfers(path)
        with Store(_settings(workspace).store_path) as store:
            store.replace_table("transfers", frame)
    except TotalPlaceError as exc:
        _fail(exc)
        return
    console.print(
        f"{len(frame)} transfers loaded from {path.name} "
        f"(£{frame['amount_pence'].sum() / 100:,.0f})"
    )


@app.command()
def footprint(
    agency_code: Annotated[
        str,
        typer.Argument(
            help="The agency's code as in the ledger (area_code of its rows), e.g. a PCT code."
        ),
    ],
    place: Annotated[str, typer.Option(help="The districts it covers: pilot, codes or file.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Say which districts an agency covers (e.g. an NHS body), so its own return can be
    shared among them and replace the apportioned figure there."""
    import pandas as pd

    from totalplace.workspace import Workspace

    settings = _settings(workspace)
    try:
        ws = Workspace(settings)
        districts = ws.place(place).districts
        ws.store.close()
        from totalplace.ledger.store import Store

        with Store(settings.store_path) as store:
            fp = store.query("SELECT * FROM footprints WHERE agency_code <> ?", [agency_code])
            new = pd.DataFrame(
                {"agency_code": agency_code, "area_code": list(districts), "partial": False}
            )
            store.replace_table("footprints", pd.concat([fp, new], ignore_index=True))
    except TotalPlaceError as exc:
        _fail(exc)
        return
    console.print(f"{agency_code} covers {len(districts)} districts: {', '.join(districts)}")


@app.command()
def deflators(
    path: Annotated[
        Path,
        typer.Argument(
            help="HM Treasury 'GDP deflators at market prices, and money GDP' workbook (.xlsx)."
        ),
    ],
    workspace: WorkspaceOpt = None,
) -> None:
    """Load another HM Treasury GDP deflator workbook (`build` loads the catalogued one); the
    series loaded last is the one counts use for real terms."""
    from totalplace.ingest.pipeline import ingest_file
    from totalplace.ledger.store import Store

    with Store(_settings(workspace).store_path) as store:
        report = ingest_file(store, path, adapter="hmt_deflators")
    if report.status == "error":
        _fail(TotalPlaceError(report.message))
        return
    console.print(
        f"{report.rows_ledger} financial years of GDP deflators {report.status} ({report.message})"
    )


@app.command()
def adapters() -> None:
    """List the registered ingest adapters."""
    from totalplace.ingest.base import registered_adapters

    table = Table(title="Adapters")
    for col in ("name", "title", "reads", "target"):
        table.add_column(col)
    for a in registered_adapters().values():
        table.add_row(a.name, a.title, " ".join(a.suffixes), a.target)
    console.print(table)


@app.command()
def quarantine(workspace: WorkspaceOpt = None, limit: int = 50) -> None:
    """List quarantined rows: file, line and the reason."""
    from totalplace.ledger.store import Store

    try:
        with Store(_settings(workspace).store_path, read_only=True) as store:
            df = store.query(
                "SELECT file, row, reason, raw FROM quarantine ORDER BY file, row LIMIT ?", [limit]
            )
    except TotalPlaceError as exc:
        _fail(exc)
        return
    table = Table(title=f"Quarantine (first {limit})")
    for col in ("file", "line", "reason", "raw"):
        table.add_column(col)
    for r in df.itertuples():
        table.add_row(r.file, f"{r.row:,}", r.reason, str(r.raw)[:80])
    console.print(table)


@app.command()
def schema() -> None:
    """Print the ledger schema (one definition, used everywhere)."""
    from totalplace.ledger.schema import schema_markdown

    console.print(schema_markdown())


@sources_app.command("list")
def sources_list(mirror: MirrorOpt = None) -> None:
    """List catalogued sources and whether the mirror has each, verified."""
    from totalplace.sources.catalogue import load_catalogue, sha256_file

    m = mirror or default_mirror()
    table = Table(title=f"Sources (mirror: {m})")
    for col in ("id", "publisher", "licence", "adapter", "mirror"):
        table.add_column(col)
    for s in load_catalogue().values():
        p = (m / s.path) if m else None
        state = "missing"
        if p is not None and p.is_file():
            state = "verified" if sha256_file(p) == s.sha256 else "CHECKSUM MISMATCH"
        table.add_row(s.id, s.publisher, s.licence, s.adapter or "-", state)
    console.print(table)


@sources_app.command("fetch")
def sources_fetch(
    ids: Annotated[list[str] | None, typer.Argument(help="Source ids (default: all).")] = None,
    mirror: MirrorOpt = None,
) -> None:
    """Download sources from their publishers into the mirror (connected machines)."""
    from totalplace.sources.catalogue import fetch, get_source, load_catalogue

    m = mirror or default_mirror()
    if m is None:
        _fail(TotalPlaceError("no mirror folder: pass --mirror or set TOTALPLACE_MIRROR"))
        return
    wanted = [get_source(i) for i in ids] if ids else list(load_catalogue().values())
    failed = 0
    for s in wanted:
        try:
            fetch(s, m)
            console.print(f"{s.id}: ok")
        except TotalPlaceError as exc:
            failed += 1
            err.print(f"[red]{exc}[/]")
    if failed:
        raise typer.Exit(code=1)


if __name__ == "__main__":  # pragma: no cover
    app()
