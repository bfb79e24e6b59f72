"""Reads what the brief shows from the Parquet lake (written whatever the warehouse), the validation results of the
night's run and, when the caller has no audit rows at hand, the warehouse's audit.run_sources."""
from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from influence_pipeline.atomic import write_atomic
from influence_pipeline.report.metrics import night_audit, unexpected_paths
from influence_pipeline.report.page import ReportData, render_report
from influence_pipeline.report.periods import brief_periods, report_window
from influence_pipeline.schemas.contract import table_schema
from influence_pipeline.schemas.raw import PARTITION_COLUMN
from influence_pipeline.sinks.lake import partition_file, scan_history, scan_whole
from influence_pipeline.sinks.snapshots import MARKER, snapshot
from influence_pipeline.transforms.business_rules import Rules

QUARANTINE_SCHEMA = {"dataset": pl.String, "rule_id": pl.String, "reason": pl.String}
AUDIT_SQL = ("SELECT run_id, landing_date, dataset, rows_in, rows_published, rows_quarantined, rows_held, "
             "run_finished_at FROM audit.run_sources WHERE landing_date = {param}")


def _scan(lake: Path, table: str, column: str, start: date, end: date) -> pl.LazyFrame:
    return scan_history(lake, "marts", table, column, start, end, table_schema(table))


def _whole(lake: Path, table: str) -> pl.DataFrame:
    return scan_whole(lake, "marts", table, table_schema(table)).collect()


def processed_nights(lake: Path) -> list[date]:
    """The nights processed in the lineage of the snapshot at `lake` (empty for a lake that is not a snapshot)."""
    path = lake.resolve()
    if not (path / MARKER).exists():
        return []
    return sorted(snapshot(path.parent.parent, path.name).nights)


def _run_id(lake: Path, ds: date) -> str | None:
    path = lake.resolve()
    if not (path / MARKER).exists():
        return None
    found = snapshot(path.parent.parent, path.name)
    return found.run_id if found.night == ds else None


def _validation(validation_dir: Path, ds: date, run_id: str | None) -> list[dict]:
    """The results of the run that published `ds` (the latest run of that date when it is not known)."""
    folder = validation_dir / "results" / ds.isoformat()
    published = folder / f"{run_id}.json"
    runs = [published] if run_id and published.exists() else sorted(folder.glob("*.json"),
                                                                     key=lambda p: p.stat().st_mtime)
    return json.loads(runs[-1].read_text())["results"] if runs else []


def _quarantine(lake: Path, ds: date) -> pl.DataFrame:
    """The night's quarantined rows of every source: dataset, rule_id, reason (the rows themselves stay behind)."""
    frames = []
    for table in sorted((lake / "quarantine").glob("*")):
        path = partition_file(lake, "quarantine", table.name, PARTITION_COLUMN, ds)
        if path.exists():
            frames.append(pl.scan_parquet(path).select("rule_id", "reason")
                          .with_columns(dataset=pl.lit(table.name)).collect())
    return pl.concat(frames).select(*QUARANTINE_SCHEMA) if frames else pl.DataFrame(schema=QUARANTINE_SCHEMA)


def _size(path: Path) -> int | None:
    """Bytes of a landing file, or of every file under a landing folder; symbolic links are measured as links, never
    followed (a link out of landing must not reveal its target). None when the path is gone."""
    try:
        if not path.is_dir() or path.is_symlink():
            return path.lstat().st_size
    except FileNotFoundError:
        return None
    return sum((Path(folder) / name).lstat().st_size for folder, _, names in os.walk(path) for name in names)


def _unexpected(landing_dir: Path | None, audit: pl.DataFrame | None) -> pl.DataFrame:
    """The night's unexpected landing paths (from its audit rows) with their size now (null without a landing dir)."""
    paths = unexpected_paths(audit)
    sizes = [_size(landing_dir / path) if landing_dir is not None else None for path in paths]
    return pl.DataFrame({"path": paths, "bytes": sizes}, schema={"path": pl.String, "bytes": pl.Int64})


