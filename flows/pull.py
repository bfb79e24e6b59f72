"""The pull flow: one source's API → its landing folder for one day, ahead of the nightly that reads it.

Only wiring: the pull itself is sources.api.pull.pull_source; the default day is transforms.windows.default_pull_date.
One pull per source at a time (a flock beside the source's cursor), never the data dir's writer lock: the nightly may
hold that for many minutes and reads other days' folders.
"""
from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timezone

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from influence_pipeline.deployment import check_deployment_run
from influence_pipeline.flows.runners import tie_temporary_server
from influence_pipeline.settings import Settings
from influence_pipeline.sinks.lock import data_dir_lock
from influence_pipeline.sources.api.config import ApiSettings
from influence_pipeline.sources.api.landing_out import PullRecord
from influence_pipeline.sources.api.pull import pull_source
from influence_pipeline.sources.api.state import STATE_DIR
from influence_pipeline.transforms.windows import default_pull_date


class PullIncomplete(RuntimeError):
    """Some accounts could not be read (a token to renew, a permission to grant) or a budget ran out: the files of
    the others landed, and the run ends red so that a human looks."""


def pull_markdown(record: PullRecord) -> str:
    lines = [f"# {record.source} pull for {record.landing_date}", "",
             f"API {record.api_version}; {record.requests} requests, {record.retries} retries"
             + (f", {record.quota_used} quota units" if record.quota_used is not None else ""), "",
             "| file | rows |", "|---|---:|", *(f"| {name} | {rows} |" for name, rows in record.files.items()), ""]
    if record.accounts:
        lines += ["| account | access | status | message |", "|---|---|---|---|",
                  *(f"| {a.account_id} | {a.access} | {a.status} | {a.message} |" for a in record.accounts), ""]
    lines += [f"- {w}" for w in record.warnings]
    return "\n".join(lines)


@task(name="pull-source", task_run_name="pull-{source}-{ds}-{mode}", cache_policy=NO_CACHE)
def pull_task(source: str, ds: date, mode: str, settings: ApiSettings) -> PullRecord:
    lock_dir = settings.data_dir / STATE_DIR / "pull" / f"{source}.lock.d"
    with data_dir_lock(lock_dir, f"pull {source} {ds} (flow run {flow_run.id})", wait_seconds=600):
        return pull_source(source, settings, ds, now=datetime.now(timezone.utc), mode=mode)


@flow(name="pull", flow_run_name="pull-{source}-{mode}")
def pull(source: str, ds: date | None = None, mode: str = "daily", fail_on_stopped: bool = True) -> dict:
    """Pull `source` (instagram, tiktok, youtube, shopify) for landing date `ds` (default: today for the social
    snapshots, yesterday for Shopify, in INFLUENCE_TIMEZONE) and write its landing files and `_pull.json`.
    Returns the pull record; with `fail_on_stopped`, ends failed after writing when an account needs a human."""
    log = get_run_logger()
    settings = Settings()
    check_deployment_run(settings)
    tie_temporary_server()  # a killed pull must not leave Prefect's temporary server behind
    api = ApiSettings()
    day = ds or default_pull_date(source, flow_run.scheduled_start_time, settings.zone(), datetime.now(timezone.utc))
    record = pull_task(source, day, mode, api)
    create_markdown_artifact(pull_markdown(record), key=f"pull-{source}", description=f"{source} pull {day}")
    for warning in record.warnings:
        log.warning(warning)
    for account in record.accounts:
        if account.status in ("stopped", "failed"):
            log.error("%s: %s", account.account_id, account.message)
    log.info("%s %s: %s", source, day, ", ".join(f"{n} {r} rows" for n, r in record.files.items()) or "no files")
    if fail_on_stopped and (record.stopped or record.incomplete):
        raise PullIncomplete("; ".join([*([record.incomplete] if record.incomplete else []), *(
            f"{a.account_id} {a.status}: {a.message}" for a in record.stopped)]))
    return asdict(record)
