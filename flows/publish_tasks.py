"""Publishing a built night: the warehouse (tables, audit rows, published-night record) in one transaction, then the
lake's `current` pointer, then the BI copy and the report. The warehouse commit is the night's commit point: a note
written before it (publishing.json) lets the next run complete a publication a kill interrupted after it, or drop
one that never committed.
"""
from __future__ import annotations

from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from influence_pipeline.flows.context import RunContext
from influence_pipeline.flows.tasks import IO_RETRIES
from influence_pipeline.settings import duckdb_path
from influence_pipeline.sinks.bi import (
    discard_readonly_copy,
    install_readonly_copy,
    prepare_readonly_copy,
    sweep_readonly_copy_leftovers,
    view_statements,
)
from influence_pipeline.sinks.snapshots import (
    Snapshot,
    clear_pending,
    current,
    prune,
    read_pending,
    snapshot,
    switch,
    write_pending,
)
from influence_pipeline.sinks.sync import load_snapshot, warehouse_snapshot
from influence_pipeline.sinks.warehouse import connect_warehouse


def _bi_copy_path(ctx: RunContext) -> Path | None:
    """Where BI tools open the read-only copy of an embedded DuckDB warehouse (None for PostgreSQL: BI tools
    connect to it directly)."""
    if not ctx.warehouse_url.startswith("duckdb:"):
        return None
    database = duckdb_path(ctx.warehouse_url)
    return database.parent / "bi" / database.name


def sweep_bi_copy_leftovers(ctx: RunContext) -> int:
    """Delete the BI copy's temporaries (and their `.wal`) that dead runs left beside it; returns how many. Call with
    the data dir's writer lock held."""
    path = _bi_copy_path(ctx)
    return sweep_readonly_copy_leftovers(path) if path is not None else 0


def _switch(ctx: RunContext, target: Snapshot, bi_copy: Path | None) -> None:
    """After the warehouse committed `target`: point the lake at it and put its BI copy in place (renames only)."""
    switch(ctx.lake_dir, target)
    if bi_copy is not None:
        install_readonly_copy(bi_copy, _bi_copy_path(ctx))
    clear_pending(ctx.lake_dir)


def _prepare_bi_copy(ctx: RunContext, target: Snapshot) -> Path | None:
    path = _bi_copy_path(ctx)
    if path is None:
        return None
    return prepare_readonly_copy(target.path / "marts", path)


@task(name="publish", task_run_name="publish-{new.night}", cache_policy=NO_CACHE, **IO_RETRIES)
def publish_night(old: Snapshot | None, new: Snapshot, audit: pl.DataFrame, ctx: RunContext) -> tuple[str, str]:
    """Switch every sink from `old` (the published snapshot) to `new`; returns the night's HTML report and its
    validation page."""
    from influence_pipeline.report.data import write_report
    from influence_pipeline.report.validation_page import write_validation_page

    log = get_run_logger()
    bi_copy = _prepare_bi_copy(ctx, new)
    try:
        write_pending(ctx.lake_dir, {"snapshot": new.id, "previous": old.id if old else None})
        warehouse = connect_warehouse(ctx.warehouse_url)
        try:
            files = load_snapshot(warehouse, old, new, audit, ctx.run_id, view_statements())
        finally:
            warehouse.close()
    except BaseException:
        if bi_copy is not None:
            discard_readonly_copy(bi_copy)
        raise
    _switch(ctx, new, bi_copy)
    removed = prune(ctx.lake_dir, ctx.rules.lake.keep_nights, {old.id} if old else set())
    log.info("published night %s (snapshot %s): %d files loaded into the warehouse, %d old snapshots pruned",
             new.night, new.id, files, removed)
    report = ctx.reports_dir / f"report-{new.night}.html"
    # the night's audit rows are at hand: the brief's data-quality counts need no read of the warehouse
    report = write_report(new.path, ctx.validation_dir, new.night, ctx.rules, report, audit=audit,
                          landing_dir=ctx.landing_dir)
    # Beside the report: every rule of the night's run, readable offline (GX's data docs need CDNs).
    page = write_validation_page(ctx.validation_dir, new.night, ctx.reports_dir / f"validation-{new.night}.html")
    return str(report), str(page)


@task(name="recover-publication", cache_policy=NO_CACHE, **IO_RETRIES)
def recover_publication(ctx: RunContext) -> None:
    """Complete a publication whose warehouse transaction committed before the run was killed, or drop one that did
    not commit: after this the lake, the warehouse and the BI copy hold the same night."""
    pending = read_pending(ctx.lake_dir)
    if pending is None:
        return
    warehouse = connect_warehouse(ctx.warehouse_url)
    try:
        held = warehouse_snapshot(warehouse)
    finally:
        warehouse.close()
    published = current(ctx.lake_dir)
    if held == pending["snapshot"] and (published is None or published.id != held):
        get_run_logger().warning("completing the publication of snapshot %s interrupted after its warehouse commit",
                                 held)
        target = snapshot(ctx.lake_dir, held)
        _switch(ctx, target, _prepare_bi_copy(ctx, target))
    else:
        clear_pending(ctx.lake_dir)
