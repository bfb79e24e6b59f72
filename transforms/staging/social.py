"""Staging models of the social platforms: one cross-platform model for daily account stats and for post snapshots.

Each platform names things its own way (followers_count / follower_count / subscriber_count; views / impressions /
plays / video_views); here they become one set of house columns. Keys are "<platform>:<native id>" everywhere.
Instagram's media and its insights are one entity delivered in separate files, so they are joined here: the only
join in staging, and a 1:1 one.
"""
from __future__ import annotations

from datetime import date

import polars as pl

from influence_pipeline.transforms.staging.common import (
    LINEAGE,
    UTC_TS,
    from_unix_seconds,
    latest_per_key,
    parsed_rows,
    to_bool,
    to_date,
    to_int,
    to_utc,
    with_landing_date,
)

ACCOUNT_DAILY_COLUMNS = ["account_id", "platform", "snapshot_date", "followers", "following", "media_count",
                         "subscribers_gained", "subscribers_lost", "fetched_at", "metrics_access", *LINEAGE]
_ACCESS = ("creator", "public")
POST_COLUMNS = ["post_id", "account_id", "platform", "media_type", "is_story", "posted_at", "snapshot_date",
                "fetched_at", "likes", "comments", "shares", "saves", "views", "impressions", "reach", "replies", "link_clicks",
                "story_navigation", "profile_activity", "is_likes_hidden", "caption", "permalink", "duration_seconds", *LINEAGE]

_IG_MEDIA_TYPES = {
    "STORY|IMAGE": "story_image", "STORY|VIDEO": "story_video", "REELS|VIDEO": "reel", "FEED|VIDEO": "video",
    "FEED|IMAGE": "image", "FEED|CAROUSEL_ALBUM": "carousel",
}


def _key(platform: str, native: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit(f"{platform}:"), native.str.strip_chars()])


def _snapshot_date(fetched_at: pl.Expr, landing_date: date) -> pl.Expr:
    return pl.coalesce(fetched_at.dt.date(), pl.lit(landing_date, dtype=pl.Date))


def _finish(parts: list[pl.LazyFrame], columns: list[str], keys: list[str], landing_date: date) -> pl.LazyFrame:
    unified = pl.concat(parts, how="diagonal_relaxed").select(columns)
    return with_landing_date(latest_per_key(unified, keys, ["fetched_at"]), landing_date)


def _access() -> pl.Expr:
    """The pull's `access` stamp (creator | public); anything else, or no stamp (a delivered file), is null."""
    value = pl.col("access").str.strip_chars().str.to_lowercase()
    return pl.when(value.is_in(_ACCESS)).then(value).alias("metrics_access")


def build_stg_account_daily(instagram_users: pl.LazyFrame, tiktok_user_info: pl.LazyFrame,
                            youtube_channel_report: pl.LazyFrame, landing_date: date) -> pl.LazyFrame:
    """Raw account pulls of the three platforms → one row per account per snapshot date (latest pull wins)."""
    ig_fetched = to_utc(pl.col("fetched_at"))
    instagram = parsed_rows(instagram_users).select(
        _key("instagram", pl.col("id")).alias("account_id"), pl.lit("instagram").alias("platform"),
        _snapshot_date(ig_fetched, landing_date).alias("snapshot_date"),
        to_int(pl.col("followers_count")).alias("followers"), to_int(pl.col("follows_count")).alias("following"),
        to_int(pl.col("media_count")).alias("media_count"), ig_fetched.alias("fetched_at"), _access(), *LINEAGE)
    tt_fetched = to_utc(pl.col("fetched_at"))
    tiktok = parsed_rows(tiktok_user_info).select(
        _key("tiktok", pl.col("username")).alias("account_id"), pl.lit("tiktok").alias("platform"),
        _snapshot_date(tt_fetched, landing_date).alias("snapshot_date"),
        to_int(pl.col("follower_count")).alias("followers"), to_int(pl.col("following_count")).alias("following"),
        to_int(pl.col("video_count")).alias("media_count"), tt_fetched.alias("fetched_at"), _access(), *LINEAGE)
    youtube = parsed_rows(youtube_channel_report).select(
        _key("youtube", pl.col("channel_id")).alias("account_id"), pl.lit("youtube").alias("platform"),
        to_date(pl.col("date")).alias("snapshot_date"), to_int(pl.col("subscriber_count")).alias("followers"),
        to_int(pl.col("subscribers_gained")).alias("subscribers_gained"),
        to_int(pl.col("subscribers_lost")).alias("subscribers_lost"),
        pl.lit(None, dtype=UTC_TS).alias("fetched_at"), _access(), *LINEAGE)
    return _finish([instagram, tiktok, youtube], ACCOUNT_DAILY_COLUMNS, ["account_id", "snapshot_date"], landing_date)


