"""fct_attribution: credit for each conversion under each rule-based model, and the revenue that credit carries.

Models: `code` (the affiliate code on the order), `first_touch`, `last_touch`, `linear`, `position_based` and
`time_decay` over the journey's touches (after the path transform). Under `code_first` precedence an order with an
influencer's code gives that influencer all the credit in every model, as Aspire and Modash report it; `links_only`
ignores codes in the touch models; `code_only` credits codes alone. A conversion no rule can credit gets one row with
evidence `none`, so every conversion has credits summing to 1 in every model.
"""
from __future__ import annotations

import polars as pl

from influence_pipeline.transforms.attribution.journeys import credited_to
from influence_pipeline.transforms.business_rules import Attribution
from influence_pipeline.transforms.numeric import stable_sum
from influence_pipeline.transforms.staging.common import MONEY

TOUCH_MODELS = ("first_touch", "last_touch", "linear", "position_based", "time_decay")
MODELS = ("code", *TOUCH_MODELS)


def _touch_credit(model: str, rules: Attribution) -> pl.Expr:
    n, i = pl.col("touch_count"), pl.col("touch_number")
    if model == "first_touch":
        return (i == 1).cast(pl.Float64)
    if model == "last_touch":
        non_direct = pl.col("channel") != "direct"
        last_non_direct = pl.when(non_direct).then(i).max().over("conversion_id")
        target = pl.coalesce(last_non_direct, n) if rules.direct_never_last_touch else n
        return (i == target).cast(pl.Float64)
    if model == "linear":
        return 1.0 / n
    if model == "position_based":
        p = rules.position_based
        two = pl.when(i == 1).then(p.first / (p.first + p.last)).otherwise(p.last / (p.first + p.last))
        many = pl.when(i == 1).then(p.first).when(i == n).then(p.last).otherwise(p.middle / (n - 2))
        return pl.when(n == 1).then(1.0).when(n == 2).then(two).otherwise(many)
    age_days = (pl.col("converted_at") - pl.col("touch_at")).dt.total_microseconds() / 86_400e6
    weight = pl.lit(0.5).pow(age_days / rules.time_decay_half_life_days)
    return weight / stable_sum(weight).over("conversion_id")


def credit_touches(touches: pl.LazyFrame, rules: Attribution) -> pl.LazyFrame:
    """Transformed journey touches → one row per conversion × model × touch with its credit (multi-touch rows)."""
    return pl.concat([
        touches.select("conversion_id", "channel", "influencer_id", "campaign_id", model=pl.lit(model),
                       credit=_touch_credit(model, rules),
                       evidence=pl.lit("last_click_utm" if model in ("first_touch", "last_touch") else "multi_touch"))
        for model in TOUCH_MODELS])


def _code_credit(order_codes: pl.LazyFrame, models: tuple[str, ...]) -> pl.LazyFrame:
    codes = order_codes.select(conversion_id=pl.lit("order:") + pl.col("order_id"), channel=pl.lit("influencer"),
                               influencer_id="influencer_id", campaign_id="campaign_id", credit="code_share",
                               evidence=pl.lit("code"))
    return pl.concat([codes.with_columns(model=pl.lit(m)) for m in models])


def _allocate_cents(credits: pl.LazyFrame) -> pl.LazyFrame:
    """Split each conversion's net revenue over its credit rows to the cent, largest remainder first, so the rows of
    a conversion and model always add up to its revenue exactly."""
    group = ["conversion_id", "model"]
    total = (pl.col("net_revenue").cast(pl.Float64) * 100).round(0).cast(pl.Int64)
    share = pl.col("credit") * total
    floor = share.floor().cast(pl.Int64)
    left = total - floor.sum().over(group)
    rank = pl.struct((floor - share), pl.col("credited_to")).rank("ordinal").over(group)
    cents = floor + (rank <= left).cast(pl.Int64)
    return credits.with_columns(attributed_revenue=(cents.cast(pl.Float64) / 100).cast(MONEY))


def build_fct_attribution(conversions: pl.LazyFrame, touches: pl.LazyFrame, order_codes: pl.LazyFrame,
                          rules: Attribution) -> pl.LazyFrame:
    """fct_conversion, the transformed journey touches (journeys.transform_path) and the orders' influencer codes
    (conversions.build_order_codes) → one row per conversion × model × credited channel/influencer/campaign."""
    with_code = order_codes.select(conversion_id=pl.lit("order:") + pl.col("order_id")).unique()
    touch_models = () if rules.precedence == "code_only" else TOUCH_MODELS
    code_models = ("code",) if rules.precedence == "links_only" else MODELS
    by_touch = credit_touches(touches, rules).filter(pl.col("model").is_in(touch_models), pl.col("credit") > 0)
    if rules.precedence == "code_first":
        by_touch = by_touch.join(with_code, on="conversion_id", how="anti")
    credits = pl.concat([_code_credit(order_codes, code_models), by_touch], how="diagonal_relaxed")
    every = conversions.select("conversion_id").join(pl.LazyFrame({"model": list(MODELS)}), how="cross")
    uncredited = every.join(credits.select("conversion_id", "model").unique(), on=["conversion_id", "model"],
                            how="anti").with_columns(credit=pl.lit(1.0), evidence=pl.lit("none"))
    rows = (pl.concat([credits, uncredited], how="diagonal_relaxed")
            .with_columns(credited_to=credited_to(pl.col("channel"), pl.col("influencer_id"), pl.col("campaign_id")))
            .group_by("conversion_id", "model", "credited_to")
            .agg(pl.col("channel", "influencer_id", "campaign_id", "evidence").first(), credit=stable_sum(pl.col("credit"))))
    described = rows.join(conversions.select("conversion_id", "conversion_type", "converted_at", "converted_date",
                                             "net_revenue"), on="conversion_id")
    return (_allocate_cents(described)
            .select("conversion_id", "model", "credited_to", "conversion_type", "converted_at", "channel",
                    "influencer_id", "campaign_id", "evidence", "credit", "attributed_revenue", "converted_date")
            .sort("converted_date", "conversion_id", "model", "credited_to"))
