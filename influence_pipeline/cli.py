"""The `influence` command line: sample data, nightly runs, the demo, a dev PII key (query and attribute-paths
have modules of their own)."""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(help="influence-pipeline: influencer-marketing analytics, from landing files to BI tables.",
                  no_args_is_help=True, add_completion=False)
console = Console()

DateOpt = Annotated[str, typer.Option(help="A date, YYYY-MM-DD.")]


def _parse_date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date in YYYY-MM-DD form", param_hint=name) from None


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


@app.callback()
def _no_telemetry() -> None:
    """Telemetry off for every command, and for the temporary Prefect server a run may start (it inherits this
    environment): the pipeline runs on machines with no internet, and users did not ask to be tracked. Outputs
    private (INFLUENCE_OUTPUT_MODE) before any command creates one: a report or a sample is data too."""
    from influence_pipeline.settings import Settings, apply_output_mode

    for name, value in (("DO_NOT_TRACK", "1"), ("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
                        ("GX_ANALYTICS_ENABLED", "false")):
        os.environ.setdefault(name, value)
    apply_output_mode(Settings())


def _quiet_prefect() -> None:
    # The demo prints its own progress; Prefect's per-task INFO lines would drown it.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _generate(out: Path, start: date, days: int, scale: float, seed: int, dirty_rate: float) -> dict[str, int]:
    from influence_pipeline.sample import generate

    with _progress() as progress:
        bar = progress.add_task("generating sample data", total=days)
        return generate(out, start, days, scale=scale, seed=seed, dirty_rate=dirty_rate,
                        on_day=lambda _day: progress.advance(bar))


@app.command()
def sample(
    start: DateOpt,
    days: Annotated[int, typer.Option(min=1, help="Number of days to generate.")] = 14,
    out: Annotated[Optional[Path], typer.Option(help="Landing folder. Default: $INFLUENCE_DATA_DIR/landing.")] = None,
    scale: Annotated[float, typer.Option(min=0.01, help="Volume multiplier: 1 ≈ 300 accounts, 50k web events/day.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed; the same arguments write byte-identical files.")] = 42,
    dirty_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Fraction of records given real-world defects.")] = 0.0,
) -> None:
    """Write realistic sample landing files (roster, Instagram, TikTok, YouTube, web events, orders, signups)."""
    from influence_pipeline.settings import Settings

    target = out or Settings().landing_dir
    counts = _generate(target, _parse_date(start, "--start"), days, scale, seed, dirty_rate)
    console.print(f"wrote {sum(counts.values()):,} records in {len(counts)} files per day to [bold]{target}[/bold]")


class _NoTracebackFor(logging.Filter):
    """Prefect logs a failing task's or flow's exception with its traceback; for the failures that carry their own
    clear message, the traceback only buries it."""

    def __init__(self, expected: tuple[type[BaseException], ...]):
        super().__init__()
        self.expected = expected

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], self.expected):
            record.exc_info, record.exc_text = None, None
        return True


@contextmanager
def clear_errors():
    """Known failures — bad settings, an unreadable landing file, a failed error rule — end the command with their
    own message (which names the file, row, field or rule) instead of a traceback."""
    from influence_pipeline.schemas.checkpoint import ValidationFailed
    from influence_pipeline.settings import SettingsError
    from influence_pipeline.sinks.warehouse import IncompatibleSchemaError
    from influence_pipeline.sources.landing import LandingFileError

    expected = (SettingsError, LandingFileError, ValidationFailed, IncompatibleSchemaError)
    quiet = _NoTracebackFor(expected)
    handlers = logging.getLogger().handlers
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    except expected as exc:
        console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)  # a folded path cannot be copied
        raise typer.Exit(1) from None
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)


def _run_days(days: list[date]) -> list:
    from influence_pipeline.flows.nightly import nightly
    from influence_pipeline.settings import load_settings

    summaries = []
    with clear_errors():
        load_settings()  # fail on a missing secret before any flow starts
        with _progress() as progress:
            bar = progress.add_task("nightly runs", total=len(days))
            for day in days:
                progress.update(bar, description=f"nightly {day}")
                summaries.append(nightly(ds=day))
                progress.advance(bar)
    return summaries


DaskOpt = Annotated[str | None, typer.Option(
    "--dask-address", help="A Dask scheduler (tcp://host:8786) to run per-dataset steps on; default: "
    "INFLUENCE_DASK_ADDRESS, else threads of this process.")]


def _use_dask(address: str | None) -> None:
    if address:  # through the setting, so the flow (and any child run in this process) resolves it the same way
        os.environ["INFLUENCE_DASK_ADDRESS"] = address


@app.command()
def run(date_: Annotated[str, typer.Option("--date", help="Landing date to process, YYYY-MM-DD.")],
        dask_address: DaskOpt = None) -> None:
    """Run the nightly flow for one landing date: ingest → staging → Parquet lake + warehouse."""
    _use_dask(dask_address)
    summary = _run_days([_parse_date(date_, "--date")])[0]
    _print_run(summary)


