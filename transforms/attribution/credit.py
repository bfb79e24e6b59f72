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


_KEY = ["channel", "influencer_id", "campaign_id"]


def _credited(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.with_columns(credited_to=credited_to(pl.col("channel"), pl.col("influencer_id"), pl.col("campaign_id")))


def credit_touches(touches: pl.LazyFrame, rules: Attribution, models: tuple[str, ...] = TOUCH_MODELS) -> pl.LazyFrame:
    """Transformed journey touches → one row per conversion × model × credited key with the credit its touches
    carry, where that credit is positive."""
    if not models:
        return pl.LazyFrame(schema={"conversion_id": pl.String, "credited_to": pl.String, "channel": pl.String,
                                    "influencer_id": pl.String, "campaign_id": pl.String, "model": pl.String,
                                    "credit": pl.Float64, "evidence": pl.String})
    # Summed per credited key while still one row per touch, every model a column: grouping the touches once is a
    # fifth of grouping the five models' rows (stable_sum does not depend on the order of its terms).
    wide = (_credited(touches.with_columns(**{m: _touch_credit(m, rules) for m in models}))
            .group_by("conversion_id", "credited_to")
            .agg(pl.col(*_KEY).first(), *[stable_sum(pl.col(m)).alias(m) for m in models]))
    return (wide.unpivot(on=list(models), index=["conversion_id", "credited_to", *_KEY], variable_name="model",
                         value_name="credit")
            .filter(pl.col("credit") > 0)
            .with_columns(evidence=pl.when(pl.col("model").is_in(["first_touch", "last_touch"]))
                          .then(pl.lit("last_click_utm")).otherwise(pl.lit("multi_touch"))))


def _code_credit(order_codes: pl.LazyFrame, models: tuple[str, ...]) -> pl.LazyFrame:
    codes = order_codes.select(conversion_id=pl.lit("order:") + pl.col("order_id"), channel=pl.lit("influencer"),
                               influencer_id="influencer_id", campaign_id="campaign_id", credit="code_share",
                               evidence=pl.lit("code"))
    return pl.concat([codes.with_columns(model=pl.lit(m)) for m in models])


def _allocate_cents(credits: pl.LazyFrame) -> pl.LazyFrame:
    """Split each conversion's net revenue over its credit rows to the cent, largest remainder first (ties to the
    first credited_to), so the rows of a conversion and model always add up to its revenue exactly. Takes the
    integer ranks `_conversion`, `_model` and `_key` (see _ranked)."""
    group = ["_conversion", "_model"]
    total = (pl.col("net_revenue").cast(pl.Float64) * 100).round(0).cast(pl.Int64)
    share = pl.col("credit") * total
    floor = share.floor().cast(pl.Int64)
    left = total - floor.sum().over(group)
    rank = pl.struct((floor - share), pl.col("_key")).rank("ordinal").over(group)
    cents = floor + (rank <= left).cast(pl.Int64)
    return credits.with_columns(attributed_revenue=(cents.cast(pl.Float64) / 100).cast(MONEY))


def _ranked(rows: pl.DataFrame, conversions: pl.LazyFrame) -> pl.LazyFrame:
    """Credit rows → the same described by their conversion, with integer ranks standing for (converted_date,
    conversion_id), model and credited_to in the table's order: grouping and sorting two million rows by those
    strings cost more than the credit itself."""
    described = (conversions.select("conversion_id", "conversion_type", "converted_at", "converted_date", "net_revenue")
                 .sort("converted_date", "conversion_id").with_row_index("_conversion"))
    keys = pl.Enum(rows["credited_to"].unique().sort())
    return (rows.lazy().join(described, on="conversion_id")
            .with_columns(_model=pl.col("model").cast(pl.Enum(sorted(MODELS))).to_physical(),
                          _key=pl.col("credited_to").cast(keys).to_physical()))


def build_fct_attribution(conversions: pl.LazyFrame, touches: pl.LazyFrame, order_codes: pl.LazyFrame,
                          rules: Attribution) -> pl.LazyFrame:
    """fct_conversion, the transformed journey touches (journeys.transform_path) and the orders' influencer codes
    (conversions.build_order_codes) → one row per conversion × model × credited channel/influencer/campaign."""
    with_code = order_codes.select(conversion_id=pl.lit("order:") + pl.col("order_id")).unique()
    touch_models = () if rules.precedence == "code_only" else TOUCH_MODELS
    code_models = ("code",) if rules.precedence == "links_only" else MODELS
    by_touch = credit_touches(touches, rules, touch_models)
    if rules.precedence == "code_first":
        by_touch = by_touch.join(with_code, on="conversion_id", how="anti")
    # Code and touch rows never share a conversion and model (see the precedences above), so each is grouped alone.
    by_code = (_credited(_code_credit(order_codes, code_models)).group_by("conversion_id", "model", "credited_to")
               .agg(pl.col(*_KEY, "evidence").first(), credit=stable_sum(pl.col("credit"))))
    credits = pl.concat([by_code, by_touch], how="diagonal_relaxed")
    every = conversions.select("conversion_id").join(pl.LazyFrame({"model": list(MODELS)}), how="cross")
    uncredited = every.join(credits.select("conversion_id", "model").unique(), on=["conversion_id", "model"],
                            how="anti").with_columns(credit=pl.lit(1.0), evidence=pl.lit("none"), credited_to=pl.lit("none"))
    rows = pl.concat([credits, uncredited], how="diagonal_relaxed").collect()
    return (_allocate_cents(_ranked(rows, conversions)).sort("_conversion", "_model", "_key")
            .select("conversion_id", "model", "credited_to", "conversion_type", "converted_at", "channel",
                    "influencer_id", "campaign_id", "evidence", "credit", "attributed_revenue", "converted_date"))
