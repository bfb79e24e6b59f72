"""fct_account_daily: one row per account per date — followers, growth, posting and rolling engagement rates.

Pure Polars. The caller hands in only the history the windows need (the anomaly window of follower snapshots, 90 days
of posts), so a nightly computes one day without touching the rest of history. A post published on D first appears in
a later export, so posts_published of the days whose posts are still tracked is restated by `restate_posts_published`.
"""
from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from influence_pipeline.transforms.business_rules import Engagement
from influence_pipeline.transforms.marts.engagement import er_benchmark, tier
from influence_pipeline.transforms.numeric import stable_mean


def _followers_by_day(account_daily: pl.LazyFrame, as_of: date, days: int) -> pl.LazyFrame:
    """One follower count per account and snapshot date (latest landing wins), over the trailing `days`."""
    return (account_daily.filter(pl.col("snapshot_date").is_between(as_of - timedelta(days=days), as_of)
                                 & pl.col("followers").is_not_null())
            .sort(["account_id", "snapshot_date", "landing_date"])
            .group_by(["account_id", "snapshot_date"], maintain_order=True).last()
            .select("account_id", "platform", "snapshot_date", "followers"))


def _growth(history: pl.LazyFrame, as_of: date, rules: Engagement) -> pl.LazyFrame:
    """Today's followers, the change since the previous snapshot, and whether that change is an outlier against the
    account's own trailing history: robust z-score (median / MAD) of the log follower changes dated in the
    `anomaly_window_days` days before `as_of` (so `history` must reach one snapshot further back)."""
    changes = history.sort(["account_id", "snapshot_date"]).with_columns(
        follower_change=pl.col("followers") - pl.col("followers").shift(1).over("account_id"),
        _log_change=(pl.col("followers").log1p() - pl.col("followers").shift(1).over("account_id").log1p()))
    today = changes.group_by("account_id").agg(pl.all().sort_by("snapshot_date").last())
    past = changes.filter(pl.col("snapshot_date").is_between(as_of - timedelta(days=rules.anomaly_window_days),
                                                             as_of, closed="left")).drop_nulls("_log_change")
    baseline = past.group_by("account_id").agg(
        _n=pl.len(), _median=pl.col("_log_change").median(),
        _mad=(pl.col("_log_change") - pl.col("_log_change").median()).abs().median())
    z = 0.6745 * (pl.col("_log_change") - pl.col("_median")) / pl.max_horizontal(pl.col("_mad"), pl.lit(1e-4))
    jump = (pl.col("_log_change").exp() - 1) >= rules.anomaly_min_change
    return today.join(baseline, on="account_id", how="left").with_columns(
        robust_z=z.round(3),
        # A short, quiet history makes the MAD tiny; a real purchase is also a big jump in absolute terms.
        is_growth_anomaly=((pl.col("_n") >= rules.anomaly_min_history_days) & (z > rules.anomaly_z) & jump
                           ).fill_null(False),
    ).select("account_id", "platform", "followers", "follower_change", "robust_z", "is_growth_anomaly")


def posts_published_by_day(posts: pl.LazyFrame) -> pl.LazyFrame:
    """fct_post_engagement rows → posts_published: one row per account per posted_date (stories included)."""
    return posts.group_by("account_id", pl.col("posted_date").alias("metric_date")).agg(
        posts_published=pl.len().cast(pl.Int64))


def restate_posts_published(previous: pl.LazyFrame, posts: pl.LazyFrame, first: date, last: date) -> pl.LazyFrame:
    """Stored fct_account_daily rows and fct_post_engagement (every post of `first` … `last`) → the whole rows of each
    metric_date in `first` … `last` whose posts_published differs from the posts now known for that day; other
    columns keep what their night computed. A post counts on its posted_date whatever day its export arrived."""
    days = previous.filter(pl.col("metric_date").is_between(first, last))
    counts = posts_published_by_day(posts.filter(pl.col("posted_date").is_between(first, last)))
    restated = days.join(counts, on=["account_id", "metric_date"], how="left", suffix="_now").with_columns(
        _was=pl.col("posts_published"), posts_published=pl.col("posts_published_now").fill_null(0))
    changed = restated.filter(pl.col("_was") != pl.col("posts_published")).select("metric_date").unique()
    return (restated.join(changed, on="metric_date", how="semi").select(days.collect_schema().names())
            .sort("metric_date", "account_id"))


