"""Dimensions: dim_influencer and dim_account, rebuilt whole each night from the day's roster and metrics (and, for a
steady niche, the night before's dim_account)."""
from __future__ import annotations

from datetime import date

import polars as pl

from influence_pipeline.transforms.business_rules import Niches
from influence_pipeline.transforms.marts.engagement import tier
from influence_pipeline.transforms.marts.niche import count_niche_posts, infer_caption_niches, map_roster_niches

UNKNOWN_NICHE = "unknown"


def _niche(rules: Niches) -> tuple[pl.Expr, pl.Expr]:
    """niche and niche_source from the roster's mapped label and the captions' niche: a specific roster niche wins,
    captions refine a broad one ("Howto & Style" → lifestyle, unless the posts say beauty)."""
    roster, captions = pl.col("_roster"), pl.col("caption_niche")
    specific = roster.is_not_null() & ~roster.is_in(rules.broad)
    niche = (pl.when(specific).then(roster).when(captions.is_not_null()).then(captions)
             .when(roster.is_not_null()).then(roster).otherwise(pl.lit(UNKNOWN_NICHE)))
    source = (pl.when(specific).then(pl.lit("roster")).when(captions.is_not_null()).then(pl.lit("captions"))
              .when(roster.is_not_null()).then(pl.lit("roster")).otherwise(pl.lit("none")))
    return niche, source


def build_dim_account(accounts: pl.LazyFrame, account_daily: pl.LazyFrame, posts: pl.LazyFrame,
                      previous: pl.LazyFrame, as_of: date, niches: Niches, tiers: dict[str, int],
                      snapshots: pl.LazyFrame | None = None) -> pl.LazyFrame:
    """The day's stg_social_accounts, today's fct_account_daily, fct_post_engagement of the niche window
    (post_id, account_id, posted_date, post_niche), the previous night's dim_account (account_id, niche,
    niche_source; empty on the first night) and stg_account_daily of the trailing window (account_id,
    snapshot_date, fetched_at, metrics_access; None: no access known) → one row per social account: its niche with
    the evidence behind it, its current followers and tier (from the roster's declared followers when no platform
    snapshot has any), and whose credentials its latest pull used."""
    evidence = count_niche_posts(posts, as_of, niches)
    classified = evidence.group_by("account_id").agg(_classified=pl.col("posts").sum())
    niche, source = _niche(niches)
    current = account_daily.select("account_id", "followers", "tier", "er_30d_mean", "er_benchmark")
    known = pl.col("niche") != UNKNOWN_NICHE
    niche_posts = pl.when(known).then(pl.col("posts").fill_null(0))
    return (accounts.select("account_id", "influencer_id", "platform", "handle", "niche", "declared_followers")
            .join(current, on="account_id", how="left")
            .join(_latest_access(snapshots), on="account_id", how="left")
            .join(map_roster_niches(accounts.select("account_id", "niche"), niches).rename({"roster_niche": "_roster"}),
                  on="account_id", how="left")
            .join(infer_caption_niches(evidence, previous, niches), on="account_id", how="left")
            .with_columns(roster_niche=pl.col("niche"), niche=niche, niche_source=source)
            .join(evidence.select("account_id", "niche", "posts"), on=["account_id", "niche"], how="left")
            .join(classified, on="account_id", how="left")
            .with_columns(niche_posts=niche_posts,
                          niche_confidence=pl.when(known & (pl.col("_classified") > 0))
                          .then(pl.col("posts").fill_null(0) / pl.col("_classified")),
                          tier_source=pl.when(pl.col("tier").is_not_null()).then(pl.lit("platform"))
                          .when(pl.col("declared_followers").is_not_null()).then(pl.lit("roster")),
                          tier=pl.coalesce("tier", tier(pl.col("declared_followers"), tiers)))
            .select("account_id", "influencer_id", "platform", "handle", "niche", "niche_source", "niche_confidence",
                    "niche_posts", "roster_niche", "declared_followers", "followers", "tier", "tier_source",
                    "er_30d_mean", "er_benchmark", "metrics_access")
            .sort("account_id"))


def _latest_access(snapshots: pl.LazyFrame | None) -> pl.LazyFrame:
    """account_id → metrics_access of its latest snapshot that says (a delivered file in between says nothing)."""
    if snapshots is None:
        return pl.LazyFrame(schema={"account_id": pl.String, "metrics_access": pl.String})
    return (snapshots.filter(pl.col("metrics_access").is_not_null())
            .sort("snapshot_date", "fetched_at", nulls_last=False)
            .group_by("account_id").agg(pl.col("metrics_access").last()))


def build_dim_influencer(influencers: pl.LazyFrame, dim_account: pl.LazyFrame) -> pl.LazyFrame:
    """The day's stg_influencers and dim_account → one row per influencer with their accounts' reach."""
    reach = dim_account.group_by("influencer_id").agg(
        accounts=pl.len(), total_followers=pl.col("followers").sum(),
        main_platform=pl.col("platform").sort_by(pl.col("followers").fill_null(-1)).last())
    return (influencers.select("influencer_id", "full_name", "country_code", "signed_date")
            .join(reach, on="influencer_id", how="left")
            .with_columns(accounts=pl.col("accounts").fill_null(0).cast(pl.Int64))
            .sort("influencer_id"))
