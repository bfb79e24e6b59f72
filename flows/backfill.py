"""The backfill flow: the nightly flow for each landing date of a range, oldest first.

Oldest first because each day reads what earlier days published: the attribution lookback reads earlier visits,
restatement windows rewrite earlier conversions, rolling engagement windows read earlier account days. Run in that
order, a backfill's outputs equal the nightlies run one after another; every day is idempotent, so an interrupted
backfill resumes by running again from the day that failed.
"""
from __future__ import annotations

from datetime import date, timedelta

from prefect import flow, get_run_logger

from flows.nightly import RunSummary, nightly


def backfill_days(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"backfill end {end} is before its start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@flow(name="backfill", flow_run_name="backfill-{start}-{end}", log_prints=False)
def backfill(start: date, end: date) -> list[RunSummary]:
    """Run the nightly flow for every landing date from `start` to `end` (inclusive), oldest first, each as a child
    flow run."""
    summaries = []
    for day in backfill_days(start, end):
        summaries.append(nightly(ds=day))
        get_run_logger().info("backfill: %s done", day)
    return summaries
