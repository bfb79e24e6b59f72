"""Staging models of the campaign roster (CRM export, a full snapshot every landing day).

Each takes the raw table of one roster file (LazyFrame) and the landing date, and returns its staging model: house
names, types, one row per key (the later line wins when a key repeats in one delivery).
"""
from __future__ import annotations

from datetime import date

import polars as pl

from influence_pipeline.transforms.staging.common import (
    LINEAGE,
    abbreviated_count,
    latest_per_key,
    normalise_text,
    parsed_rows,
    platform_name,
    to_date,
    to_float,
    to_money,
    url_decode,
    utm_columns,
    with_landing_date,
)
from influence_pipeline.transforms.staging.countries import country_code


def _trimmed(name: str) -> pl.Expr:
    return pl.col(name).str.strip_chars()


def _upper_id(name: str) -> pl.Expr:
    return _trimmed(name).str.to_uppercase()


def build_stg_influencers(raw: pl.LazyFrame, landing_date: date) -> pl.LazyFrame:
    """roster influencers.csv → one row per influencer per landing date."""
    staged = parsed_rows(raw).select(
        _upper_id("influencer_id").alias("influencer_id"),
        _trimmed("full_name").alias("full_name"),
        pl.col("email_hash"),
        country_code(pl.col("country")).alias("country_code"),
        to_date(pl.col("signed_on")).alias("signed_date"),
        *LINEAGE,
    )
    return with_landing_date(latest_per_key(staged, ["influencer_id"], []), landing_date)


def build_stg_social_accounts(raw: pl.LazyFrame, landing_date: date) -> pl.LazyFrame:
    """roster social_accounts.csv → one row per social account per landing date. `account_id` is
    "<platform>:<platform_account_id>", the key every platform export is mapped to."""
    platform = platform_name(pl.col("platform"))
    native_id = _trimmed("platform_account_id")
    staged = parsed_rows(raw).select(
        pl.concat_str([platform, pl.lit(":"), native_id]).alias("account_id"),
        _upper_id("influencer_id").alias("influencer_id"),
        platform.alias("platform"),
        native_id.alias("platform_account_id"),
        normalise_text(pl.col("handle")).str.strip_chars_start("@").alias("handle"),
        normalise_text(pl.col("niche")).alias("niche"),
        abbreviated_count(pl.col("followers")).alias("declared_followers"),
        *LINEAGE,
    )
    return with_landing_date(latest_per_key(staged, ["account_id"], []), landing_date)


def build_stg_campaigns(raw: pl.LazyFrame, landing_date: date) -> pl.LazyFrame:
    """roster campaigns.csv → one row per influencer per campaign per landing date, with the agreed fee."""
    staged = parsed_rows(raw).select(
        _upper_id("campaign_id").alias("campaign_id"),
        _upper_id("influencer_id").alias("influencer_id"),
        _trimmed("campaign_name").alias("campaign_name"),
        _trimmed("brand").alias("brand"),
        to_date(pl.col("start_date")).alias("start_date"),
        to_date(pl.col("end_date")).alias("end_date"),
        to_money(pl.col("fee")).alias("fee"),
        _upper_id("currency").alias("currency"),
        to_money(pl.col("gifted_product_cost")).alias("gifted_product_cost"),
        to_float(pl.col("commission_rate")).alias("commission_rate"),
        *LINEAGE,
    )
    return with_landing_date(latest_per_key(staged, ["campaign_id", "influencer_id"], []), landing_date)


def build_stg_tracking_links(raw: pl.LazyFrame, landing_date: date) -> pl.LazyFrame:
    """roster tracking_links.csv → one row per tracking link per landing date; UTMs normalised as visits' are, and
    taken from the URL itself when a UTM column is empty."""
    from_columns = {p: normalise_text(url_decode(pl.col(p)))
                    for p in ("utm_source", "utm_medium", "utm_campaign", "utm_content")}
    staged = parsed_rows(raw).with_columns(utm_columns(pl.col("url"), prefix="_url_")).select(
        _upper_id("link_id").alias("link_id"),
        _upper_id("campaign_id").alias("campaign_id"),
        _upper_id("influencer_id").alias("influencer_id"),
        _trimmed("url").alias("url"),
        *[pl.coalesce(expr, pl.col(f"_url_{name}")).alias(name) for name, expr in from_columns.items()],
        *LINEAGE,
    )
    return with_landing_date(latest_per_key(staged, ["link_id"], []), landing_date)


def build_stg_discount_codes(raw: pl.LazyFrame, landing_date: date) -> pl.LazyFrame:
    """roster discount_codes.csv → one row per affiliate code per landing date. Codes are upper-cased: shops match
    them case-insensitively."""
    staged = parsed_rows(raw).select(
        _upper_id("code").alias("discount_code"),
        _upper_id("influencer_id").alias("influencer_id"),
        _upper_id("campaign_id").alias("campaign_id"),
        to_float(pl.col("discount_pct")).alias("discount_pct"),
        to_date(pl.col("valid_from")).alias("valid_from_date"),
        to_date(pl.col("valid_to")).alias("valid_to_date"),
        *LINEAGE,
    )
    return with_landing_date(latest_per_key(staged, ["discount_code"], []), landing_date)
