"""mart_campaign_performance: what each influencer's part in a campaign cost and brought in, under each model."""
from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from influence_pipeline.transforms.attribution.conversions import to_reporting
from influence_pipeline.transforms.numeric import stable_sum
from influence_pipeline.transforms.staging.common import MONEY

KEY = ["campaign_id", "influencer_id"]


def settled_before(as_of: date, settle_days: int) -> date:
    """Campaigns that ended before this date are settled: no conversion can still be credited to them (lookback)
    nor restated (refund window), so their rows are carried over instead of recomputed."""
    return as_of - timedelta(days=settle_days)


def campaigns_to_recompute(campaigns: pl.LazyFrame, previous: pl.LazyFrame, as_of: date,
                           settle_days: int) -> pl.LazyFrame:
    """The roster's campaign × influencer rows a run computes: those not settled yet, and settled ones the previous
    mart lacks (a first run, a backfill starting after they ended) — computed once, then carried over."""
    unsettled = campaigns.filter(pl.col("end_date") >= settled_before(as_of, settle_days))
    missing = campaigns.join(previous.select(KEY).unique(), on=KEY, how="anti")
    return pl.concat([unsettled, missing]).unique(KEY, keep="first", maintain_order=True)


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    d = denominator.cast(pl.Float64)
    return pl.when(d > 0).then(numerator.cast(pl.Float64) / d)


def build_mart_campaign_performance(campaigns: pl.LazyFrame, posts: pl.LazyFrame, visits: pl.LazyFrame,
                                    attribution: pl.LazyFrame, previous: pl.LazyFrame, as_of: date,
                                    settle_days: int, rates: dict[str, float], models: tuple[str, ...]
                                    ) -> pl.LazyFrame:
    """stg_campaigns (today's roster), fct_post_engagement, fct_visit and fct_attribution rows of the open
    campaigns' period, and the previous mart → one row per campaign × influencer × attribution model, as of `as_of`.

    Cost = fee + gifted product cost + commission (rate × net revenue credited to the influencer's code). Ratios are
    null when their denominator is 0: CPE = cost / engagements, CPM = 1 000 × cost / impressions, CPV = cost / visits,
    CPA = cost / orders, ROAS = net revenue / cost, ROI = (net revenue − cost) / cost.
    """
    open_ = campaigns_to_recompute(campaigns, previous, as_of, settle_days)
    content = (posts.filter(pl.col("campaign_id").is_not_null()).group_by(KEY).agg(
        posts=pl.len().cast(pl.Int64), reach=pl.col("reach").sum().cast(pl.Int64),
        impressions=pl.col("impressions").sum().cast(pl.Int64),
        engagements=pl.col("engagements").sum().cast(pl.Int64), emv=stable_sum(pl.col("emv")).cast(MONEY)))
    traffic = visits.filter(pl.col("campaign_id").is_not_null()).group_by(KEY).agg(visits=pl.len().cast(pl.Int64))
    credited = attribution.filter(pl.col("campaign_id").is_not_null()).group_by(*KEY, "model").agg(
        signups=stable_sum(pl.col("credit").filter(pl.col("conversion_type") == "signup")),
        orders=stable_sum(pl.col("credit").filter(pl.col("conversion_type") == "order")),
        net_revenue=pl.col("attributed_revenue").sum().cast(MONEY))
    by_code = credited.filter(pl.col("model") == "code").select(*KEY, code_net_revenue="net_revenue")
    per_model = open_.join(pl.LazyFrame({"model": list(models)}), how="cross")
    zero_money = pl.lit(0, dtype=MONEY)
    rows = (per_model.join(content, on=KEY, how="left").join(traffic, on=KEY, how="left")
            .join(credited, on=[*KEY, "model"], how="left").join(by_code, on=KEY, how="left")
            .with_columns(pl.col("posts", "reach", "impressions", "engagements", "visits").fill_null(0),
                          pl.col("signups", "orders").fill_null(0.0),
                          pl.col("emv", "net_revenue", "code_net_revenue").fill_null(zero_money),
                          fee_reporting=to_reporting(pl.col("fee"), rates),
                          gifted_reporting=to_reporting(pl.col("gifted_product_cost"), rates))
            .with_columns(commission=(pl.col("commission_rate").fill_null(0.0)
                                      * pl.col("code_net_revenue").cast(pl.Float64)).round(2).cast(MONEY))
            .with_columns(cost=(pl.col("fee_reporting") + pl.col("gifted_reporting") + pl.col("commission"))
                          .cast(MONEY)))
    cost = pl.col("cost")
    fresh = rows.select(
        *KEY, "model", "campaign_name", "brand", "start_date", "end_date", fee_currency="currency",
        fee="fee_reporting", gifted_product_cost="gifted_reporting", commission_rate="commission_rate",
        code_net_revenue="code_net_revenue", commission="commission", cost="cost", posts="posts", reach="reach",
        impressions="impressions", engagements="engagements", emv="emv", visits="visits", signups="signups",
        orders="orders", net_revenue="net_revenue",
        cpe=_ratio(cost, pl.col("engagements")), cpm=1000 * _ratio(cost, pl.col("impressions")),
        cpv=_ratio(cost, pl.col("visits")), cpa=_ratio(cost, pl.col("orders")),
        roas=_ratio(pl.col("net_revenue"), cost),
        roi=_ratio(pl.col("net_revenue").cast(pl.Float64) - cost.cast(pl.Float64), cost),
        as_of_date=pl.lit(as_of))
    settled = (previous.join(open_.select(KEY), on=KEY, how="anti")
               .join(campaigns.select(KEY), on=KEY, how="semi"))
    return pl.concat([fresh, settled.select(fresh.collect_schema().names())], how="vertical_relaxed") \
        .sort(*KEY, "model")
