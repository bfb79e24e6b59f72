"""One night, built into its own lake snapshot: ingest → check (contracts) → staging → engagement and attribution
marts → validate (GX) → check the warehouse can take the tables → Parquet files of the new snapshot.

Only wiring lives here. Nothing a reader sees changes: the snapshot is sealed but not published (flows/nightly.py
publishes it), and an error-severity rule or a table the warehouse cannot take stops the night before it is sealed.
"""
from __future__ import annotations

import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone

import polars as pl
from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from influence_pipeline.atomic import held_temporaries
from influence_pipeline.flows.artifacts import publish_artifacts
from influence_pipeline.flows.attribution_tasks import attribution_partitions, build_attribution
from influence_pipeline.flows.context import RunContext
from influence_pipeline.flows.engagement_tasks import build_marts
from influence_pipeline.flows.runners import run_all, task_runner
from influence_pipeline.flows.tasks import (
    check_raw,
    check_warehouse,
    dataset_calls,
    ingest,
    publish_parquet,
    record_audit,
    record_validation,
    stage,
    too_large_to_hold,
)
from influence_pipeline.schemas.checkpoint import ValidationFailed
from influence_pipeline.schemas.gx import import_in_background
from influence_pipeline.schemas.raw import DATASETS, PARTITION_COLUMN
from influence_pipeline.settings import load_settings
from influence_pipeline.sinks.snapshots import Snapshot, building, seal, snapshot
from influence_pipeline.sources.landing_survey import unexpected_landing
from influence_pipeline.sources.manifest import read_entry
from influence_pipeline.transforms.audit import SourceOutcome, build_run_sources
from influence_pipeline.transforms.quarantine import BatchCheck, emptied
from influence_pipeline.transforms.staging.registry import STAGING_MODELS
from influence_pipeline.transforms.windows import RunWindows, run_windows


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
    data_docs: str = ""  # GX's data docs index, stripped of its CDN scripts and styles so it opens offline
    report: str = ""  # the HTML report, set for the nights a run published
    validation_page: str = ""  # every rule of the night's run as a self-contained page, beside the report
    unexpected: list[str] = field(default_factory=list)  # landing paths no run reads (audit status `unexpected`)
    purged: dict[str, int] = field(default_factory=dict)  # retention, after the run's last publish: kind -> count


