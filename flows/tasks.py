"""Prefect tasks: each one step of a run, delegating to sources/, contracts/, transforms/ and sinks/.

No task is cached: Prefect's input cache would make a rerun skip its writes. Storage and warehouse I/O retry with
backoff, since those are the steps that fail for passing reasons (a locked file, a dropped connection).
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from influence_pipeline.flows.context import RunContext
from influence_pipeline.schemas.checkpoint import RunValidation, evaluate_raw, validate_run
from influence_pipeline.schemas.contract import load_contracts
from influence_pipeline.schemas.raw import BY_NAME as RAW_DATASETS
from influence_pipeline.schemas.row_rules import reference_targets, row_rules
from influence_pipeline.sinks.lake import write_partition, write_partition_query, write_whole
from influence_pipeline.sinks.warehouse import connect_warehouse
from influence_pipeline.sources.ingest import IngestResult, ingest_dataset, landing_path, scan_raw, unread_forms
from influence_pipeline.sources.landing import LandingFileError
from influence_pipeline.transforms.quarantine import BatchCheck, check_batch, same_day_references
from influence_pipeline.transforms.staging.registry import BY_NAME as STAGING_MODELS


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
    delivered_instead = [alt for alt in RAW_DATASETS[dataset].alternatives
                         if landing_path(ctx.landing_dir, RAW_DATASETS[alt], ds)[0].exists()]
    if result.status == "missing" and delivered_instead:
        # A shop measured with GA4 sends no tracker file, and the other way round: nothing is late or lost.
        log.info("%s: no landing file %s (%s delivered instead)", dataset, result.file, ", ".join(delivered_instead))
    elif result.status == "missing":
        log.warning("%s: no landing file %s", dataset, result.file)
    else:
        log.info("%s: %s (%d rows from %s)", dataset, result.status, result.rows, result.file)
    if unread := unread_forms(ctx.landing_dir, RAW_DATASETS[dataset], ds):
        log.warning("%s: %s also delivered and not read: one form per day is read (%s); remove the other",
                    dataset, ", ".join(unread), result.file)
    return replace(result, seconds=time.perf_counter() - started)


#: Raw batches with more rows than this are checked and staged straight from their Parquet file in streaming passes:
#: a profile-XL day of web events (23 M lines) is a 9.3 GiB frame of text, which held whole, with the copies the
#: rules make, did not fit in 24 GB. Smaller batches are read once into memory, which is faster than decoding the
#: file again for each pass.
STREAM_ABOVE_ROWS = 5_000_000


def _raw_batch(ctx: RunContext, dataset: str, ds: date) -> pl.LazyFrame:
    scan = scan_raw(ctx.lake_dir, RAW_DATASETS[dataset], ds)
    rows = scan.select(pl.len()).collect().item()
    return scan if rows > STREAM_ABOVE_ROWS else scan.collect().lazy()


@task(name="check", task_run_name="check-{dataset}-{ds}", cache_policy=NO_CACHE)
def check_raw(dataset: str, ds: date, ctx: RunContext) -> BatchCheck:
    """Split the day's raw batch into clean and quarantined rows by the contract's row rules. The clean rows stay a
    query over the batch, for staging to collect."""
    started = time.perf_counter()
    contract = load_contracts()[dataset]
    targets = {t.split(".", 1)[0] for t in reference_targets(contract)}
    referenced = {name: scan_raw(ctx.lake_dir, RAW_DATASETS[name], ds) for name in targets}
    raw = _raw_batch(ctx, dataset, ds)
    checked = check_batch(raw, contract, row_rules(contract, ds, same_day_references(contract, referenced)))
    split = checked.split
    if split.quarantined.height:
        top = ", ".join(f"{rule} {n}" for rule, n in sorted(split.rule_counts.items(), key=lambda kv: -kv[1]) if n)
        get_run_logger().info("%s: %d of %d rows quarantined (%s)", dataset, split.quarantined.height,
                              split.clean_rows + split.quarantined.height, top)
    if ctx.validation_engine == "polars":
        checked = evaluate_raw(checked, contract)
    else:
        checked = replace(checked, frame=checked.frame.collect())
    checked.seconds = time.perf_counter() - started
    return checked


def too_large_to_hold(clean_rows: dict[str, int]) -> list[str]:
    """The staging models whose inputs hold more clean rows (raw dataset -> rows) than a batch held in memory may:
    `stage` streams them to a Parquet file."""
    return [m.name for m in STAGING_MODELS.values() if sum(clean_rows[n] for n in m.inputs) > STREAM_ABOVE_ROWS]


@task(name="stage", task_run_name="stage-{model}-{ds}", cache_policy=NO_CACHE)
def stage(model: str, ds: date, clean: dict[str, pl.DataFrame | pl.LazyFrame],
          spill_to: Path | None = None) -> pl.DataFrame | pl.LazyFrame:
    """Build one staging table: in memory, or — with `spill_to`, a temporary the night holds — streamed into that
    Parquet file and handed on as a scan of it, for a table too large to hold beside the rest of the night (a
    profile-XL day of web events is about 10 GiB in memory, 1 GiB as Parquet)."""
    spec = STAGING_MODELS[model]
    query = spec.build(*[clean[name].lazy() for name in spec.inputs], landing_date=ds)
    if spill_to is None:
        frame = query.collect(engine="streaming")
        rows = frame.height
    else:
        query.sink_parquet(spill_to)
        frame = pl.scan_parquet(spill_to)
        rows = frame.select(pl.len()).collect().item()
    get_run_logger().info("%s: %d rows%s", model, rows, " (kept on disk)" if spill_to else "")
    return frame


@task(name="publish-parquet", task_run_name="publish-parquet-{layer}-{ds}", cache_policy=NO_CACHE, **IO_RETRIES)
def publish_parquet(layer: str, partitions: list[tuple[str, pl.DataFrame, str | None, date | None]], ds: date,
                    ctx: RunContext) -> list[str]:
    """Write one layer's partitions (table, rows, partition column or None for a whole table, value), two at a time:
    Parquet encoding releases the GIL. One task per layer, not per partition: a night owns some 80 partitions, and
    a task run each cost more than writing all but the largest."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda p: _write_table(layer, *p, ctx), partitions))


