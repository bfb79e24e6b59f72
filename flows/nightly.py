"""The nightly flow, for one landing date: ingest → check (contracts) → staging → engagement and attribution marts →
validate (GX) → check the warehouse can take the tables → publish (lake, warehouse, audit, BI copy).

Only wiring lives here. Everything is checked and built before anything is published: an error-severity rule or a
table the warehouse cannot take stops the run before the first write, so previous outputs stay exactly as they were.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone

import polars as pl
from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from contracts.checkpoint import ValidationFailed
from flows.artifacts import publish_artifacts, write_run_report
from flows.attribution_tasks import attribution_partitions, build_attribution
from flows.context import RunContext
from flows.runners import run_all, task_runner
from flows.tasks import (
    build_marts, check_raw, check_warehouse, dataset_calls, ingest, load_warehouse, owned_posted_dates, publish_bi_copy,
    publish_parquet, record_audit, stage, validate,
)
from influence.settings import load_settings
from schemas.raw import DATASETS
from sinks.lake import sweep_temporaries
from sources.ingest import arrived_late
from transforms.marts.benchmark import month_start
from transforms.audit import SourceOutcome, build_run_sources
from transforms.quarantine import BatchCheck
from transforms.staging.models import STAGING_MODELS


@dataclass
class RunSummary:
    ds: date
    run_id: str
    ingested: dict[str, dict] = field(default_factory=dict)  # raw dataset -> {status, rows, file}
    quarantined: dict[str, int] = field(default_factory=dict)  # raw dataset -> rows quarantined
    staged: dict[str, int] = field(default_factory=dict)  # published table (staging and marts) -> rows
    rules_failed: list[str] = field(default_factory=list)  # ids of warning rules that failed (errors stop the run)
    lake_dir: str = ""
    warehouse: str = ""
    validation_results: str = ""
    data_docs: str = ""
    report: str = ""


def default_ds(scheduled: datetime | None, zone) -> date:
    """The day before the run was scheduled to start (now, when unscheduled), in the timezone landing days follow
    (INFLUENCE_TIMEZONE): what a 03:00 nightly is meant to process, even when 03:00 there is yesterday in UTC."""
    return (scheduled or datetime.now(timezone.utc)).astimezone(zone).date() - timedelta(days=1)


def _outcomes(ingested: dict, checks: dict, clean_rows: dict[str, int], validation) -> list[SourceOutcome]:
    outcomes = []
    for name, result in ingested.items():
        quarantined = checks[name].split.quarantined.height
        failed = validation.failed_for(name)
        outcomes.append(SourceOutcome(
            name, result.file, result.status, clean_rows[name] + quarantined, clean_rows[name], quarantined,
            len(failed), sum(r.severity == "error" for r in failed), result.seconds, checks[name].seconds))
    return outcomes


def _without_clean_rows(checks: dict[str, BatchCheck]) -> dict[str, BatchCheck]:
    """The checks with their clean raw rows dropped: once staged they are not needed again, and at scale they are
    gigabytes the marts could use (2 M web events a day)."""
    return {name: replace(check, split=replace(check.split, clean=check.split.clean.clear()))
            for name, check in checks.items()}


def _posted_date_partitions(fct: pl.DataFrame, ds: date, ctx: RunContext) -> list:
    """Every posted_date partition the run owns — empty ones too, so a post that moved out leaves no stale copy."""
    first, last = owned_posted_dates(ds, ctx)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return [("marts", "fct_post_engagement", fct.filter(pl.col("posted_date") == day), "posted_date", day)
            for day in days]


def late_days(ds: date, ctx: RunContext) -> list[date]:
    """Earlier landing dates, within late_data.restate_days, that received a file after their night ran."""
    days = [ds - timedelta(days=i) for i in range(ctx.rules.late_data.restate_days, 0, -1)]
    return [day for day in days if any(arrived_late(d, ctx.landing_dir, ctx.lake_dir, day) for d in DATASETS)]


@flow(name="nightly", flow_run_name="nightly-{ds}", log_prints=False)
def nightly(ds: date | None = None, restate: bool = True) -> RunSummary:
    """Process the landing files delivered on `ds` (default: the day before the scheduled start) into the staging
    and quarantine tables of the lake and the warehouse, with a run audit. With `restate`, a file that arrived late
    for one of the trailing late_data.restate_days first re-runs that day and the days after it, oldest first."""
    settings = load_settings()
    ds = ds or default_ds(flow_run.scheduled_start_time, settings.zone())
    ctx = RunContext.from_settings(settings, str(flow_run.id or uuid.uuid4()))
    log = get_run_logger()
    started = datetime.now(timezone.utc)
    if swept := sweep_temporaries(ctx.lake_dir):
        log.warning("swept %d temporary files left by an interrupted run", swept)
    if restate and (late := late_days(ds, ctx)):
        log.warning("late landing files for %s: re-running %s … %s first", ", ".join(map(str, late)), late[0],
                    ds - timedelta(days=1))
        for day in range((ds - late[0]).days):
            nightly(ds=late[0] + timedelta(days=day), restate=False)

    with task_runner(settings) as runner:
        ingested = run_all(runner, ingest, dataset_calls(ds, ctx))
        checks = run_all(runner, check_raw, dataset_calls(ds, ctx))
        clean = {name: check.split.clean for name, check in checks.items()}
        staged = run_all(runner, stage, {m.name: dict(model=m.name, ds=ds, clean={n: clean[n] for n in m.inputs})
                                         for m in STAGING_MODELS})
    clean_rows = {name: frame.height for name, frame in clean.items()}
    del clean
    checks = _without_clean_rows(checks)
    marts = build_marts(ds, ctx, staged)
    marts |= build_attribution(ds, ctx, staged, marts["fct_post_engagement"])
    validation = validate(ds, ctx, checks, {**staged, **marts})

    failed = bool(validation.errors)
    audit = build_run_sources(ctx.run_id, ds, _outcomes(ingested, checks, clean_rows, validation), started,
                              datetime.now(timezone.utc), run_failed=failed)
    if failed:
        record_audit(audit, ds, ctx)
        raise ValidationFailed(ds, validation.errors, validation.results_file)

    quarantine = {name: c.split.quarantined.with_columns(landing_date=pl.lit(ds)) for name, c in checks.items()}
    partitions = [("staging", t, rows, "landing_date", ds) for t, rows in staged.items()]
    partitions += [("quarantine", d, rows, "landing_date", ds) for d, rows in quarantine.items()]
    partitions += _posted_date_partitions(marts["fct_post_engagement"], ds, ctx)
    partitions.append(("marts", "fct_account_daily", marts["fct_account_daily"], "metric_date", ds))
    partitions += [("marts", dim, marts[dim], None, None) for dim in ("dim_account", "dim_influencer", "dim_date")]
    partitions.append(("marts", "mart_tier_benchmark", marts["mart_tier_benchmark"], "month_start_date",
                       month_start(ds)))
    partitions += attribution_partitions(marts, ds, ctx)
    check_warehouse(partitions, ds, ctx)
    for schema, table, rows, column, value in partitions:
        publish_parquet(schema, table, rows, value or ds, ctx, column)
    load_warehouse(partitions, ds, ctx)
    record_audit(audit, ds, ctx)
    publish_bi_copy(ds, ctx)
    report = write_run_report(ds, ctx)
    publish_artifacts(ds, audit, len(validation.results), [r.rule_id for r in validation.results if not r.success],
                      marts["mart_campaign_performance"])
    log.info("nightly %s: %d rows staged, %d quarantined", ds, sum(f.height for f in staged.values()),
             sum(f.height for f in quarantine.values()))
    return RunSummary(
        ds, ctx.run_id, {n: {"status": r.status, "rows": r.rows, "file": r.file} for n, r in ingested.items()},
        {n: f.height for n, f in quarantine.items()}, {t: f.height for t, f in {**staged, **marts}.items()},
        [r.rule_id for r in validation.results if not r.success], str(ctx.lake_dir), settings.safe_warehouse_url(),
        str(validation.results_file), str(validation.docs_index or ""), report)
