"""What a nightly leaves in Prefect's UI: a markdown summary and tables, so an on-call engineer sees how the night
went without opening the warehouse."""
from __future__ import annotations

from datetime import date

import polars as pl
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE


def _markdown_table(frame: pl.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * frame.width + "\n"
    return header + "".join("| " + " | ".join("" if v is None else str(v) for v in row) + " |\n"
                            for row in frame.iter_rows())


def top_campaigns(performance: pl.DataFrame, model: str = "last_touch", n: int = 5) -> pl.DataFrame:
    """mart_campaign_performance → the n campaign × influencer rows with the best ROAS under `model`."""
    return (performance.filter(pl.col("model") == model, pl.col("roas").is_not_null())
            .sort("roas", "campaign_id", "influencer_id", descending=[True, False, False]).head(n)
            .select("campaign_id", "influencer_id", pl.col("cost").cast(pl.Float64).round(2),
                    pl.col("net_revenue").cast(pl.Float64).round(2), pl.col("roas").round(2)))


def run_summary_markdown(ds: date, audit: pl.DataFrame, rules_checked: int, rules_failed: list[str],
                         performance: pl.DataFrame) -> str:
    """The night in one page: rows in / published / quarantined per source, validation, top campaigns by ROAS."""
    sources = audit.select("dataset", "ingest_status", "rows_in", "rows_published", "rows_quarantined").sort("dataset")
    totals = audit.select(pl.col("rows_in", "rows_published", "rows_quarantined").sum()).row(0)
    failed = ", ".join(sorted(rules_failed)) or "none"
    return (f"# Nightly {ds}\n\n{totals[0]:,} rows in: {totals[1]:,} published, {totals[2]:,} quarantined with a "
            f"reason.\n\n## Sources\n\n{_markdown_table(sources)}\n## Validation\n\n{rules_checked} rules checked; "
            f"warning rules failed: {failed}.\n\n## Top campaigns by ROAS (last touch)\n\n"
            f"{_markdown_table(top_campaigns(performance))}")


@task(name="publish-artifacts", task_run_name="publish-artifacts-{ds}", cache_policy=NO_CACHE)
def publish_artifacts(ds: date, audit: pl.DataFrame, rules_checked: int, rules_failed: list[str],
                      performance: pl.DataFrame) -> None:
    key = f"nightly-{ds.isoformat()}"
    create_markdown_artifact(run_summary_markdown(ds, audit, rules_checked, rules_failed, performance),
                             key=key, description=f"Nightly run for {ds}")
    create_table_artifact(audit.select("dataset", "rows_in", "rows_published", "rows_quarantined").to_dicts(),
                          key=f"{key}-sources", description=f"Rows per source for {ds}")