def _write_table(layer: str, table: str, rows: pl.DataFrame | pl.LazyFrame, column: str | None, value: date | None,
                 ctx: RunContext) -> str:
    """Replace one partition, or — with no partition column — the whole (dimension) table. Rows are sorted by the
    contract's key: files are byte-identical on a rerun and row-group statistics prune lookups by key."""
    if isinstance(rows, pl.LazyFrame):
        # A table kept on disk (see `stage`) is copied in its own order, never sorted: sorting 22 M staged web
        # events by key held them twice. Its order is the batch's line order, so a rerun writes the same bytes.
        return str(write_partition_query(rows, ctx.tables_dir, layer, table, column, value))
    contract = load_contracts().get(table)
    if contract is not None and contract.layer != "raw" and contract.primary_key:
        rows = rows.sort(contract.primary_key, nulls_last=True)
    if column is None:
        return str(write_whole(rows, ctx.tables_dir, layer, table))
    return str(write_partition(rows, ctx.tables_dir, layer, table, column, value))


@task(name="check-warehouse", task_run_name="check-warehouse-{ds}", cache_policy=NO_CACHE, **IO_RETRIES)
def check_warehouse(partitions: list[tuple[str, str, pl.DataFrame, str | None, date | None]], ds: date,
                    ctx: RunContext) -> None:
    """Refuse, before the first write, a run whose tables the warehouse cannot take without rewriting data."""
    # the schema of an empty slice: converting 2 M rows to Arrow only to read their schema copied every string
    tables = {(schema, table): pl.DataFrame(schema=rows.lazy().collect_schema()).to_arrow().schema
              for schema, table, rows, _, _ in partitions}
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


# Not "validate": that is the validate flow's name and the CLI command's, and a task of the same name made the
# Prefect UI and the benchmark's stage table ambiguous.
@task(name="record-validation", task_run_name="record-validation-{ds}", cache_policy=NO_CACHE)
def record_validation(ds: date, ctx: RunContext, checks: dict[str, BatchCheck],
                      staged: dict[str, pl.DataFrame]) -> RunValidation:
    """Record every rule in Great Expectations (results JSON + data docs). Gating is the flow's call."""
    validation = validate_run(ctx.validation_dir, ds, ctx.run_id, checks, staged, ctx.validation_engine)
    failed = [r for r in validation.results if not r.success]
    log = get_run_logger()
    log.info("validation: %d rules checked, %d failed (%d errors); docs: %s", len(validation.results), len(failed),
             len(validation.errors), validation.docs_index)
    for result in validation.errors:
        log.error("%s: %s failed", result.dataset, result.rule_id)
    return validation