@app.command()
def backfill(
    start: DateOpt, end: DateOpt,
    concurrency: Annotated[int, typer.Option(min=1, help="Landing files of this many days ingested at once; the "
                                                         "nightlies themselves run oldest first.")] = 1,
    dask_address: DaskOpt = None,
    deployments: Annotated[bool, typer.Option(help="Run each day as flow runs of the ingest and nightly deployments "
                                                   "(any worker of the pool takes them); needs PREFECT_API_URL.")] = False,
) -> None:
    """Run the nightly flow for every landing date from --start to --end, oldest first (each day reads what the days
    before it published). Idempotent: rerun from the day that failed to resume."""
    _use_dask(dask_address)
    from influence_pipeline.flows.backfill import backfill as backfill_flow, backfill_days
    from influence_pipeline.settings import load_settings

    first, last = _parse_date(start, "--start"), _parse_date(end, "--end")
    if last < first:
        raise typer.BadParameter(f"{end} is before --start {start}", param_hint="--end")
    with clear_errors():
        load_settings()
        summaries = backfill_flow(start=first, end=last, concurrency=concurrency, deployments=deployments)
    if deployments:
        console.print(f"backfill {first} → {last}: every day completed as a run of the nightly deployment")
        return
    table = Table(title=f"backfill {first} → {last}: {len(backfill_days(first, last))} nightly runs")
    for column in ("landing date", "rows staged", "rows quarantined", "warning rules failed"):
        table.add_column(column, justify="left" if column == "landing date" else "right")
    for summary in summaries:
        staged = sum(n for t, n in summary.staged.items() if t.startswith("stg_"))
        table.add_row(str(summary.ds), f"{staged:,}", f"{sum(summary.quarantined.values()):,}",
                      str(len(summary.rules_failed)))
    console.print(table)


def _print_run(summary) -> None:
    table = Table(title=f"nightly {summary.ds}", show_lines=False)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in summary.staged.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    quarantined = {name: n for name, n in summary.quarantined.items() if n}
    if quarantined:
        console.print("quarantined: " + ", ".join(f"{name} {n:,}" for name, n in quarantined.items()))
    from influence_pipeline.summary import print_landing_notes

    print_landing_notes(console, [summary])
    if any(summary.purged.values()):
        console.print("retention purged: " + ", ".join(f"{n} {kind}" for kind, n in summary.purged.items()))
    console.print(f"validation page: {summary.validation_page or '(written when the night is published)'}\n"
                  f"validation results: {summary.validation_results}\n"
                  f"data docs: {summary.data_docs} (offline copy without scripts)")


@app.command("validate")
def validate_cmd(date_: Annotated[str, typer.Option("--date", help="Landing date to check, YYYY-MM-DD.")]) -> None:
    """Check a landing date against the data contracts (ingestion + contracts only; publishes nothing). Exits
    non-zero when an error rule fails."""
    from influence_pipeline.flows.validate import validate_landing

    with clear_errors():
        validation, rows = validate_landing(ds=_parse_date(date_, "--date"))
    table = Table(title=f"contracts, landing date {date_}")
    for column in ("dataset", "rows in", "quarantined", "rules", "passed", "failed (warning)", "failed (error)"):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    for dataset, (rows_in, quarantined) in rows.items():
        mine = [r for r in validation.results if r.dataset == dataset]
        failed = [r for r in mine if not r.success]
        table.add_row(dataset, f"{rows_in:,}", f"{quarantined:,}", str(len(mine)), str(len(mine) - len(failed)),
                      str(sum(r.severity == "warning" for r in failed)), str(sum(r.severity == "error" for r in failed)))
    console.print(table)
    for result in (r for r in validation.results if not r.success):
        count = result.unexpected_count if result.unexpected_count is not None else result.observed_value
        console.print(f"  {result.severity:7} {result.rule_id}: {count}", highlight=False)
    console.print(f"results: {validation.results_file}\ndata docs: {validation.docs_index} (offline copy without "
                  "scripts; a published night's validation page, beside its report, lists every rule)")
    if validation.errors:
        raise typer.Exit(1)