def _fetch_audit(warehouse_url: str, ds: date) -> list[tuple]:
    from sqlalchemy.engine import make_url

    url = make_url(warehouse_url)
    if url.get_backend_name() == "duckdb":
        import duckdb

        # read-only, and never creating an empty warehouse file where there is none
        with duckdb.connect(str(Path(url.database)), read_only=True) as con:
            return con.execute(AUDIT_SQL.format(param="?"), [ds]).fetchall()
    from influence_pipeline.sinks.warehouse import connect_warehouse

    warehouse = connect_warehouse(warehouse_url)
    try:
        return warehouse.fetch(AUDIT_SQL, [ds])
    finally:
        warehouse.close()


def read_run_sources(warehouse_url: str, ds: date) -> pl.DataFrame | None:
    """audit.run_sources rows of landing date `ds` from the warehouse; None when there are none or it cannot be
    read (no warehouse yet, or an embedded DuckDB file a running night holds): the brief then shows quarantined
    counts only."""
    try:
        rows = _fetch_audit(warehouse_url, ds)
    except Exception:  # a brief without the audit beats no brief
        return None
    if not rows:
        return None
    return pl.DataFrame(rows, schema=["run_id", "landing_date", "dataset", "rows_in", "rows_published",
                                      "rows_quarantined", "rows_held", "run_finished_at"], orient="row")


def read_report_data(lake: Path, validation_dir: Path, ds: date, rules: Rules, *, month_only: bool = False,
                     audit: pl.DataFrame | None = None, landing_dir: Path | None = None) -> ReportData:
    """The brief ending on night `ds` (the night and its month to date, or the month alone) from the lake snapshot
    at `lake`; `audit` is run_sources rows holding that night's (from the nightly or the warehouse); `landing_dir`
    gives the sizes of the unexpected landing paths the audit lists."""
    periods = brief_periods(ds, month_only)
    start, end = report_window(periods)
    month = ds.replace(day=1)
    # A month of visits or credit rows is millions of rows at scale: only the columns (and counts) the brief needs.
    visits = _scan(lake, "fct_visit", "visit_date", start, end).group_by("visit_date").agg(visits=pl.len())
    conversions = _scan(lake, "fct_conversion", "converted_date", start, end).select(
        "converted_date", "conversion_type", "net_revenue", "is_new_customer")
    attribution = _scan(lake, "fct_attribution", "converted_date", start, end).filter(
        pl.col("influencer_id").is_not_null()).select(
        "converted_date", "model", "influencer_id", "campaign_id", "attributed_revenue")
    return ReportData(
        ds=ds, currency=rules.reporting_currency, periods=periods,
        visits_daily=visits.collect(), conversions=conversions.collect(), attribution=attribution.collect(),
        campaigns=_whole(lake, "mart_campaign_performance"), influencers=_whole(lake, "dim_influencer"),
        accounts=_whole(lake, "dim_account"),
        benchmark=_scan(lake, "mart_tier_benchmark", "month_start_date", month, month).collect(),
        account_daily=_scan(lake, "fct_account_daily", "metric_date", ds - timedelta(days=29), ds).collect(),
        channel_attribution=_scan(lake, "mart_channel_attribution", "month_start_date", month, month).collect(),
        audit=night_audit(audit, ds), quarantine=_quarantine(lake, ds),
        unexpected=_unexpected(landing_dir, night_audit(audit, ds)),
        validation=_validation(validation_dir, ds, _run_id(lake, ds)),
        target_min=rules.engagement.target_min, target_max=rules.engagement.target_max)


def write_report(lake: Path, validation_dir: Path, ds: date, rules: Rules, out: Path, *, month_only: bool = False,
                 audit: pl.DataFrame | None = None, landing_dir: Path | None = None) -> Path:
    """Render the brief ending on `ds` to `out`, atomically (a browser refreshing it never sees half a page)."""
    page = render_report(read_report_data(lake, validation_dir, ds, rules, month_only=month_only, audit=audit,
                                          landing_dir=landing_dir))
    return write_atomic(out, page)
