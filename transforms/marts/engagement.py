"""Engagement marts: pure Polars, frames in and frames out (issue 4, first part: tiers and post engagement).

Definitions follow the README's "Engagement definitions"; every threshold and unit value comes in as an argument
(from influence_pipeline/rules.yaml), never from a lookup in here.
"""
from __future__ import annotations

from datetime import date

import polars as pl

from influence_pipeline.transforms.business_rules import Niches
from influence_pipeline.transforms.marts.niche import classify_captions

FEED_COMPONENTS = ("likes", "comments", "shares", "saves")
STORY_COMPONENTS = ("replies", "shares", "link_clicks")


def tier(followers: pl.Expr, tiers: dict[str, int]) -> pl.Expr:
    """Follower count → tier name, by half-open bands [min, next min); null followers → null tier."""
    bands = sorted(tiers.items(), key=lambda kv: kv[1], reverse=True)
    expr = pl.when(followers.is_null()).then(pl.lit(None, dtype=pl.String))
    for name, minimum in bands:
        expr = expr.when(followers >= minimum).then(pl.lit(name))
    return expr


def er_benchmark(er: pl.Expr, target_min: float, target_max: float) -> pl.Expr:
    """below (< target_min), target (target_min … target_max inclusive), above (> target_max); null stays null."""
    return (pl.when(er.is_null()).then(pl.lit(None, dtype=pl.String))
            .when(er < target_min).then(pl.lit("below"))
            .when(er <= target_max).then(pl.lit("target"))
            .otherwise(pl.lit("above")))


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    return pl.when(denominator.is_not_null() & (denominator != 0)).then(numerator / denominator)


def latest_snapshots(post_snapshots: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """One row per post: its latest snapshot on or before `as_of` (later landing wins a tie)."""
    return (post_snapshots.filter(pl.col("snapshot_date") <= as_of)
            .sort(["post_id", "snapshot_date", "landing_date", "_row_number"])
            .group_by("post_id", maintain_order=True).last())


def followers_at_post(posts: pl.LazyFrame, account_daily: pl.LazyFrame) -> pl.LazyFrame:
    """Add `followers_at_post`: followers from the account's latest snapshot on or before the posting date; if there
    is none, from the earliest snapshot after it."""
    history = (account_daily.filter(pl.col("followers").is_not_null())
               .sort(["account_id", "snapshot_date", "landing_date"])
               .group_by(["account_id", "snapshot_date"], maintain_order=True).last()
               .select("account_id", pl.col("snapshot_date").alias("_at"), "followers").sort("_at"))
    keyed = posts.with_columns(_at=pl.col("posted_at").dt.date()).sort("_at")
    # Both sides are sorted on "_at" above; Polars cannot verify that within "by" groups and would warn.
    before = keyed.join_asof(history, on="_at", by="account_id", strategy="backward", check_sortedness=False)
    after = keyed.select("post_id", "account_id", "_at").join_asof(
        history.rename({"followers": "_followers_after"}), on="_at", by="account_id", strategy="forward",
        check_sortedness=False)
    return (before.join(after.select("post_id", "_followers_after"), on="post_id", how="left")
            .with_columns(followers_at_post=pl.coalesce("followers", "_followers_after"))
            .drop("followers", "_followers_after", "_at"))


def _emv(units: dict[str, dict[str, float]]) -> pl.Expr:
    """Earned media value: each metric times its platform's unit value (assumptions, configurable)."""
    terms = []
    for platform, unit in units.items():
        value = (pl.col("views").fill_null(0) * unit.get("view", 0) + pl.col("likes").fill_null(0) * unit.get("like", 0)
                 + pl.col("comments").fill_null(0) * unit.get("comment", 0)
                 + pl.col("shares").fill_null(0) * unit.get("share", 0) + pl.col("saves").fill_null(0) * unit.get("save", 0)
                 + pl.col("_story_engagements").fill_null(0) * unit.get("story_interaction", 0))
        terms.append((platform, value))
    expr = pl.when(pl.lit(False)).then(pl.lit(None, dtype=pl.Float64))
    for platform, value in terms:
        expr = expr.when(pl.col("platform") == platform).then(value)
    return expr.round(2)


def _campaign_of_post(posts: pl.LazyFrame, campaigns: pl.LazyFrame) -> pl.LazyFrame:
    """A post belongs to a campaign when its influencer is contracted for it on the posting date; with several,
    the campaign that started last (the most specific brief)."""
    windows = campaigns.select("campaign_id", "influencer_id", "start_date", "end_date").unique()
    matched = (posts.select("post_id", "influencer_id", pl.col("posted_at").dt.date().alias("_day"))
               .join(windows, on="influencer_id", how="inner")
               .filter((pl.col("_day") >= pl.col("start_date")) & (pl.col("_day") <= pl.col("end_date")))
               .sort(["post_id", "start_date", "campaign_id"]).group_by("post_id", maintain_order=True).last()
               .select("post_id", "campaign_id"))
    return posts.join(matched, on="post_id", how="left")


def build_fct_post_engagement(post_snapshots: pl.LazyFrame, account_daily: pl.LazyFrame, accounts: pl.LazyFrame,
                              campaigns: pl.LazyFrame, as_of: date, emv_units: dict[str, dict[str, float]],
                              niches: Niches | None = None) -> pl.LazyFrame:
    """stg_post_snapshots (history up to `as_of`), stg_account_daily, the latest stg_social_accounts and
    stg_campaigns → one row per post with its metrics as of `as_of`, engagements, ER on followers / reach / views,
    its campaign, its EMV and the niche its caption points to (null for every post when `niches` is not given)."""
    owners = accounts.select("account_id", "influencer_id").unique("account_id", keep="last")
    posts = latest_snapshots(post_snapshots, as_of).join(owners, on="account_id", how="left")
    if niches is None:
        posts = posts.with_columns(post_niche=pl.lit(None, dtype=pl.String))
    else:
        posts = posts.join(classify_captions(posts.select("post_id", "caption"), niches), on="post_id", how="left")
    feed = pl.sum_horizontal([pl.col(c).fill_null(0) for c in FEED_COMPONENTS])
    story = pl.sum_horizontal([pl.col(c).fill_null(0) for c in STORY_COMPONENTS])
    engagements = (pl.when(pl.col("is_likes_hidden")).then(pl.lit(None, dtype=pl.Int64))
                   .when(pl.col("is_story")).then(story).otherwise(feed))
    enriched = followers_at_post(posts, account_daily).with_columns(
        engagements=engagements, _story_engagements=pl.when(pl.col("is_story")).then(story))
    scored = _campaign_of_post(enriched, campaigns).with_columns(
        er_followers=_ratio(pl.col("engagements"), pl.col("followers_at_post")),
        er_reach=_ratio(pl.col("engagements"), pl.col("reach")),
        er_views=_ratio(pl.col("engagements"), pl.col("views")),
        emv=_emv(emv_units),
    )
    return scored.select(
        "post_id", "account_id", "influencer_id", "platform", "media_type", "is_story", "posted_at",
        pl.col("snapshot_date").alias("metrics_as_of_date"), "likes", "comments", "shares", "saves", "views",
        "impressions", "reach",
        "replies", "link_clicks", "engagements", "followers_at_post", "er_followers", "er_reach", "er_views",
        "is_likes_hidden", "campaign_id", "emv", "post_niche", pl.col("posted_at").dt.date().alias("posted_date"),
    ).sort("post_id")
