"""The nightly flow: plan the nights a run must process (influence.nights), build each into its lake snapshot
(flows/night.py), and publish — lake, warehouse, audit and BI copy switching from one whole night to the next.

Only wiring lives here. One run holds the data dir at a time (sinks/lock.py).
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from influence_pipeline.atomic import prepare_staging
from influence_pipeline.deployment import check_deployment_run
from influence_pipeline.flows.context import RunContext
from influence_pipeline.flows.night import RunSummary, landing_inputs, night
from influence_pipeline.flows.publish_tasks import publish_night, recover_publication, sweep_bi_copy_leftovers
from influence_pipeline.flows.runners import tie_temporary_server
from influence_pipeline.nights import plan_nights, publish_points
from influence_pipeline.retention import purge_expired, refuse_purged_nights
from influence_pipeline.schemas.raw import DATASETS
from influence_pipeline.settings import Settings, load_settings
from influence_pipeline.sinks.lake import sweep_temporaries
from influence_pipeline.sinks.lock import data_dir_lock
from influence_pipeline.sinks.snapshots import (
    Snapshot,
    adopt_unversioned,
    base_for,
    current,
    snapshot,
    sweep_dead_builds,
)
from influence_pipeline.sources.ingest import arrived_late
from influence_pipeline.sources.manifest import read_entry
from influence_pipeline.transforms.windows import default_landing_date, run_windows

__all__ = ["RunSummary", "default_ds", "nightly", "run_nights"]


def default_ds(scheduled: datetime | None, zone) -> date:
    """The landing date a run processes by default, in the timezone landing days follow (INFLUENCE_TIMEZONE)."""
    return default_landing_date(scheduled, zone, datetime.now(timezone.utc))


def late_days(root: Path, landing_dir: Path, published: Snapshot | None, days: tuple[date, ...]) -> list[date]:
    """The processed nights among `days` whose landing files changed since they ran: delivered late, re-delivered,
    or ingested by a run that never published."""
    if published is None:
        return []
    late = []
    for day in days:
        name = published.nights.get(day)
        if name is None or not (root / "nights" / name).exists():
            continue
        inputs = snapshot(root, name).inputs
        for dataset in DATASETS:
            entry = read_entry(root, dataset.name, day)
            if arrived_late(dataset, landing_dir, root, day) or (entry.sha256 if entry else None) != inputs.get(
                    dataset.name):
                late.append(day)
                break
    return late


def sweep_leftovers(data_dir: Path, root: Path, ctx: RunContext) -> int:
    """With the writer lock held, whatever their age: dead writers' temporaries anywhere in the data dir (sealed
    snapshots hold none), dead nights' building directories, the BI copy's temporaries. Returns how many went."""
    prepare_staging(data_dir)
    return (sweep_temporaries(data_dir, skip=(root / "nights",)) + sweep_dead_builds(root)
            + sweep_bi_copy_leftovers(ctx))


def run_nights(days: list[date], settings: Settings, holder: str, restate: bool = True) -> dict[date, RunSummary]:
    """Holding the data dir: finish an interrupted publication, then build every night of the plan, oldest first,
    each on the snapshot the one before it left, publishing at the plan's publish points. Returns the summary of each
    night built."""
    root = settings.lake_dir.resolve()
    log = get_run_logger()
    tie_temporary_server()  # a killed run must not leave Prefect's temporary server behind
    with data_dir_lock(settings.data_dir.resolve(), holder, settings.lock_wait_seconds):
        ctx = RunContext.from_settings(settings, str(flow_run.id or uuid.uuid4()))
        if swept := sweep_leftovers(settings.data_dir.resolve(), root, ctx):
            log.warning("swept %d temporary files and folders left by an interrupted run", swept)
        recover_publication(ctx)
        if adopted := adopt_unversioned(root, lambda day: landing_inputs(root, day)):
            log.warning("the lake had no night snapshots yet: its tables became snapshot %s (night %s)", adopted.id,
                        adopted.night)
        published = current(root)
        processed = sorted(published.nights) if published else []
        late = (late_days(root, ctx.landing_dir, published, run_windows(max(days), ctx.rules).late_check_days)
                if restate else [])
        chain = plan_nights(days, processed, late)
        refuse_purged_nights(ctx.landing_dir, root, chain)  # before anything is built: a clear refusal
        if replayed := [d for d in chain if d not in days]:
            log.warning("also running %s: %s", ", ".join(map(str, replayed)),
                        "their landing files changed" if set(replayed) <= set(late) else
                        "nights after a rerun date are replayed so every table equals in-order nightlies")
        base = base_for(root, published, chain[0])
        points = set(publish_points(chain, processed))
        summaries: dict[date, RunSummary] = {}
        audits: list[pl.DataFrame] = []
        for day in chain:
            summary, base, audit = night(ds=day, base_id=base.id if base else None)
            summaries[day] = summary
            audits.append(audit)
            if day in points:
                summary.report, summary.validation_page = publish_night(published, base, pl.concat(audits), ctx)
                published, audits = base, []
        _, summaries[chain[-1]].purged = purge_expired(settings)
        if any(summaries[chain[-1]].purged.values()):
            log.info("retention purged %s", summaries[chain[-1]].purged)
    return summaries


@flow(name="nightly", flow_run_name="nightly-{ds}", log_prints=False)
def nightly(ds: date | None = None, restate: bool = True) -> RunSummary:
    """Process the landing files delivered on `ds` (default: the day before the scheduled start) and publish the
    result. With `restate`, files that arrived late for one of the trailing late_data.restate_days re-run their day
    first; a rerun of an earlier date replays the processed nights after it (influence.nights)."""
    settings = load_settings()
    check_deployment_run(settings)
    ds = ds or default_ds(flow_run.scheduled_start_time, settings.zone())
    return run_nights([ds], settings, f"nightly {ds} (flow run {flow_run.id})", restate)[ds]