@app.command()
def demo(
    start: DateOpt = "2026-11-01",
    days: Annotated[int, typer.Option(min=1, help="Days of sample data to generate and run.")] = 14,
    scale: Annotated[float, typer.Option(min=0.01, help="Volume multiplier.")] = 1.0,
    dirty_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Fraction of defective records.")] = 0.01,
    pull: Annotated[bool, typer.Option("--pull", help="Fetch the platforms' and the shop's data from local fake APIs "
                                       "serving the sample (as production pulls them) instead of dropping files.")]
    = False,
) -> None:
    """Generate sample data into the data dir, run the nightly flow for every day, and summarise the outputs."""
    _quiet_prefect()
    from influence_pipeline.settings import Settings, ensure_dev_pii_key

    settings = Settings()
    if settings.pii_key is None and settings.is_embedded_warehouse:
        key_file, created = ensure_dev_pii_key(settings.data_dir)
        if created:
            console.print(f"INFLUENCE_PII_KEY is not set: created a random dev key at [bold]{key_file}[/bold] "
                          "(set INFLUENCE_PII_KEY in production).")
    first = _parse_date(start, "--start")
    dates = [first + timedelta(days=i) for i in range(days)]
    if pull:
        from influence_pipeline.pull_cli import pull_sample

        # What the fake platforms serve (whole records: an API sends no truncated lines), and the same sample with
        # its defects for the files that still arrive as files; landing/ gets only what is delivered or pulled.
        world, delivered = settings.data_dir / "sample-apis", settings.data_dir / "sample-delivered"
        _generate(world, first, days, scale, 42, 0.0)
        _generate(delivered, first, days, scale, 42, dirty_rate)
        pull_sample(world, delivered, settings.data_dir, dates)
    else:
        _generate(settings.landing_dir, first, days, scale, 42, dirty_rate)
    summaries = _run_days(dates)
    from influence_pipeline.summary import print_demo_summary

    print_demo_summary(console, settings, summaries)


@app.command()
def report(
    date_: Annotated[str | None, typer.Option("--date", help="Night the brief is for, YYYY-MM-DD (optional with "
                                                           "--month: it then caps the month's last day).")] = None,
    month: Annotated[str | None, typer.Option(help="YYYY-MM: the month-to-date brief of that month alone, to its "
                                                   "last processed night (or its last day).")] = None,
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
) -> None:
    """Write the one-page HTML brief from the published lake: headline tiles for the night of --date and its month
    to date (each against the period before), every campaign × influencer with its return, the funnel, revenue by
    influencer and channel, engagement by tier, growth anomalies and data quality."""
    from influence_pipeline.report.data import processed_nights, read_run_sources, write_report
    from influence_pipeline.report.periods import month_brief_end
    from influence_pipeline.rules_file import load_rules
    from influence_pipeline.settings import Settings
    from influence_pipeline.sinks.snapshots import current

    if date_ is None and month is None:
        raise typer.BadParameter("give --date YYYY-MM-DD, --month YYYY-MM or both", param_hint="--date")
    settings = Settings()
    published = current(settings.lake_dir.resolve())
    if published is None:
        raise typer.BadParameter(f"nothing is published under {settings.lake_dir.resolve()} yet: run a night first")
    night = _parse_date(date_, "--date") if date_ is not None else None
    if month is not None:
        try:
            month_start = date.fromisoformat(f"{month}-01")
        except ValueError:
            raise typer.BadParameter(f"{month!r} is not a month in YYYY-MM form", param_hint="--month") from None
        ds = month_brief_end(month_start, processed_nights(published.path))
        if night is not None and night.replace(day=1) == month_start:
            ds = min(ds, night)
    else:
        ds = night
    path = write_report(published.path, (settings.data_dir / "validation").resolve(), ds,
                        load_rules(settings.rules_file), out, month_only=month is not None,
                        audit=read_run_sources(settings.resolved_warehouse_url, ds),
                        landing_dir=settings.landing_dir)
    console.print(f"report: [bold]{path.resolve()}[/bold]")


@app.command("dev-key")
def dev_key() -> None:
    """Create a random PII key for local development at $INFLUENCE_DATA_DIR/.pii_key (kept if one exists), used
    when INFLUENCE_PII_KEY is not set and the warehouse is the embedded DuckDB. Writes nothing else."""
    from influence_pipeline.settings import Settings, ensure_dev_pii_key

    settings = Settings()
    if not settings.is_embedded_warehouse:
        # a key on one machine's disk would hash PII differently from the next machine's: production needs the one
        # key from the secret store, every night
        raise typer.BadParameter(f"the warehouse is {settings.safe_warehouse_url()}: set INFLUENCE_PII_KEY from your "
                                 "secret store instead; a dev key is only for the embedded DuckDB warehouse")
    key_file, created = ensure_dev_pii_key(settings.data_dir)
    console.print(f"{'created a random' if created else 'kept the existing'} dev PII key at [bold]{key_file}[/bold]",
                  highlight=False)
    if settings.pii_key is not None and settings.pii_key.get_secret_value():
        console.print("INFLUENCE_PII_KEY is set, so it is used and the dev key is not.")


from influence_pipeline.forget_cli import forget  # noqa: E402
from influence_pipeline.paths_cli import attribute_paths  # noqa: E402
from influence_pipeline.pull_cli import accounts, connect, pull  # noqa: E402
from influence_pipeline.purge_cli import purge  # noqa: E402
from influence_pipeline.query_cli import query  # noqa: E402
from influence_pipeline.setup_cli import prefect_setup, rules_template  # noqa: E402

app.command("attribute-paths")(attribute_paths)
app.command("query")(query)
app.command("rules-template")(rules_template)
app.command("prefect-setup")(prefect_setup)
app.command("pull")(pull)
app.command("connect")(connect)
app.command("accounts")(accounts)
app.command("forget")(forget)
app.command("purge")(purge)

if __name__ == "__main__":  # after every command is registered, so `python -m influence_pipeline.cli` has them all
    app()
