"""The backfill flow: the nights of a range, oldest first, with the landing files of every day ingested ahead,
`concurrency` at a time.

Oldest first because each night reads what earlier nights published (attribution lookback, restated conversions,
rolling engagement windows); a range that ends before the latest processed night also replays the nights after it
(influence.nights), so its outputs equal the nightlies run one after another. Ingestion (landing file → raw lake)
reads and writes nothing of any other day, so it is the part that runs ahead in parallel; a night then finds its
files already loaded (same checksum) and goes straight to its checks. Every night is idempotent, and nights past the
latest published one are published as they complete, so an interrupted backfill resumes by running again.

With `deployments`, each day runs as a flow run of the `ingest` and `nightly` deployments instead of in this
process, so the work spreads over every worker of the pool; an idempotency key per backfill run and day means a
retried backfill does not start a day twice.
"""
from __future__ import annotations

import contextvars
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from prefect import flow, get_run_logger
from prefect.deployments import run_deployment
from prefect.runtime import flow_run

from influence_pipeline.atomic import prepare_staging
from influence_pipeline.deployment import check_deployment_run
from influence_pipeline.flows.context import RunContext
from influence_pipeline.flows.nightly import RunSummary, run_nights
from influence_pipeline.flows.runners import run_all, task_runner, tie_temporary_server
from influence_pipeline.flows.tasks import dataset_calls, ingest
from influence_pipeline.settings import load_settings
from influence_pipeline.sinks.lock import data_dir_lock
from influence_pipeline.sinks.snapshots import current
from influence_pipeline.sources.ingest import IngestResult
from influence_pipeline.transforms.windows import days_between

INGEST_DEPLOYMENT, NIGHTLY_DEPLOYMENT = "ingest/ingest", "nightly/nightly"


backfill_days = days_between  # the CLI's name for the range's landing dates


@flow(name="ingest", flow_run_name="ingest-{ds}", log_prints=False)
def ingest_landing(ds: date) -> dict[str, IngestResult]:
    """Load `ds`'s landing files into the raw lake (exactly once per file content); checks and marts are the
    nightly's."""
    settings = load_settings()
    check_deployment_run(settings)
    prepare_staging(settings.data_dir)  # temporaries out of readers' globs even before the first nightly
    tie_temporary_server()
    ctx = RunContext.from_settings(settings, str(flow_run.id or uuid.uuid4()))
    with task_runner(settings) as runner:
        return run_all(runner, ingest, dataset_calls(ds, ctx))


def _ingest_ahead(days: list[date], concurrency: int) -> None:
    """Every (dataset, day) landing file of the range, `concurrency` at a time (or across the Dask cluster)."""
    settings = load_settings()
    ctx = RunContext.from_settings(settings, str(flow_run.id or uuid.uuid4()))
    with task_runner(settings, max_workers=concurrency) as runner:
        run_all(runner, ingest, {f"{name}-{day}": kwargs
                                 for day in days for name, kwargs in dataset_calls(day, ctx).items()})


def _run_deployment(name: str, day: date, backfill_id: str, attempt: int) -> None:
    """One day as a flow run of deployment `name`, waited for. The idempotency key makes a retry of this backfill
    reuse the day's run; only a day whose run did not complete is started again, under a new key."""
    key = f"backfill-{backfill_id}-{name}-{day}"
    run = run_deployment(name, parameters={"ds": day.isoformat()}, idempotency_key=key, timeout=None)
    if run.state is not None and run.state.is_final() and not run.state.is_completed() and attempt > 1:
        run = run_deployment(name, parameters={"ds": day.isoformat()}, idempotency_key=f"{key}-attempt-{attempt}",
                             timeout=None)
    if run.state is None or not run.state.is_completed():
        raise RuntimeError(f"{name} for {day} ended {run.state.name if run.state else 'without a state'} "
                           f"(flow run {run.name}); fix it and run the backfill again, it resumes idempotently")


@flow(name="backfill", flow_run_name="backfill-{start}-{end}", log_prints=False)
def backfill(start: date, end: date, concurrency: int = 1, deployments: bool = False) -> list[RunSummary | None]:
    """Run the nightly flow for every landing date from `start` to `end` (inclusive), oldest first, after ingesting
    the range's landing files `concurrency` days at a time. Returns each day's summary (None for a day run through
    the deployments, whose summary lives in that flow run)."""
    if concurrency < 1:
        raise ValueError(f"backfill concurrency must be at least 1, not {concurrency}")
    days = days_between(start, end)
    settings = load_settings()
    check_deployment_run(settings)
    log = get_run_logger()
    tie_temporary_server()  # a killed backfill must not leave Prefect's temporary server behind
    backfill_id, attempt = str(flow_run.id or uuid.uuid4()), flow_run.run_count or 1
    if deployments:
        def ingest_day(day: date) -> None:  # each thread carries this flow run's context: the runs are its children
            context.copy().run(_run_deployment, INGEST_DEPLOYMENT, day, backfill_id, attempt)

        context = contextvars.copy_context()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(ingest_day, days))
    if deployments:
        # The first night replays every processed night after it: only the range's unprocessed days need a run more.
        published = current(settings.lake_dir.resolve())
        processed = set(published.nights) if published else set()
        for day in days:
            if day == days[0] or day not in processed:
                _run_deployment(NIGHTLY_DEPLOYMENT, day, backfill_id, attempt)
            log.info("backfill: %s done", day)
        return [None] * len(days)
    holder = f"backfill {start} … {end} (flow run {backfill_id})"
    with data_dir_lock(settings.data_dir.resolve(), holder, settings.lock_wait_seconds):
        prepare_staging(settings.data_dir)
        if concurrency > 1:
            _ingest_ahead(days, concurrency)
        built = run_nights(days, settings, holder)
    return [built[day] for day in days]
