"""The nightly flow: ingest → staging → publish (Parquet lake, then warehouse) for one landing date.

Only wiring lives here. Everything is staged before anything is published, so a failing step leaves the previous
outputs exactly as they were. Later stages (validation, marts) slot in between staging and publishing.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.context import RunContext
from flows.tasks import ingest, load_warehouse, publish_parquet, stage
from influence.settings import load_settings
from schemas.raw import DATASETS
from sinks.lake import sweep_temporaries
from transforms.staging.models import STAGING_MODELS


@dataclass
class RunSummary:
    ds: date
    run_id: str
    ingested: dict[str, dict] = field(default_factory=dict)  # raw dataset -> {status, rows, file}
    staged: dict[str, int] = field(default_factory=dict)  # staging table -> rows
    lake_dir: str = ""
    warehouse: str = ""


def default_ds() -> date:
    """The day before the run was scheduled to start (UTC): what a 03:00 nightly is meant to process."""
    scheduled = flow_run.scheduled_start_time
    return (scheduled.date() if scheduled else datetime.now(timezone.utc).date()) - timedelta(days=1)


@flow(name="nightly", flow_run_name="nightly-{ds}", log_prints=False)
def nightly(ds: date | None = None) -> RunSummary:
    """Process the landing files delivered on `ds` (default: the day before the scheduled start) into the staging
    tables of the lake and the warehouse."""
    ds = ds or default_ds()
    settings = load_settings()
    ctx = RunContext.from_settings(settings, str(flow_run.id or uuid.uuid4()))
    log = get_run_logger()
    swept = sweep_temporaries(ctx.lake_dir)
    if swept:
        log.warning("swept %d temporary files left by an interrupted run", swept)

    summary = RunSummary(ds, ctx.run_id, lake_dir=str(ctx.lake_dir), warehouse=settings.safe_warehouse_url())
    for dataset in DATASETS:
        result = ingest(dataset.name, ds, ctx)
        summary.ingested[dataset.name] = {"status": result.status, "rows": result.rows, "file": result.file}

    staged = {model.name: stage(model.name, ds, ctx) for model in STAGING_MODELS}
    for table, rows in staged.items():
        publish_parquet(table, rows, ds, ctx)
        summary.staged[table] = rows.num_rows
    load_warehouse(staged, ds, ctx)
    log.info("nightly %s: %d staging tables, %d rows", ds, len(staged), sum(summary.staged.values()))
    return summary
