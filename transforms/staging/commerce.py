"""Staging models of the site tracker, the shop and the email platform: web events, orders and signups.

PII arrives here already hashed (ingestion replaced it by `<field>_hash`); these models only choose which hashes an
analyst needs. UTMs are parsed out of URLs and normalised once, here, so every later model compares like with like.
"""
from __future__ import annotations

from datetime import date

import polars as pl

from influence_pipeline.transforms.staging.common import (
    LINEAGE,
    MONEY,
    blank_to_null,
    first_line_per_key,
    json_value,
    latest_per_key,
    normalise_text,
    parsed_rows,
    to_bool,
    to_money,
    to_utc,
    url_host,
    url_path,
    utm_columns,
    with_landing_date,
)
from influence_pipeline.transforms.staging.ga4 import stage_ga4_events
from influence_pipeline.transforms.staging.shopify_nodes import node_order_rows

_REFUNDS = pl.List(pl.Struct({"id": pl.String, "created_at": pl.String,
                              "transactions": pl.List(pl.Struct({"amount": pl.String, "kind": pl.String}))}))
_CODES = pl.List(pl.Struct({"code": pl.String, "amount": pl.String, "type": pl.String}))
#: Order rows, the layout both Shopify shapes are brought to before staging: text as delivered (ids as numbers),
#: refunds and discount codes decoded as _REFUNDS and _CODES, the REST shape's field names (see shopify_nodes).
ORDER_ROWS = ("order_id", "order_name", "customer_id", "customer_email_hash", "browser_ip_hash", "created_at",
              "updated_at", "total_price", "subtotal_price", "total_discounts", "currency", "landing_site",
              "referring_site", "financial_status", "refunds", "discount_codes", "test", "source_name", *LINEAGE)


def _id(name: str) -> pl.Expr:
    return pl.col(name).str.strip_chars()


def build_stg_web_events(raw: pl.LazyFrame, ga4_raw: pl.LazyFrame, landing_date: date) -> pl.LazyFrame:
    """Tracker events.ndjson and GA4 export events.ndjson → one row per event (within each source a repeated
    event_id is kept once, the first line wins): the tracker's events, then GA4's (transforms/staging/ga4.py). The two
    never share an id (tracker UUIDs vs GA4 UUID5s); _source_file tells them apart."""
    url = pl.col("page_url").str.strip_chars()
    referrer = blank_to_null(pl.col("referrer"))
    staged = parsed_rows(raw).select(
        _id("event_id").alias("event_id"), to_utc(pl.col("event_at")).alias("event_at"),
        _id("anonymous_id").alias("anonymous_id"), normalise_text(pl.col("event_type")).alias("event_type"),
        url.alias("page_url"), url_host(url).alias("page_host"), url_path(url).alias("page_path"),
        *utm_columns(url), referrer.alias("referrer"),
        url_host(referrer).alias("referrer_host"), pl.col("user_agent"), pl.col("ip_hash"),
        _id("customer_id").alias("customer_id"), _id("order_id").alias("order_id"), pl.col("email_hash"),
        *LINEAGE,
    )
    return with_landing_date(pl.concat([first_line_per_key(staged, "event_id"), stage_ga4_events(ga4_raw)],
                                       how="vertical"), landing_date)


def _rest_order_rows(raw: pl.LazyFrame) -> pl.LazyFrame:
    """Clean raw shopify_orders rows (the REST shape) → order rows (ORDER_ROWS)."""
    return parsed_rows(raw).select(
        _id("id").alias("order_id"), _id("name").alias("order_name"), _id("customer_id").alias("customer_id"),
        pl.coalesce("customer_email_hash", "email_hash").alias("customer_email_hash"), "browser_ip_hash",
        "created_at", "updated_at", "total_price", "subtotal_price", "total_discounts", "currency", "landing_site",
        "referring_site", "financial_status", json_value(pl.col("refunds"), _REFUNDS).alias("refunds"),
        json_value(pl.col("discount_codes"), _CODES).alias("discount_codes"), "test", "source_name", *LINEAGE,
    )


def order_rows(raw: pl.LazyFrame, nodes_raw: pl.LazyFrame) -> pl.LazyFrame:
    """Both landing shapes of Shopify orders as one frame of order rows (ORDER_ROWS): the REST `orders.ndjson`
    (shopify_orders) and the GraphQL `order_nodes.ndjson` (shopify_order_nodes, mapped by shopify_nodes)."""
    return pl.concat([_rest_order_rows(raw), node_order_rows(nodes_raw)], how="vertical").select(ORDER_ROWS)


