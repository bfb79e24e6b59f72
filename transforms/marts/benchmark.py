"""mart_tier_benchmark: do micro-influencers engage more than macro ones — on the user's own data."""
from __future__ import annotations

from datetime import date

import polars as pl

from influence_pipeline.transforms.windows import month_start


def build_mart_tier_benchmark(account_daily: pl.LazyFrame, dim_account: pl.LazyFrame, as_of: date,
                              target_min: float) -> pl.LazyFrame:
    """fct_account_daily rows of the month of `as_of` (up to it) and today's dim_account (for the niche) → one row per
    platform × tier × niche for that month. Each account counts once, with its tier and 30-day ER at its latest day
    in the month; follower growth is its change over the month's first to latest snapshot."""
    first = month_start(as_of)
    month = account_daily.filter(pl.col("metric_date").is_between(first, as_of))
    per_account = month.sort("metric_date").group_by("account_id").agg(
        pl.col("platform").last(), pl.col("tier").last(), pl.col("er_30d_mean").last(),
        posts=pl.col("posts_published").sum(),
        growth=(pl.col("followers").last() - pl.col("followers").first()) / pl.col("followers").first())
    niches = dim_account.select("account_id", "niche")
    er = pl.col("er_30d_mean")
    return (per_account.join(niches, on="account_id", how="left")
            .with_columns(niche=pl.col("niche").fill_null("unknown"))
            .filter(pl.col("tier").is_not_null())
            .group_by(["platform", "tier", "niche"]).agg(
                accounts=pl.len().cast(pl.Int64), posts=pl.col("posts").sum().cast(pl.Int64),
                accounts_with_er=er.count().cast(pl.Int64),
                er_p25=er.quantile(0.25, interpolation="linear"), er_median=er.median(),
                er_p75=er.quantile(0.75, interpolation="linear"),
                share_meeting_target=pl.when(er.count() > 0).then((er >= target_min).sum() / er.count()),
                median_follower_growth=pl.col("growth").median())
            .with_columns(month_start_date=pl.lit(first, dtype=pl.Date), as_of_date=pl.lit(as_of, dtype=pl.Date))
            .select("month_start_date", "platform", "tier", "niche", "accounts", "posts", "accounts_with_er",
                    "er_p25", "er_median", "er_p75", "share_meeting_target", "median_follower_growth", "as_of_date")
            .sort(["platform", "tier", "niche"]))
