"""Shopify Admin GraphQL `Order` nodes (raw shopify_order_nodes, the current API as the pull lands it) → the order
rows the REST shape gives (raw shopify_orders), so stg_orders and stg_order_discount_codes read both the same way.

Pure: a raw frame in, a frame out, in the column layout of commerce.ORDER_ROWS. The mapping (what
the pull did in Python before it landed nodes; kept as the test oracle tests/shopify_rest.py):
* ids: the number of the global id (`gid://shopify/Order/5001` → `5001`, the customer's likewise);
* money: `*Set.shopMoney.amount` as sent (`"19.9"`; staging casts both shapes to decimal(18,2));
* enums: `displayFinancialStatus` and transaction kinds lower-cased;
* discount codes: each DiscountCodeApplication (its `code`) with the amount it took — the sum of the line-item and
  shipping-line `discountAllocations` joined on the application's `index` — and its type: `shipping` for a
  SHIPPING_LINE target, `percentage` for a PricingPercentageValue, else `fixed_amount`. An order without code
  applications falls back to the `discountCodes` names, with amount and type unknown (null);
* refunds: each refund's `createdAt` and its transactions (amount, kind);
* landing_site: path and query of the landing page of the journey's last visit, else its first; referring_site: that
  visit's referrer, "" when none. Both null (unknown) while the journey is not `ready`; an order without a journey
  summary counts as ready (no visit: "").
"""
from __future__ import annotations

import polars as pl

from influence_pipeline.transforms.staging.common import MONEY, json_value, parsed_rows

_BAG = pl.Struct({"shopMoney": pl.Struct({"amount": pl.String})})
_ALLOCATIONS = pl.List(pl.Struct({"allocatedAmountSet": _BAG, "discountApplication": pl.Struct({"index": pl.Int64})}))
_LINES = pl.Struct({"nodes": pl.List(pl.Struct({"discountAllocations": _ALLOCATIONS}))})
_APPLICATIONS = pl.Struct({"nodes": pl.List(pl.Struct({
    "__typename": pl.String, "index": pl.Int64, "targetType": pl.String, "code": pl.String,
    "value": pl.Struct({"__typename": pl.String, "percentage": pl.Float64})}))})
_REFUNDS = pl.List(pl.Struct({"id": pl.String, "createdAt": pl.String, "transactions": pl.Struct({
    "nodes": pl.List(pl.Struct({"kind": pl.String, "amountSet": _BAG}))})}))
_VISIT = pl.Struct({"landingPage": pl.String, "referrerUrl": pl.String})
_JOURNEY = pl.Struct({"ready": pl.Boolean, "firstVisit": _VISIT, "lastVisit": _VISIT})
_NAMES = pl.List(pl.String)
_SCHEME_AND_HOST = r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//[^/?#]*"


def gid_number(gid: pl.Expr) -> pl.Expr:
    """`gid://shopify/Order/5001` → `"5001"` (the REST id); text that is no global id → null."""
    return gid.str.strip_chars().str.extract(r"^gid://shopify/\w+/([0-9]+)(?:\?.*)?$", 1)


def path_and_query(url: pl.Expr) -> pl.Expr:
    """REST `landing_site`: the landing page without scheme, host and fragment (`https://s.com/p/x?u=a#f` →
    `/p/x?u=a`, `https://s.com` → `/`); a URL without scheme and host stays as it is; none → ""."""
    absolute = url.str.contains(_SCHEME_AND_HOST)
    rest = url.str.replace(_SCHEME_AND_HOST, "").str.replace(r"#.*$", "").str.replace(r"\?$", "")
    rest = pl.when(rest.str.starts_with("/")).then(rest).otherwise(pl.concat_str([pl.lit("/"), rest]))
    return (pl.when(url.is_null() | (url == "")).then(pl.lit(""))
            .when(absolute).then(rest).otherwise(url))


def _discount_type(application: pl.Expr) -> pl.Expr:
    value = application.struct.field("value")
    return (pl.when(application.struct.field("targetType") == "SHIPPING_LINE").then(pl.lit("shipping"))
            .when((value.struct.field("__typename") == "PricingPercentageValue")
                  | value.struct.field("percentage").is_not_null()).then(pl.lit("percentage"))
            .otherwise(pl.lit("fixed_amount")))


