"""Journeys: which visits led to each conversion, across the devices tied to the same person.

A person is known by identities: `customer:<shop customer id>` from checkout events and orders, `email:<hash>` from
signup events, signups and orders (an order carries both, which ties a newsletter signup's browser to the later
customer). Every browser (anonymous_id) seen with an identity belongs to it. A conversion's journey is the visits of
all browsers of its identities that started within the lookback window before it.
"""
from __future__ import annotations

import polars as pl

TOUCH_KEY = ["channel", "influencer_id", "campaign_id"]


def _prefixed(prefix: str, column: str) -> pl.Expr:
    return pl.when(pl.col(column).is_not_null()).then(pl.lit(prefix) + pl.col(column))


def _linked(frame: pl.LazyFrame, prefix: str, column: str, identities: pl.Series) -> pl.LazyFrame:
    """(anonymous_id, identity) of the rows of `frame` whose `column`, prefixed, is one of `identities`."""
    # Matched on the bare value, so the filter reaches the Parquet scan and no identity string is built per visit.
    wanted = identities.filter(identities.str.starts_with(prefix)).str.strip_prefix(prefix)
    return (frame.filter(pl.col(column).is_in(wanted.implode()) & pl.col("anonymous_id").is_not_null())
            .select("anonymous_id", identity=pl.lit(prefix) + pl.col(column)))


def build_identity_links(visits: pl.LazyFrame, conversions: pl.LazyFrame, identities: pl.Series) -> pl.LazyFrame:
    """fct_visit and fct_conversion rows → one row per (anonymous_id, identity) pair seen together, for each of
    `identities` (`customer:<id>`, `email:<hash>`)."""
    return pl.concat([_linked(visits, "customer:", "customer_id", identities),
                      _linked(visits, "email:", "email_hash", identities),
                      _linked(conversions, "email:", "email_hash", identities)]).unique(maintain_order=True)


def conversion_identities(conversions: pl.LazyFrame) -> pl.LazyFrame:
    """fct_conversion → one row per (conversion_id, identity) the conversion is known by."""
    customer = pl.when(pl.col("customer_key").str.starts_with("email:")).then(pl.col("customer_key")) \
        .otherwise(_prefixed("customer:", "customer_key"))
    return pl.concat([
        conversions.select("conversion_id", identity=customer),
        conversions.select("conversion_id", identity=_prefixed("email:", "email_hash")),
        conversions.select("conversion_id", identity=_prefixed("anon:", "anonymous_id")),
    ]).drop_nulls().unique(maintain_order=True)


def build_journey_touches(conversions: pl.LazyFrame, visits: pl.LazyFrame, lookback_days: int) -> pl.LazyFrame:
    """fct_conversion and fct_visit (from `lookback_days` before the first conversion) → one row per conversion per
    visit in its journey, in time order: visits that started in [converted_at − lookback, converted_at]."""
    # The journey window holds some 25 M visits at profile L and a night's conversions reach a few ten thousand
    # browsers: those browsers are found first and the visits filtered by them where they are scanned, so only the
    # matching visits are read whole (6 days of profile L: peak 1.1 → 0.6 GiB in the same time).
    identities = conversion_identities(conversions).collect()
    # A conversion's own browser (its `anon:` identity) needs no link: the join with the visits below keeps it only
    # when it has visits, as a link from every visited browser to itself did.
    browsers = pl.concat([
        identities.lazy().join(build_identity_links(visits, conversions, identities["identity"].unique()),
                               on="identity", how="inner").select("conversion_id", "anonymous_id"),
        conversions.select("conversion_id", "anonymous_id").drop_nulls(),
    ]).unique().collect()
    window = pl.col("visit_started_at").is_between(
        pl.col("converted_at") - pl.duration(days=lookback_days), pl.col("converted_at"))
    journeys = visits.filter(pl.col("anonymous_id").is_in(browsers["anonymous_id"].unique().implode()))
    return (browsers.lazy().join(conversions.select("conversion_id", "converted_at"), on="conversion_id")
            .join(journeys.select("anonymous_id", "visit_id", "visit_started_at", *TOUCH_KEY), on="anonymous_id")
            .filter(window)
            .select("conversion_id", "converted_at", "visit_id", touch_at="visit_started_at", *TOUCH_KEY)
            .sort("conversion_id", "touch_at", "visit_id"))


def transform_path(touches: pl.LazyFrame, how: str, group: str = "conversion_id") -> pl.LazyFrame:
    """Touches in time order → the touches a model sees: `collapse` merges consecutive touches of the same channel,
    influencer and campaign into one (the latest, which is the one that brought the person back); `unique` keeps
    each one's first touch only; `none` keeps all. Adds `touch_number` (1-based) and `touch_count`."""
    key = pl.concat_str([pl.col(c).fill_null("") for c in TOUCH_KEY], separator="|")
    if how == "collapse":
        kept = touches.filter(key != key.shift(-1).over(group).fill_null("\x00"))
    elif how == "unique":
        kept = touches.filter(key.is_first_distinct().over(group))
    else:
        kept = touches
    return kept.with_columns(touch_number=pl.int_range(1, pl.len() + 1).over(group).cast(pl.Int64),
                             touch_count=pl.len().over(group).cast(pl.Int64))


def credited_to(channel: pl.Expr, influencer: pl.Expr, campaign: pl.Expr) -> pl.Expr:
    """The readable key of what a credit row credits: `influencer:INF-0001:CMP-001`, `email::`, or `none`."""
    return (pl.when(channel.is_null() & influencer.is_null()).then(pl.lit("none"))
            .otherwise(pl.concat_str([channel.fill_null("influencer"), influencer.fill_null(""),
                                      campaign.fill_null("")], separator=":")))


def build_paths(touches: pl.LazyFrame) -> pl.LazyFrame:
    """Transformed touches → one row per conversion with its channel path and its touch path (credited_to keys),
    joined by ' > ' as analysts write them."""
    ordered = touches.sort("conversion_id", "touch_number")
    # Lists joined after grouping: much faster than joining strings inside the aggregation.
    return ordered.group_by("conversion_id", maintain_order=True).agg(
        channel_path=pl.col("channel"),
        touch_path=credited_to(pl.col("channel"), pl.col("influencer_id"), pl.col("campaign_id")),
        touches=pl.len().cast(pl.Int64)).with_columns(pl.col("channel_path", "touch_path").list.join(" > "))