def build_stg_orders(raw: pl.LazyFrame, nodes_raw: pl.LazyFrame, landing_date: date) -> pl.LazyFrame:
    """Shopify orders.ndjson (REST shape) and order_nodes.ndjson (GraphQL nodes) → one row per order per landing date
    (latest `updated_at` wins, whichever shape delivered it). Refunds are summed into `refunded_amount`; discount codes
    are in stg_order_discount_codes."""
    landing_site = pl.col("landing_site").str.strip_chars()
    refunds = pl.col("refunds")
    refunded = (refunds.list.eval(pl.element().struct.field("transactions").list.eval(
        pl.element().struct.field("amount").str.strip_chars().cast(MONEY, strict=False)).list.sum()).list.sum())
    last_refund = refunds.list.eval(to_utc(pl.element().struct.field("created_at"))).list.max()
    staged = order_rows(raw, nodes_raw).select(
        "order_id", "order_name", "customer_id", "customer_email_hash", "browser_ip_hash",
        to_utc(pl.col("created_at")).alias("created_at"), to_utc(pl.col("updated_at")).alias("updated_at"),
        to_money(pl.col("total_price")).alias("total_price"), to_money(pl.col("subtotal_price")).alias("subtotal_price"),
        to_money(pl.col("total_discounts")).alias("total_discounts"),
        pl.col("currency").str.strip_chars().str.to_uppercase().alias("currency"),
        landing_site.alias("landing_site"), *utm_columns(landing_site),
        blank_to_null(pl.col("referring_site")).alias("referring_site"),
        url_host(blank_to_null(pl.col("referring_site"))).alias("referring_host"),
        normalise_text(pl.col("financial_status")).alias("financial_status"),
        pl.coalesce(refunded, pl.lit(0, dtype=MONEY)).cast(MONEY).alias("refunded_amount"),
        last_refund.alias("last_refunded_at"),
        pl.col("discount_codes").list.len().fill_null(0).cast(pl.Int64).alias("discount_code_count"),
        to_bool(pl.col("test")).fill_null(False).alias("is_test"), normalise_text(pl.col("source_name")).alias("source_name"),
        *LINEAGE,
    )
    return with_landing_date(latest_per_key(staged, ["order_id"], ["updated_at"]), landing_date)


def build_stg_order_discount_codes(raw: pl.LazyFrame, nodes_raw: pl.LazyFrame, landing_date: date) -> pl.LazyFrame:
    """Shopify orders (both shapes) → one row per order per discount code used (of the order's latest version that
    day, whichever shape delivered it)."""
    latest = latest_per_key(order_rows(raw, nodes_raw).with_columns(to_utc(pl.col("updated_at")).alias("_updated_at")),
                            ["order_id"], ["_updated_at"])
    codes = (latest.select("order_id", pl.col("discount_codes").alias("code"), *LINEAGE)
             .explode("code").drop_nulls("code"))
    staged = codes.select(
        "order_id", pl.col("code").struct.field("code").str.strip_chars().str.to_uppercase().alias("discount_code"),
        pl.col("code").struct.field("amount").str.strip_chars().cast(MONEY, strict=False).alias("discount_amount"),
        normalise_text(pl.col("code").struct.field("type")).alias("discount_type"), *LINEAGE,
    )
    return with_landing_date(staged.unique(["order_id", "discount_code"], keep="first", maintain_order=True),
                             landing_date)


def build_stg_signups(raw: pl.LazyFrame, landing_date: date) -> pl.LazyFrame:
    """Email-platform signups.csv → one row per signup (a repeated signup_id is kept once, the later line wins)."""
    url = pl.col("landing_url").str.strip_chars()
    staged = parsed_rows(raw).select(
        _id("signup_id").alias("signup_id"), to_utc(pl.col("created_at")).alias("signed_up_at"),
        pl.col("email_hash"), pl.col("list_name").str.strip_chars().alias("list_name"),
        _id("anonymous_id").alias("anonymous_id"), url.alias("landing_url"), *utm_columns(url),
        to_bool(pl.col("consent")).fill_null(False).alias("has_consent"), *LINEAGE,
    )
    return with_landing_date(latest_per_key(staged, ["signup_id"], []), landing_date)