def _engagement_windows(posts: pl.LazyFrame, as_of: date, rules: Engagement) -> pl.LazyFrame:
    rated = posts.filter((pl.col("posted_date") <= as_of) & pl.col("er_followers").is_not_null() & ~pl.col("is_story"))
    window = rated.filter(pl.col("posted_date") > as_of - timedelta(days=rules.window_days)).group_by("account_id").agg(
        posts_30d=pl.len(), er_30d_mean=stable_mean(pl.col("er_followers")))
    last = (rated.sort("posted_at", "er_followers").group_by("account_id")
            .agg(er_last12_median=pl.col("er_followers").tail(rules.last_n_posts).median()))
    published = posts_published_by_day(posts.filter(pl.col("posted_date") == as_of)).drop("metric_date")
    return window.join(last, on="account_id", how="full", coalesce=True).join(
        published, on="account_id", how="full", coalesce=True)


def _er_collapse(today: pl.LazyFrame, previous: pl.LazyFrame, as_of: date, rules: Engagement) -> pl.LazyFrame:
    """Flag an engagement collapse after bought followers: a growth anomaly in the trailing window, and today's
    er_30d_mean below `er_collapse_ratio` of what it was on that anomaly day."""
    spikes = (previous.filter(pl.col("is_growth_anomaly") & pl.col("er_30d_mean").is_not_null()
                              & (pl.col("metric_date") > as_of - timedelta(days=rules.window_days)))
              .group_by("account_id").agg(_er_at_spike=pl.col("er_30d_mean").sort_by("metric_date").last()))
    return today.join(spikes, on="account_id", how="left").with_columns(
        is_er_collapse=(pl.col("er_30d_mean") < rules.er_collapse_ratio * pl.col("_er_at_spike")).fill_null(False)
    ).drop("_er_at_spike")


def build_fct_account_daily(account_daily: pl.LazyFrame, posts: pl.LazyFrame, previous: pl.LazyFrame, as_of: date,
                            tiers: dict[str, int], rules: Engagement) -> pl.LazyFrame:
    """stg_account_daily (the trailing 30 days), fct_post_engagement (posts of the trailing 90 days) and the
    previous 30 days of fct_account_daily → one row per account for `as_of`: followers, follower_change,
    posts_published, er_30d_mean, er_last12_median, er_30d_shrunk (toward the platform × tier median, prior
    strength `shrink_prior_posts` posts), tier, er_benchmark, is_growth_anomaly, is_er_collapse."""
    growth = _growth(_followers_by_day(account_daily, as_of, rules.anomaly_window_days + 1), as_of, rules)
    rates = _engagement_windows(posts, as_of, rules)
    k = rules.shrink_prior_posts
    daily = growth.join(rates, on="account_id", how="left").with_columns(
        posts_published=pl.col("posts_published").fill_null(0).cast(pl.Int64),
        posts_30d=pl.col("posts_30d").fill_null(0).cast(pl.Int64),
        tier=tier(pl.col("followers"), tiers))
    prior = pl.col("er_30d_mean").median().over(["platform", "tier"])
    shrunk = (pl.col("posts_30d") * pl.col("er_30d_mean").fill_null(0) + k * prior) / (pl.col("posts_30d") + k)
    today = daily.with_columns(
        metric_date=pl.lit(as_of, dtype=pl.Date),
        er_30d_shrunk=pl.when(prior.is_not_null()).then(shrunk),
        er_benchmark=er_benchmark(pl.col("er_30d_mean"), rules.target_min, rules.target_max),
    )
    return _er_collapse(today, previous, as_of, rules).select(
        "account_id", "platform", "metric_date", "followers", "follower_change", "posts_published", "posts_30d",
        "er_30d_mean", "er_last12_median", "er_30d_shrunk", "tier", "er_benchmark", "robust_z", "is_growth_anomaly",
        "is_er_collapse").sort("account_id")
