"""Prefect tasks: each one step of a run, delegating to sources/, transforms/ and sinks/.

No task is cached: Prefect's input cache would make a rerun skip its writes. Storage and warehouse I/O retry with
backoff, since those are the steps that fail for passing reasons (a locked file, a dropped connection).
"""
from __future__ import annotations

from datetime import date

import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.context import RunContext
from schemas.raw import BY_NAME as RAW_DATASETS
from sinks.lake import write_partition
from sinks.warehouse import connect_warehouse
from sources.ingest import IngestResult, ingest_dataset, scan_raw
from transforms.staging.models import BY_NAME as STAGING_MODELS
from transforms.staging.models import PARTITION_COLUMN

STAGING_LAYER = "staging"
IO_RETRIES = dict(retries=2, retry_delay_seconds=[2, 10])


@task(name="ingest", task_run_name="ingest-{dataset}-{ds}", cache_policy=NO_CACHE, **IO_RETRIES)
def ingest(dataset: str, ds: date, ctx: RunContext) -> IngestResult:
    result = ingest_dataset(RAW_DATASETS[dataset], ctx.landing_dir, ctx.lake_dir, ds, ctx.run_id, ctx.pii_key)
    log = get_run_logger()
    if result.status == "missing":
        log.warning("%s: no landing file %s", dataset, result.file)
    else:
        log.info("%s: %s (%d rows from %s)", dataset, result.status, result.rows, result.file)
    return result


@task(name="stage", task_run_name="stage-{model}-{ds}", cache_policy=NO_CACHE)
def stage(model: str, ds: date, ctx: RunContext) -> pa.Table:
    spec = STAGING_MODELS[model]
    inputs = [scan_raw(ctx.lake_dir, RAW_DATASETS[name], ds) for name in spec.inputs]
    frame = spec.build(*inputs, landing_date=ds).collect()
    get_run_logger().info("%s: %d rows", model, frame.height)
    return frame.to_arrow()


@task(name="publish-parquet", task_run_name="publish-parquet-{table}-{ds}", cache_policy=NO_CACHE, **IO_RETRIES)
def publish_parquet(table: str, rows: pa.Table, ds: date, ctx: RunContext) -> str:
    return str(write_partition(rows, ctx.lake_dir, STAGING_LAYER, table, PARTITION_COLUMN, ds))


@task(name="load-warehouse", task_run_name="load-warehouse-{ds}", cache_policy=NO_CACHE, **IO_RETRIES)
def load_warehouse(tables: dict[str, pa.Table], ds: date, ctx: RunContext) -> None:
    warehouse = connect_warehouse(ctx.warehouse_url)
    try:
        for table, rows in tables.items():
            warehouse.replace_partition(STAGING_LAYER, table, rows, PARTITION_COLUMN, ds)
    finally:
        warehouse.close()