def _code_lists(rows: pl.LazyFrame) -> pl.LazyFrame:
    """`__row` → the order's code applications as a list of {code, amount, type} (amount as decimal text), in the
    order of its applications. Orders without code applications have no row here."""
    lines = pl.concat_list([pl.col(c).struct.field("nodes").fill_null([]) for c in ("__lines", "__shipping")])
    allocations = (rows.select("__row", lines.alias("__line")).explode("__line")
                   .select("__row", pl.col("__line").struct.field("discountAllocations").alias("__a"))
                   .explode("__a").drop_nulls("__a")
                   .select("__row", pl.col("__a").struct.field("discountApplication").struct.field("index")
                           .alias("__index"),
                           pl.col("__a").struct.field("allocatedAmountSet").struct.field("shopMoney")
                           .struct.field("amount").str.strip_chars().cast(MONEY, strict=False).alias("__amount"))
                   .group_by("__row", "__index").agg(pl.col("__amount").sum()))
    applications = (rows.select("__row", pl.col("__applications").struct.field("nodes").alias("__app"))
                    .explode("__app").drop_nulls("__app")
                    .with_columns(pl.int_range(pl.len()).over("__row").alias("__position"))
                    .filter(pl.col("__app").struct.field("__typename").fill_null("DiscountCodeApplication")
                            .eq("DiscountCodeApplication") & pl.col("__app").struct.field("code").is_not_null())
                    .select("__row", "__position", pl.col("__app").struct.field("index").alias("__index"),
                            pl.col("__app").struct.field("code").alias("code"),
                            _discount_type(pl.col("__app")).alias("type")))
    joined = applications.join(allocations, on=["__row", "__index"], how="left")
    code = pl.struct(pl.col("code"), pl.col("__amount").fill_null(pl.lit(0, dtype=MONEY)).cast(MONEY)
                     .cast(pl.String).alias("amount"), pl.col("type"))
    return (joined.sort("__row", "__position").group_by("__row", maintain_order=True)
            .agg(code.alias("__codes")))


def _refunds(refunds: pl.Expr) -> pl.Expr:
    element = pl.element()
    transactions = element.struct.field("transactions").struct.field("nodes").list.eval(pl.struct(
        pl.element().struct.field("amountSet").struct.field("shopMoney").struct.field("amount").alias("amount"),
        pl.element().struct.field("kind").str.to_lowercase().alias("kind")))
    return refunds.list.eval(pl.struct(element.struct.field("id").alias("id"),
                                       element.struct.field("createdAt").alias("created_at"),
                                       transactions.alias("transactions")))


def node_order_rows(raw: pl.LazyFrame) -> pl.LazyFrame:
    """Clean raw shopify_order_nodes rows → order rows in the layout of commerce.ORDER_ROWS (one per raw row)."""
    rows = parsed_rows(raw).with_row_index("__row").with_columns(
        json_value(pl.col("discount_applications"), _APPLICATIONS).alias("__applications"),
        json_value(pl.col("line_items"), _LINES).alias("__lines"),
        json_value(pl.col("shipping_lines"), _LINES).alias("__shipping"),
        json_value(pl.col("customer_journey_summary"), _JOURNEY).alias("__journey"),
        json_value(pl.col("refunds"), _REFUNDS).alias("__refunds"),
        json_value(pl.col("discount_codes"), _NAMES).alias("__names"),
    )
    journey = pl.col("__journey")
    ready = journey.is_null() | journey.struct.field("ready").fill_null(False)
    visit = pl.coalesce(journey.struct.field("lastVisit"), journey.struct.field("firstVisit"))
    referrer = visit.struct.field("referrerUrl")
    names = pl.col("__names").list.eval(pl.struct(pl.element().alias("code"), pl.lit(None, pl.String).alias("amount"),
                                                  pl.lit(None, pl.String).alias("type")))
    codes = pl.when(pl.col("__codes").list.len() > 0).then(pl.col("__codes")).otherwise(names)
    return rows.join(_code_lists(rows), on="__row", how="left").sort("__row").select(
        gid_number(pl.col("id")).alias("order_id"), pl.col("name").str.strip_chars().alias("order_name"),
        gid_number(pl.col("customer_id")).alias("customer_id"),
        pl.coalesce("customer_email_hash", "email_hash").alias("customer_email_hash"),
        pl.col("client_ip_hash").alias("browser_ip_hash"), "created_at", "updated_at", "total_price",
        "subtotal_price", "total_discounts", pl.col("currency_code").alias("currency"),
        pl.when(ready).then(path_and_query(visit.struct.field("landingPage"))).alias("landing_site"),
        pl.when(ready).then(pl.when(referrer.is_null() | (referrer == "")).then(pl.lit("")).otherwise(referrer))
        .alias("referring_site"),
        pl.col("display_financial_status").str.to_lowercase().alias("financial_status"),
        _refunds(pl.col("__refunds")).alias("refunds"), codes.alias("discount_codes"), "test", "source_name",
        "_source_file", "_row_number",
    )