def _instagram_posts(media: pl.LazyFrame, insights: pl.LazyFrame, stories: pl.LazyFrame,
                     landing_date: date) -> pl.LazyFrame:
    feed = latest_per_key(parsed_rows(insights), ["media_id"], []).select(
        pl.col("media_id").str.strip_chars().alias("id"), to_int(pl.col("reach")).alias("_feed_reach"),
        to_int(pl.col("saved")).alias("saves"), to_int(pl.col("shares")).alias("_feed_shares"),
        # Instagram replaced `impressions` by `views`; accounts on the older API version still send the former.
        pl.coalesce(to_int(pl.col("views")), to_int(pl.col("impressions"))).alias("views"),
        to_int(pl.col("impressions")).alias("impressions"))
    story = latest_per_key(parsed_rows(stories), ["media_id"], []).select(
        pl.col("media_id").str.strip_chars().alias("id"), to_int(pl.col("reach")).alias("_story_reach"),
        to_int(pl.col("replies")).alias("replies"), to_int(pl.col("shares")).alias("_story_shares"),
        to_int(pl.col("link_clicks")).alias("link_clicks"), to_int(pl.col("views")).alias("_story_views"),
        to_int(pl.col("navigation")).alias("story_navigation"),
        to_int(pl.col("profile_activity")).alias("profile_activity"))
    product = pl.col("media_product_type").str.strip_chars().str.to_uppercase()
    kind = pl.col("media_type").str.strip_chars().str.to_uppercase()
    is_story = (product == "STORY").fill_null(False)
    fetched = to_utc(pl.col("fetched_at"))
    return (parsed_rows(media).with_columns(pl.col("id").str.strip_chars())
            .join(feed, on="id", how="left").join(story, on="id", how="left")
            .select(
                _key("instagram", pl.col("id")).alias("post_id"), _key("instagram", pl.col("owner_id")).alias("account_id"),
                pl.lit("instagram").alias("platform"),
                pl.concat_str([product, pl.lit("|"), kind]).replace_strict(_IG_MEDIA_TYPES, default="other").alias("media_type"),
                is_story.alias("is_story"), to_utc(pl.col("timestamp")).alias("posted_at"),
                _snapshot_date(fetched, landing_date).alias("snapshot_date"), fetched.alias("fetched_at"),
                to_int(pl.col("like_count")).alias("likes"), to_int(pl.col("comments_count")).alias("comments"),
                pl.coalesce("_feed_shares", "_story_shares").alias("shares"), "saves",
                pl.coalesce("views", "_story_views").alias("views"), "impressions",
                pl.coalesce("_feed_reach", "_story_reach").alias("reach"), "replies", "link_clicks",
                "story_navigation", "profile_activity",
                (pl.col("like_count").is_null() & ~is_story).alias("is_likes_hidden"),
                pl.col("caption"), pl.col("permalink"), *LINEAGE))


def _tiktok_posts(videos: pl.LazyFrame, landing_date: date) -> pl.LazyFrame:
    fetched = to_utc(pl.col("fetched_at"))
    return parsed_rows(videos).select(
        _key("tiktok", pl.col("item_id")).alias("post_id"), _key("tiktok", pl.col("username")).alias("account_id"),
        pl.lit("tiktok").alias("platform"), pl.lit("video").alias("media_type"), pl.lit(False).alias("is_story"),
        from_unix_seconds(pl.col("create_time")).alias("posted_at"),
        _snapshot_date(fetched, landing_date).alias("snapshot_date"), fetched.alias("fetched_at"),
        to_int(pl.col("likes")).alias("likes"), to_int(pl.col("comments")).alias("comments"),
        to_int(pl.col("shares")).alias("shares"), to_int(pl.col("favorites")).alias("saves"),
        # Older TikTok exports call video views `plays`.
        pl.coalesce(to_int(pl.col("video_views")), to_int(pl.col("plays"))).alias("views"),
        to_int(pl.col("reach")).alias("reach"), pl.lit(False).alias("is_likes_hidden"),
        to_int(pl.col("video_duration")).alias("duration_seconds"), *LINEAGE)


def _youtube_posts(report: pl.LazyFrame, landing_date: date) -> pl.LazyFrame:
    return parsed_rows(report).select(
        _key("youtube", pl.col("video_id")).alias("post_id"), _key("youtube", pl.col("channel_id")).alias("account_id"),
        pl.lit("youtube").alias("platform"),
        pl.when(to_bool(pl.col("is_short"))).then(pl.lit("short")).otherwise(pl.lit("video")).alias("media_type"),
        pl.lit(False).alias("is_story"), to_utc(pl.col("published_at")).alias("posted_at"),
        pl.coalesce(to_date(pl.col("date")), pl.lit(landing_date, dtype=pl.Date)).alias("snapshot_date"),
        pl.lit(None, dtype=UTC_TS).alias("fetched_at"), to_int(pl.col("likes")).alias("likes"), to_int(pl.col("comments")).alias("comments"),
        to_int(pl.col("shares")).alias("shares"), to_int(pl.col("views")).alias("views"),
        pl.lit(False).alias("is_likes_hidden"), pl.col("title").alias("caption"), *LINEAGE)


def build_stg_post_snapshots(instagram_media: pl.LazyFrame, instagram_media_insights: pl.LazyFrame,
                             instagram_story_insights: pl.LazyFrame, tiktok_videos: pl.LazyFrame,
                             youtube_video_report: pl.LazyFrame, landing_date: date) -> pl.LazyFrame:
    """Raw media/video pulls of the three platforms → one row per post per snapshot date (latest pull wins).
    Metrics are lifetime totals as of the snapshot; a metric the platform does not report is null."""
    parts = [_instagram_posts(instagram_media, instagram_media_insights, instagram_story_insights, landing_date),
             _tiktok_posts(tiktok_videos, landing_date), _youtube_posts(youtube_video_report, landing_date)]
    return _finish(parts, POST_COLUMNS, ["post_id", "snapshot_date"], landing_date)