def landing_inputs(lake_root, ds: date) -> dict[str, str | None]:
    """The checksum of each landing file the night read (None: not delivered), recorded in its snapshot: a file
    that changes after the night ran is then recognised even if it was ingested by a run that did not publish."""
    entries = {dataset.name: read_entry(lake_root, dataset.name, ds) for dataset in DATASETS}
    return {name: entry.sha256 if entry else None for name, entry in entries.items()}


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
    gigabytes the marts could use (2 M web events a day; a query over the batch holds the batch)."""
    return {name: replace(check, split=replace(check.split, clean=emptied(check.split.clean)))
            for name, check in checks.items()}


def _daily_partitions(table: str, rows: pl.DataFrame, column: str, owned: list[date]) -> list:
    """One partition per `column` value in `rows`, plus every `owned` one — written empty when it has no rows, so a
    row that moved out leaves no stale copy."""
    values = sorted(set(owned) | set(rows.get_column(column).unique().to_list()))
    return [("marts", table, rows.filter(pl.col(column) == value), column, value) for value in values]


def _rows(frame: pl.DataFrame | pl.LazyFrame) -> int:
    return frame.height if isinstance(frame, pl.DataFrame) else frame.select(pl.len()).collect().item()


def _partitions(w: RunWindows, staged: dict, quarantine: dict, marts: dict) -> list:
    """(layer, table, rows, partition column, value) for every partition the night owns; None: a whole table.
    fct_account_daily and mart_tier_benchmark also carry the earlier days and months the night restated."""
    partitions = [("staging", t, rows, PARTITION_COLUMN, w.ds) for t, rows in staged.items()]
    partitions += [("quarantine", d, rows, PARTITION_COLUMN, w.ds) for d, rows in quarantine.items()]
    partitions += _daily_partitions("fct_post_engagement", marts["fct_post_engagement"], "posted_date",
                                    w.posted.days())
    partitions += _daily_partitions("fct_account_daily", marts["fct_account_daily"], "metric_date", [w.ds])
    partitions += [("marts", dim, marts[dim], None, None) for dim in ("dim_account", "dim_influencer", "dim_date")]
    partitions += _daily_partitions("mart_tier_benchmark", marts["mart_tier_benchmark"], "month_start_date",
                                    [w.current_month])
    return partitions + attribution_partitions(marts, w)


@flow(name="night", flow_run_name="night-{ds}", log_prints=False)
def night(ds: date, base_id: str | None = None) -> tuple[RunSummary, Snapshot, pl.DataFrame]:
    """Build the landing files delivered on `ds` into a new lake snapshot on top of snapshot `base_id` (the state the
    night before left): ingest → check → staging → marts → validate → Parquet. Returns the night's summary, its sealed
    (not yet published) snapshot and its audit rows. An error-severity rule stops it before its snapshot is sealed."""
    settings = load_settings()
    import_in_background()
    root = settings.lake_dir.resolve()
    base = snapshot(root, base_id) if base_id else None
    ctx = RunContext.from_settings(settings, str(flow_run.id or uuid.uuid4()))
    windows = run_windows(ds, ctx.rules)
    log = get_run_logger()
    started = datetime.now(timezone.utc)
    # the staged tables kept on disk (see `stage`) live until the night's snapshot is written
    with ExitStack() as temporaries:
        with task_runner(settings) as runner:
            ingested = run_all(runner, ingest, dataset_calls(ds, ctx))
            unexpected = unexpected_landing(ctx.landing_dir, ds)
            for path in unexpected:
                log.warning("unexpected in landing, not read: %s", path)
            checks = run_all(runner, check_raw, dataset_calls(ds, ctx))
            clean = {name: check.split.clean for name, check in checks.items()}
            clean_rows = {name: check.split.clean_rows for name, check in checks.items()}
            spill = temporaries.enter_context(held_temporaries(root, too_large_to_hold(clean_rows)))
            staged = run_all(runner, stage, {m.name: dict(model=m.name, ds=ds, clean={n: clean[n] for n in m.inputs},
                                                          spill_to=spill.get(m.name)) for m in STAGING_MODELS})
            staged_rows = {table: _rows(frame) for table, frame in staged.items()}
        del clean
        checks = _without_clean_rows(checks)
        with building(root, ds, base) as tables:
            ctx = replace(ctx, tables_dir=tables)
            marts = build_marts(ds, ctx, staged, windows)
            marts |= build_attribution(ds, ctx, staged, marts["fct_post_engagement"], windows)
            validation = record_validation(ds, ctx, checks, {**staged, **marts})

            failed = bool(validation.errors)
            audit = build_run_sources(ctx.run_id, ds, _outcomes(ingested, checks, clean_rows, validation), started,
                                      datetime.now(timezone.utc), run_failed=failed, unexpected=unexpected)
            if failed:
                record_audit(audit, ds, ctx)
                raise ValidationFailed(ds, validation.errors, validation.results_file)

            quarantine = {name: c.split.quarantined.with_columns(pl.lit(ds).alias(PARTITION_COLUMN))
                          for name, c in checks.items()}
            partitions = _partitions(windows, staged, quarantine, marts)
            check_warehouse(partitions, ds, ctx)
            for layer in dict.fromkeys(schema for schema, *_ in partitions):
                publish_parquet(layer, [(table, rows, column, value or ds)
                                        for schema, table, rows, column, value in partitions if schema == layer],
                                ds, ctx)
            sealed = seal(tables, ds, base, landing_inputs(root, ds), ctx.run_id)
    publish_artifacts(ds, audit, len(validation.results), [r.rule_id for r in validation.results if not r.success],
                      marts["mart_campaign_performance"])
    log.info("night %s: %d rows staged, %d quarantined, snapshot %s", ds, sum(staged_rows.values()),
             sum(f.height for f in quarantine.values()), sealed.id)
    summary = RunSummary(
        ds, ctx.run_id, {n: {"status": r.status, "rows": r.rows, "file": r.file} for n, r in ingested.items()},
        {n: f.height for n, f in quarantine.items()}, staged_rows | {t: f.height for t, f in marts.items()},
        [r.rule_id for r in validation.results if not r.success], str(root), settings.safe_warehouse_url(),
        str(validation.results_file), str(validation.docs_index or ""), unexpected=unexpected)
    return summary, sealed, audit
