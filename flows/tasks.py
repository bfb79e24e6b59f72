"""Prefect tasks: each one step of a run, delegating to sources/, contracts/, transforms/ and sinks/.

No task is cached: Prefect's input cache would make a rerun skip its writes. Storage and warehouse I/O retry with
backoff, since those are the steps that fail for passing reasons (a locked file, a dropped connection).
"""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, timedelta

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from contracts.checkpoint import RunValidation, evaluate_raw, validate_run
from contracts.model import load_contracts, table_schema
from contracts.rules import reference_targets, row_rules
from flows.context import RunContext
from schemas.raw import BY_NAME as RAW_DATASETS
from sinks.lake import scan_history, write_partition, write_whole
from sinks.warehouse import connect_warehouse
from sources.ingest import IngestResult, ingest_dataset, scan_raw
from sources.landing import LandingFileError
from transforms.marts.accounts import LAST_POSTS_LOOKBACK_DAYS, build_fct_account_daily
from transforms.marts.benchmark import build_mart_tier_benchmark, month_start
from transforms.marts.dates import build_dim_date
from transforms.marts.dims import build_dim_account, build_dim_influencer
from transforms.marts.engagement import build_fct_post_engagement
from transforms.quarantine import BatchCheck, check_batch, same_day_references
from transforms.staging.models import BY_NAME as STAGING_MODELS

PARTITION_COLUMN = "landing_date"
def _is_transient(task, task_run, state) -> bool:
    """Retry I/O hiccups (a full disk being freed, a dropped connection, a locked DuckDB file), not bad data: a
    landing file that cannot be read will not read better in ten seconds."""
    import duckdb
    import psycopg

    failure = state.result(raise_on_failure=False)
    transient = (OSError, psycopg.OperationalError, duckdb.IOException)
    return isinstance(failure, transient) and not isinstance(failure, LandingFileError)


IO_RETRIES = dict(retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=_is_transient)


def dataset_calls(ds: date, ctx: RunContext) -> dict[str, dict]:
    """The arguments of a per-dataset step (ingest, check) for every raw dataset of landing date `ds`."""
    return {name: dict(dataset=name, ds=ds, ctx=ctx) for name in RAW_DATASETS}


@task(name="ingest", task_run_name="ingest-{dataset}-{ds}", cache_policy=NO_CACHE, **IO_RETRIES)
def ingest(dataset: str, ds: date, ctx: RunContext) -> IngestResult:
    started = time.perf_counter()
    result: IngestResult = ingest_dataset(RAW_DATASETS[dataset], ctx.landing_dir, ctx.lake_dir, ds, ctx.run_id,
                                          ctx.pii_key, ctx.rules.full_snapshots.min_ratio)
    log = get_run_logger()
    if result.status == "missing":
        log.warning("%s: no landing file %s", dataset, result.file)
    else:
        log.info("%s: %s (%d rows from %s)", dataset, result.status, result.rows, result.file)
    return replace(result, seconds=time.perf_counter() - started)


@task(name="check", task_run_name="check-{dataset}-{ds}", cache_policy=NO_CACHE)
def check_raw(dataset: str, ds: date, ctx: RunContext) -> BatchCheck:
    """Split the day's raw batch into clean and quarantined rows by the contract's row rules."""
    started = time.perf_counter()
    contract = load_contracts()[dataset]
    targets = {t.split(".", 1)[0] for t in reference_targets(contract)}
    referenced = {name: scan_raw(ctx.lake_dir, RAW_DATASETS[name], ds).collect() for name in targets}
    raw = scan_raw(ctx.lake_dir, RAW_DATASETS[dataset], ds).collect()
    checked = check_batch(raw, contract, row_rules(contract, ds, same_day_references(contract, referenced)))
    split = checked.split
    if split.quarantined.height:
        top = ", ".join(f"{rule} {n}" for rule, n in sorted(split.rule_counts.items(), key=lambda kv: -kv[1]) if n)
        get_run_logger().info("%s: %d of %d rows quarantined (%s)", dataset, split.quarantined.height,
                                 raw.height, top)
    if ctx.validation_engine == "polars":
        checked = evaluate_raw(checked, contract)
    checked.seconds = time.perf_counter() - started
    return checked


@task(name="stage", task_run_name="stage-{model}-{ds}", cache_policy=NO_CACHE)
def stage(model: str, ds: date, clean: dict[str, pl.DataFrame]) -> pl.DataFrame:
    spec = STAGING_MODELS[model]
    frame = spec.build(*[clean[name].lazy() for name in spec.inputs], landing_date=ds).collect()
    get_run_logger().info("%s: %d rows", model, frame.height)
    return frame


