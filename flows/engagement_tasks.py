"""The engagement step of a nightly: post engagement, account daily metrics, the dimensions and the tier benchmark.

Reads only the lake partitions the windows of transforms/windows.py name and hands frames to transforms/marts.
"""
from __future__ import annotations

from datetime import date

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from influence_pipeline.flows.context import RunContext
from influence_pipeline.schemas.contract import table_schema
from influence_pipeline.schemas.raw import PARTITION_COLUMN
from influence_pipeline.sinks.lake import scan_history, scan_whole
from influence_pipeline.transforms.marts.accounts import build_fct_account_daily, restate_posts_published
from influence_pipeline.transforms.marts.benchmark import build_mart_tier_benchmark
from influence_pipeline.transforms.marts.dates import build_dim_date
from influence_pipeline.transforms.marts.dims import build_dim_account, build_dim_influencer
from influence_pipeline.transforms.marts.engagement import build_fct_post_engagement
from influence_pipeline.transforms.windows import RunWindows


def _with_history(ctx: RunContext, table: str, today: pl.DataFrame | pl.LazyFrame, first: date,
                  w: RunWindows) -> pl.LazyFrame:
    """A staging table's partitions from `first` up to the night's, plus the run's own frame for the night."""
    history = scan_history(ctx.tables_dir, "staging", table, PARTITION_COLUMN, first, w.history_last,
                           today.lazy().collect_schema())
    return pl.concat([history, today.lazy()], how="vertical_relaxed")


def _benchmarks(days: pl.LazyFrame, dim_account: pl.LazyFrame, w: RunWindows, restated: pl.DataFrame,
                ctx: RunContext) -> pl.DataFrame:
    """This month's benchmark, plus each earlier month whose posts_published the night restated (posts of its last
    days arrived this month)."""
    touched = set(restated.get_column("metric_date").dt.month_start().to_list())
    months = [m for m in w.benchmark_months if m == w.current_month or m in touched]
    return pl.concat([build_mart_tier_benchmark(days, dim_account, w.benchmark_as_of(m),
                                                ctx.rules.engagement.target_min) for m in months]).collect()


@task(name="build-marts", task_run_name="build-marts-{ds}", cache_policy=NO_CACHE)
def build_marts(ds: date, ctx: RunContext, staged: dict[str, pl.DataFrame], w: RunWindows) -> dict[str, pl.DataFrame]:
    """The engagement marts for `ds`: today's staging frames plus only the history the windows `w` need.
    fct_account_daily holds today's rows and the whole rows of every earlier day it restated."""
    snapshots = _with_history(ctx, "stg_post_snapshots", staged["stg_post_snapshots"], w.snapshots_first, w)
    accounts = _with_history(ctx, "stg_account_daily", staged["stg_account_daily"], w.account_snapshots_first, w)
    fct = build_fct_post_engagement(
        snapshots, accounts, staged["stg_social_accounts"].lazy(), staged["stg_campaigns"].lazy(), ds, ctx.rules.emv,
        ctx.rules.niches,
    ).filter(pl.col("posted_date").is_between(w.posted_first, w.posted_last)).collect()
    older_posts = scan_history(ctx.tables_dir, "marts", "fct_post_engagement", "posted_date", *w.older_posts,
                               fct.schema)
    # Read once: the account rates and the niche evidence both need the posts of the trailing 90 days.
    posts = pl.concat([older_posts, fct.lazy()], how="vertical_relaxed").collect()
    stored_days = scan_history(ctx.tables_dir, "marts", "fct_account_daily", "metric_date", *w.stored_days,
                               table_schema("fct_account_daily")).collect()
    restated = restate_posts_published(stored_days.lazy(), fct.lazy(), *w.restated_days).collect()
    previous_days = pl.concat([stored_days.join(restated.select("metric_date").unique(), on="metric_date",
                                                how="anti"), restated])
    daily = build_fct_account_daily(
        accounts, posts.lazy(), previous_days.lazy(), ds,
        ctx.rules.tiers, ctx.rules.engagement,
    ).collect()
    niche_posts = posts.lazy().select("post_id", "account_id", "posted_date", "post_niche")
    previous_accounts = scan_whole(ctx.tables_dir, "marts", "dim_account", table_schema("dim_account"))
    dim_account = build_dim_account(staged["stg_social_accounts"].lazy(), daily.lazy(), niche_posts,
                                    previous_accounts, ds, ctx.rules.niches, ctx.rules.tiers,
                                    snapshots=accounts).collect()
    dim_influencer = build_dim_influencer(staged["stg_influencers"].lazy(), dim_account.lazy()).collect()
    benchmark = _benchmarks(pl.concat([previous_days, daily]).lazy(), dim_account.lazy(), w, restated, ctx)
    get_run_logger().info("fct_post_engagement: %d posts posted %s … %s; fct_account_daily: %d accounts, %d days "
                          "restated", fct.height, w.posted_first, w.posted_last, daily.height,
                          restated.get_column("metric_date").n_unique())
    calendar = ctx.rules.calendar
    return {"fct_post_engagement": fct, "fct_account_daily": pl.concat([restated, daily]),
            "dim_account": dim_account, "dim_influencer": dim_influencer, "mart_tier_benchmark": benchmark,
            "dim_date": build_dim_date(date(calendar.first_year, 1, 1), date(calendar.last_year, 12, 31))}
