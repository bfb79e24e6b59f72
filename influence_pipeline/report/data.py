"""Reads what the report shows for one date from the Parquet lake (written whatever the warehouse) and the
validation results of that date's latest run."""
from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from influence_pipeline.atomic import write_atomic
from influence_pipeline.report.page import ReportData, render_report
from influence_pipeline.schemas.contract import table_schema
from influence_pipeline.sinks.lake import scan_history, scan_whole
from influence_pipeline.transforms.business_rules import Rules


def _scan(lake: Path, table: str, column: str, start: date, end: date) -> pl.LazyFrame:
    return scan_history(lake, "marts", table, column, start, end, table_schema(table))


def _history(lake: Path, table: str, column: str, start: date, end: date, *columns: str) -> pl.DataFrame:
    """A mart's partitions from `start` to `end`; only `columns` (all when none): a month of visits or credit rows
    is millions of rows at scale, and the report needs a few columns of them."""
    scan = _scan(lake, table, column, start, end)
    return (scan.select(columns) if columns else scan).collect()


def _validation(validation_dir: Path, ds: date) -> tuple[int, list[tuple[str, str, str]]]:
    runs = sorted((validation_dir / "results" / ds.isoformat()).glob("*.json"), key=lambda p: p.stat().st_mtime)
    if not runs:
        return 0, []
    results = json.loads(runs[-1].read_text())["results"]
    return len(results), [(r["dataset"], r["rule_id"], r["severity"]) for r in results if not r["success"]]


def read_report_data(lake: Path, validation_dir: Path, ds: date, rules: Rules) -> ReportData:
    month = ds.replace(day=1)
    conversions = _history(lake, "fct_conversion", "converted_date", month, ds, "conversion_type")
    checked, failed = _validation(validation_dir, ds)
    return ReportData(
        ds=ds,
        benchmark=_history(lake, "mart_tier_benchmark", "month_start_date", month, month),
        account_daily=_history(lake, "fct_account_daily", "metric_date", ds - timedelta(days=29), ds),
        attribution=_history(lake, "fct_attribution", "converted_date", month, ds, "influencer_id", "model",
                             "attributed_revenue"),
        campaigns=scan_whole(lake, "marts", "mart_campaign_performance",
                             table_schema("mart_campaign_performance")).collect(),
        visits=_scan(lake, "fct_visit", "visit_date", month, ds).select(pl.len()).collect().item(),
        signups=conversions.filter(pl.col("conversion_type") == "signup").height,
        orders=conversions.filter(pl.col("conversion_type") == "order").height,
        rules_checked=checked, rules_failed=failed,
        target_min=rules.engagement.target_min, target_max=rules.engagement.target_max)


def write_report(lake: Path, validation_dir: Path, ds: date, rules: Rules, out: Path) -> Path:
    """Render the report for `ds` to `out`, atomically (a browser refreshing it never sees half a page)."""
    page = render_report(read_report_data(lake, validation_dir, ds, rules))
    return write_atomic(out, page)