@task(name="build-marts", task_run_name="build-marts-{ds}", cache_policy=NO_CACHE)
def build_marts(ds: date, ctx: RunContext, staged: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The engagement marts for `ds`: today's staging frames plus only the staging history the windows need."""
    window = ctx.rules.engagement.metrics_tracked_days
    posts = staged["stg_post_snapshots"]
    history = scan_history(ctx.tables_dir, "staging", "stg_post_snapshots", PARTITION_COLUMN,
                           ds - timedelta(days=window + 1), ds - timedelta(days=1), posts.schema)
    accounts = staged["stg_account_daily"]
    account_history = scan_history(ctx.tables_dir, "staging", "stg_account_daily", PARTITION_COLUMN,
                                   ds - timedelta(days=window + 8), ds - timedelta(days=1), accounts.schema)
    fct = build_fct_post_engagement(
        pl.concat([history, posts.lazy()], how="vertical_relaxed"),
        pl.concat([account_history, accounts.lazy()], how="vertical_relaxed"),
        staged["stg_social_accounts"].lazy(), staged["stg_campaigns"].lazy(), ds, ctx.rules.emv,
    ).filter(pl.col("posted_date").is_between(*owned_posted_dates(ds, ctx))).collect()
    first_owned, _ = owned_posted_dates(ds, ctx)
    older_posts = scan_history(ctx.tables_dir, "marts", "fct_post_engagement", "posted_date",
                               ds - timedelta(days=LAST_POSTS_LOOKBACK_DAYS), first_owned - timedelta(days=1), fct.schema)
    previous_days = scan_history(ctx.tables_dir, "marts", "fct_account_daily", "metric_date",
                                 min(month_start(ds), ds - timedelta(days=ctx.rules.engagement.window_days)),
                                 ds - timedelta(days=1), table_schema("fct_account_daily"))
    daily = build_fct_account_daily(
        pl.concat([account_history, accounts.lazy()], how="vertical_relaxed"),
        pl.concat([older_posts, fct.lazy()], how="vertical_relaxed"), previous_days, ds, ctx.rules.tiers,
        ctx.rules.engagement,
    ).collect()
    captions = pl.concat([history, posts.lazy()], how="vertical_relaxed").select("account_id", "caption")
    dim_account = build_dim_account(staged["stg_social_accounts"].lazy(), daily.lazy(), captions,
                                    ctx.rules.niches).collect()
    dim_influencer = build_dim_influencer(staged["stg_influencers"].lazy(), dim_account.lazy()).collect()
    benchmark = build_mart_tier_benchmark(pl.concat([previous_days, daily.lazy()], how="vertical_relaxed"),
                                          dim_account.lazy(), ds, ctx.rules.engagement.target_min).collect()
    get_run_logger().info("fct_post_engagement: %d posts posted %s … %s; fct_account_daily: %d accounts",
                          fct.height, *owned_posted_dates(ds, ctx), daily.height)
    calendar = ctx.rules.calendar
    return {"fct_post_engagement": fct, "fct_account_daily": daily, "dim_account": dim_account,
            "dim_influencer": dim_influencer, "mart_tier_benchmark": benchmark,
            "dim_date": build_dim_date(date(calendar.first_year, 1, 1), date(calendar.last_year, 12, 31))}


def owned_posted_dates(ds: date, ctx: RunContext) -> tuple[date, date]:
    """The posted_date partitions a run for `ds` rewrites: posts still tracked, up to the latest a post may be dated."""
    return ds - timedelta(days=ctx.rules.engagement.metrics_tracked_days), ds + timedelta(days=1)


@task(name="publish-parquet", task_run_name="publish-parquet-{layer}-{table}-{ds}", cache_policy=NO_CACHE,
      **IO_RETRIES)
def publish_parquet(layer: str, table: str, rows: pl.DataFrame, ds: date | None, ctx: RunContext,
                    column: str | None = PARTITION_COLUMN) -> str:
    """Replace one partition, or — with no partition column — the whole (dimension) table. Rows are sorted by the
    contract's key: files are byte-identical on a rerun and row-group statistics prune lookups by key."""
    contract = load_contracts().get(table)
    if contract is not None and contract.layer != "raw" and contract.primary_key:
        rows = rows.sort(contract.primary_key, nulls_last=True)
    if column is None:
        return str(write_whole(rows, ctx.tables_dir, layer, table))
    return str(write_partition(rows, ctx.tables_dir, layer, table, column, ds))


@task(name="check-warehouse", task_run_name="check-warehouse-{ds}", cache_policy=NO_CACHE, **IO_RETRIES)
def check_warehouse(partitions: list[tuple[str, str, pl.DataFrame, str | None, date | None]], ds: date,
                    ctx: RunContext) -> None:
    """Refuse, before the first write, a run whose tables the warehouse cannot take without rewriting data."""
    tables = {(schema, table): rows.to_arrow().schema for schema, table, rows, _, _ in partitions}
    warehouse = connect_warehouse(ctx.warehouse_url)
    try:
        warehouse.check_compatible([(schema, table, arrow) for (schema, table), arrow in tables.items()])
    finally:
        warehouse.close()


@task(name="record-audit", task_run_name="record-audit-{ds}", cache_policy=NO_CACHE, **IO_RETRIES)
def record_audit(audit: pl.DataFrame, ds: date, ctx: RunContext) -> None:
    """Append this run's audit rows (replacing any of the same run id, so a retried task does not duplicate)."""
    warehouse = connect_warehouse(ctx.warehouse_url)
    try:
        warehouse.replace_partition("audit", "run_sources", audit.to_arrow(), "run_id", ctx.run_id)
    finally:
        warehouse.close()


@task(name="validate", task_run_name="validate-{ds}", cache_policy=NO_CACHE)
def validate(ds: date, ctx: RunContext, checks: dict[str, BatchCheck], staged: dict[str, pl.DataFrame]) -> RunValidation:
    """Record every rule in Great Expectations (results JSON + data docs). Gating is the flow's call."""
    validation = validate_run(ctx.validation_dir, ds, ctx.run_id, checks, staged, ctx.validation_engine)
    failed = [r for r in validation.results if not r.success]
    log = get_run_logger()
    log.info("validation: %d rules checked, %d failed (%d errors); docs: %s", len(validation.results), len(failed),
             len(validation.errors), validation.docs_index)
    for result in validation.errors:
        log.error("%s: %s failed", result.dataset, result.rule_id)
    return validation
