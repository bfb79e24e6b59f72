"""The `forget` flow: erase a person from landing and raw (influence_pipeline.erasure), log it, then rebuild every
processed night from the earliest one that held them (the rerun machinery of influence_pipeline.nights), publish,
and prune the snapshots built before — all under one hold of the data dir's writer lock.

Only wiring lives here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from pydantic import SecretStr

from influence_pipeline.erasure import erase_person
from influence_pipeline.erasure_log import append_log, log_path, read_log
from influence_pipeline.flows.context import RunContext
from influence_pipeline.flows.nightly import run_nights
from influence_pipeline.rules_file import load_rules
from influence_pipeline.settings import load_settings
from influence_pipeline.sinks.lock import data_dir_lock
from influence_pipeline.sinks.snapshots import Snapshot, SnapshotMissing, base_for, current, prune, snapshot
from influence_pipeline.transforms.erasure import value_digest


@dataclass
class ForgetSummary:
    kind: str
    landing_rows: dict[str, int]  # raw dataset -> landing lines removed
    raw_rows: dict[str, int]  # raw dataset -> raw rows emptied (their landing file was gone)
    replayed: list[str]  # the nights rebuilt and republished, ISO dates
    snapshots_pruned: int
    log: str


def _kept_base(root, published: Snapshot, night) -> bool:
    """Whether the lake still keeps the state `night` builds on."""
    try:
        base_for(root, published, night)
    except SnapshotMissing:
        return False
    return True


def _rewrite_reports(settings, nights: list) -> None:
    """Rewrite the brief and the validation page of each of `nights` that has them, from its rebuilt snapshot: a
    brief written before the erasure counts the person in its totals."""
    from influence_pipeline.report.data import read_run_sources, write_report
    from influence_pipeline.report.validation_page import write_validation_page

    root, ctx = settings.lake_dir.resolve(), RunContext.from_settings(settings, "forget")
    lineage = current(root)
    for night in nights:
        report = ctx.reports_dir / f"report-{night}.html"
        name = lineage.nights.get(night)
        if not report.exists() or name is None:
            continue
        write_report(snapshot(root, name).path, ctx.validation_dir, night, ctx.rules, report,
                     audit=read_run_sources(settings.resolved_warehouse_url, night), landing_dir=ctx.landing_dir)
        write_validation_page(ctx.validation_dir, night, ctx.reports_dir / f"validation-{night}.html")


@flow(name="forget", flow_run_name="forget-{kind}", log_prints=False)
def forget(kind: str, value: SecretStr) -> ForgetSummary:
    """Erase the person whose `kind` identifier (email, customer_id, anonymous_id) is `value` everywhere a run
    writes, and record it in the erasure log (digests only). A secret, so that Prefect stores the flow run's
    parameter masked: the identifier being erased must not land in the orchestrator's database."""
    value = value.get_secret_value()
    settings = load_settings()
    key = settings.pii_key_bytes()
    root = settings.lake_dir.resolve()
    log = get_run_logger()
    holder = f"forget (flow run {flow_run.id})"
    with data_dir_lock(settings.data_dir.resolve(), holder, settings.lock_wait_seconds):
        seed = value_digest(value, kind, key)
        # a person erased before and delivered again since is found by every identifier they were erased with
        known = next((set(e["digests"]) for e in read_log(root) if seed in e["digests"]), set())
        erasure = erase_person(settings.landing_dir.resolve(), root, kind, value, key, known)
        published = current(root)
        processed = sorted(published.nights) if published else []
        # a night reads only its own landing day's files: the earliest processed night on or after the earliest day
        # that held the person is where its state first changes
        start = min(erasure.days, default=None)
        replay = [d for d in processed if start is not None and d >= start]
        if replay and not _kept_base(root, published, replay[0]):
            # the state before the person's first night was pruned (lake.keep_nights): rebuild every night instead
            replay = processed
        append_log(root, {"erased_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "kind": kind,
                          "digest": seed, "digests": sorted(erasure.digests),
                          "landing_rows": erasure.landing_rows, "raw_rows": erasure.raw_rows,
                          "nights_replayed": [d.isoformat() for d in replay]})
        if replay:
            log.warning("replaying nights %s to %s without the erased person", replay[0], replay[-1])
            run_nights([replay[0]], settings, holder, restate=True)
            _rewrite_reports(settings, replay[:-1])  # the last one's were written when it was published
        # the snapshot published before keeps the person: nothing may read it any more
        pruned = prune(root, load_rules(settings.rules_file).lake.keep_nights, set()) if replay else 0
    return ForgetSummary(kind, erasure.landing_rows, erasure.raw_rows, [d.isoformat() for d in replay], pruned,
                         str(log_path(root)))
