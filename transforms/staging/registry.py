"""The staging models: which builder makes which table from which raw tables (schema and grain: the contracts).

Declarative, so flows can wire every model the same way and tests can iterate over all of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import polars as pl

from influence_pipeline.transforms.staging.commerce import (
    build_stg_order_discount_codes,
    build_stg_orders,
    build_stg_signups,
    build_stg_web_events,
)
from influence_pipeline.transforms.staging.roster import (
    build_stg_campaigns,
    build_stg_discount_codes,
    build_stg_influencers,
    build_stg_social_accounts,
    build_stg_tracking_links,
)
from influence_pipeline.transforms.staging.social import build_stg_account_daily, build_stg_post_snapshots


@dataclass(frozen=True)
class StagingModel:
    name: str
    build: Callable[..., pl.LazyFrame]  # build(*raw frames in `inputs` order, landing_date) -> staging frame
    inputs: tuple[str, ...]  # raw dataset names

    @property
    def grain(self) -> str:
        """The table's grain, as its data contract states it."""
        from influence_pipeline.schemas.contract import load_contracts

        return load_contracts()[self.name].grain


STAGING_MODELS: tuple[StagingModel, ...] = (
    StagingModel("stg_influencers", build_stg_influencers, ("roster_influencers",)),
    StagingModel("stg_social_accounts", build_stg_social_accounts, ("roster_social_accounts",)),
    StagingModel("stg_campaigns", build_stg_campaigns, ("roster_campaigns",)),
    StagingModel("stg_tracking_links", build_stg_tracking_links, ("roster_tracking_links",)),
    StagingModel("stg_discount_codes", build_stg_discount_codes, ("roster_discount_codes",)),
    StagingModel("stg_account_daily", build_stg_account_daily,
                 ("instagram_users", "tiktok_user_info", "youtube_channel_report")),
    StagingModel("stg_post_snapshots", build_stg_post_snapshots,
                 ("instagram_media", "instagram_media_insights", "instagram_story_insights", "tiktok_videos",
                  "youtube_video_report")),
    StagingModel("stg_web_events", build_stg_web_events, ("web_events", "ga4_events")),
    StagingModel("stg_orders", build_stg_orders, ("shopify_orders", "shopify_order_nodes")),
    StagingModel("stg_order_discount_codes", build_stg_order_discount_codes, ("shopify_orders", "shopify_order_nodes")),
    StagingModel("stg_signups", build_stg_signups, ("esp_signups",)),
)

BY_NAME: dict[str, StagingModel] = {m.name: m for m in STAGING_MODELS}
