"""fct_conversion and dim_customer: orders and signups as conversions, in the reporting currency, refunds netted."""
from __future__ import annotations

from datetime import date

import polars as pl

from influence_pipeline.transforms.staging.common import MONEY


def latest_orders(orders: pl.LazyFrame, codes: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """stg_orders and stg_order_discount_codes over several landing dates → each order's latest version (the
    latest updated_at, then the latest delivery) and the discount codes of exactly that version."""
    latest = (orders.sort("order_id", "updated_at", "landing_date", nulls_last=False)
              .group_by("order_id", maintain_order=True).last())
    version = latest.select("order_id", "landing_date")
    return latest, codes.join(version, on=["order_id", "landing_date"], how="semi")


def to_reporting(amount: pl.Expr, rates: dict[str, float]) -> pl.Expr:
    """A non-negative amount in the row's `currency` → the reporting currency, rounded half-up to the cent in
    integer arithmetic (no binary-float cent errors); null for a currency with no rate."""
    micro = {currency: round(rate * 1_000_000) for currency, rate in rates.items()}
    rate = pl.col("currency").replace_strict(micro, default=None, return_dtype=pl.Int64)
    cents = (amount.cast(MONEY) * 100).cast(pl.Int64)
    converted = (cents * rate + 500_000) // 1_000_000
    return converted.cast(MONEY) / 100


def build_dim_customer(previous: pl.LazyFrame, orders: pl.LazyFrame) -> pl.LazyFrame:
    """The previous dim_customer and the latest order versions seen now → one row per customer with their first
    order. Taking the earliest keeps the result the same whatever order days are (re)run in."""
    seen = (orders.filter(~pl.col("is_test"))
            .select(customer_key=_customer_key(), first_order_id=pl.col("order_id"),
                    first_order_at=pl.col("created_at"))
            .filter(pl.col("customer_key").is_not_null()))
    return (pl.concat([previous.select(seen.collect_schema().names()), seen], how="vertical_relaxed")
            .sort("customer_key", "first_order_at", "first_order_id")
            .unique("customer_key", keep="first", maintain_order=True))


def _customer_key() -> pl.Expr:
    """Shopify's customer id; a guest checkout has none, so its email hash stands in (prefixed, never confused)."""
    return pl.coalesce(pl.col("customer_id"), pl.lit("email:") + pl.col("customer_email_hash"))


def build_order_codes(codes: pl.LazyFrame, influencer_codes: pl.LazyFrame) -> pl.LazyFrame:
    """An order version's discount codes and the roster's affiliate codes → one row per order per influencer whose
    code it used, with that influencer's equal share of the order (two influencers' codes: half each). Shop-wide codes
    (WELCOME10, FREESHIP) credit nobody."""
    matched = (codes.join(influencer_codes.select("discount_code", "influencer_id", "campaign_id"),
                          on="discount_code", how="inner")
               .sort("order_id", "influencer_id", "discount_code")
               .unique(["order_id", "influencer_id"], keep="first", maintain_order=True))
    return matched.select("order_id", "influencer_id", "campaign_id", "discount_code",
                          code_share=1.0 / pl.len().over("order_id"))


def build_fct_conversion(orders: pl.LazyFrame, order_codes: pl.LazyFrame, signups: pl.LazyFrame,
                         customers: pl.LazyFrame, first_date: date, last_date: date, rates: dict[str, float]
                         ) -> pl.LazyFrame:
    """Latest order versions (test orders dropped), their influencer codes (build_order_codes), stg_signups and
    dim_customer → one row per conversion converted in [first_date, last_date]."""
    first_code = (order_codes.sort("order_id", "discount_code").group_by("order_id", maintain_order=True)
                  .agg(discount_code=pl.col("discount_code").first(), has_influencer_code=pl.lit(True)))
    refunded = pl.min_horizontal(pl.col("refunded_amount"), pl.col("total_price"))
    real = orders.filter(~pl.col("is_test")).with_columns(customer_key=_customer_key())
    order_rows = (real.join(first_code, on="order_id", how="left")
                  .join(customers.select("customer_key", "first_order_id"), on="customer_key", how="left")
                  .select(conversion_id=pl.lit("order:") + pl.col("order_id"), conversion_type=pl.lit("order"),
                          converted_at=pl.col("created_at"), order_id="order_id", signup_id=pl.lit(None, pl.String),
                          customer_key="customer_key", email_hash="customer_email_hash",
                          anonymous_id=pl.lit(None, pl.String), currency="currency",
                          fx_rate=pl.col("currency").replace_strict(rates, default=None, return_dtype=pl.Float64),
                          gross_revenue=to_reporting(pl.col("total_price"), rates),
                          net_revenue=to_reporting(pl.col("total_price") - refunded, rates),
                          is_new_customer=pl.col("first_order_id") == pl.col("order_id"),
                          discount_code="discount_code",
                          has_influencer_code=pl.col("has_influencer_code").fill_null(False),
                          financial_status="financial_status"))
    zero = pl.lit(0, dtype=MONEY)
    latest_signups = signups.sort("signup_id", "landing_date").group_by("signup_id", maintain_order=True).last()
    signup_rows = latest_signups.select(
        conversion_id=pl.lit("signup:") + pl.col("signup_id"), conversion_type=pl.lit("signup"),
        converted_at=pl.col("signed_up_at"), order_id=pl.lit(None, pl.String), signup_id="signup_id",
        customer_key=pl.lit(None, pl.String), email_hash="email_hash", anonymous_id="anonymous_id",
        currency=pl.lit(None, pl.String), fx_rate=pl.lit(None, pl.Float64), gross_revenue=zero,
        refunded_revenue=zero, net_revenue=zero, is_new_customer=pl.lit(None, pl.Boolean),
        discount_code=pl.lit(None, pl.String), has_influencer_code=pl.lit(False),
        financial_status=pl.lit(None, pl.String))
    # Derived, not converted on its own: gross = net + refunded must hold to the cent.
    order_rows = order_rows.with_columns(refunded_revenue=(pl.col("gross_revenue") - pl.col("net_revenue")).cast(MONEY))
    return (pl.concat([order_rows, signup_rows.select(order_rows.collect_schema().names())], how="vertical_relaxed")
            .with_columns(converted_date=pl.col("converted_at").dt.date())
            .filter(pl.col("converted_date").is_between(first_date, last_date))
            .sort("converted_date", "conversion_id"))
