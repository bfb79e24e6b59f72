"""The attribution step of a nightly: visits, conversions, credit, and the channel and campaign marts.

Reads only the lake partitions the windows need (events of the day before, visits of the lookback, conversions of
the restatement window, the months and open campaigns being recomputed) and hands frames to transforms/attribution.
"""
from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from influence_pipeline.schemas.contract import table_schema
from influence_pipeline.flows.context import RunContext
from influence_pipeline.transforms.windows import engagement_windows
from influence_pipeline.sinks.lake import scan_history, scan_whole
from influence_pipeline.transforms.attribution.campaigns import build_mart_campaign_performance, campaigns_to_recompute
from influence_pipeline.transforms.attribution.channels import build_mart_channel_attribution, build_nonconverting_paths
from influence_pipeline.transforms.attribution.conversions import (
    build_dim_customer, build_fct_conversion, build_order_codes, latest_orders,
)
from influence_pipeline.transforms.attribution.journeys import build_journey_touches, build_paths, transform_path
from influence_pipeline.transforms.attribution.credit import MODELS, build_fct_attribution
from influence_pipeline.transforms.attribution.visits import EVENT_LEAD_DAYS, build_fct_visit, owned_visit_dates
from influence_pipeline.transforms.marts.benchmark import month_start

Partition = tuple[str, str, pl.DataFrame, str | None, date | None]


def _history(ctx: RunContext, layer: str, table: str, column: str, start: date, end: date) -> pl.LazyFrame:
    return scan_history(ctx.tables_dir, layer, table, column, start, end, table_schema(table))


def _with_today(ctx: RunContext, table: str, today: pl.DataFrame, start: date, ds: date) -> pl.LazyFrame:
    """A staging table's partitions from `start` to the day before `ds`, plus the run's own frame for `ds`."""
    return pl.concat([_history(ctx, "staging", table, "landing_date", start, ds - timedelta(days=1)),
                      today.lazy()], how="vertical_relaxed")


def owned_conversion_dates(ds: date, ctx: RunContext) -> tuple[date, date]:
    """Conversion dates a run rewrites: refunds arrive up to restate_days late and change those days' revenue."""
    return ds - timedelta(days=ctx.rules.attribution.restate_days), ds


def owned_months(ds: date, ctx: RunContext) -> list[date]:
    first, _ = owned_conversion_dates(ds, ctx)
    return sorted({month_start(first), month_start(ds)})


def _visits(ds: date, ctx: RunContext, staged: dict[str, pl.DataFrame]) -> tuple[pl.DataFrame, pl.LazyFrame]:
    """The run's visits (owned dates) and every visit a journey of an owned conversion may reach back to."""
    rules = ctx.rules.attribution
    first, last = owned_visit_dates(ds)
    events = _with_today(ctx, "stg_web_events", staged["stg_web_events"], first - timedelta(days=EVENT_LEAD_DAYS), ds)
    visits = build_fct_visit(events, staged["stg_tracking_links"].lazy(), staged["stg_social_accounts"].lazy(),
                             first, last, rules).collect()
    conv_first, _ = owned_conversion_dates(ds, ctx)
    earlier = _history(ctx, "marts", "fct_visit", "visit_date", conv_first - timedelta(days=rules.lookback_days),
                       first - timedelta(days=1))
    return visits, pl.concat([earlier, visits.lazy()], how="vertical_relaxed")


@task(name="build-attribution", task_run_name="build-attribution-{ds}", cache_policy=NO_CACHE)
def build_attribution(ds: date, ctx: RunContext, staged: dict[str, pl.DataFrame],
                      posts: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Today's staging frames and fct_post_engagement → fct_visit, fct_conversion, fct_attribution, dim_customer,
    mart_channel_attribution and mart_campaign_performance for the windows the run owns."""
    rules = ctx.rules.attribution
    visits, journey_visits = _visits(ds, ctx, staged)
    first, last = owned_conversion_dates(ds, ctx)
    orders, codes = latest_orders(_with_today(ctx, "stg_orders", staged["stg_orders"], first, ds),
                                  _with_today(ctx, "stg_order_discount_codes", staged["stg_order_discount_codes"],
                                              first, ds))
    order_codes = build_order_codes(codes, staged["stg_discount_codes"].lazy()).collect()
    customers = build_dim_customer(scan_whole(ctx.tables_dir, "marts", "dim_customer",
                                              table_schema("dim_customer")), orders).collect()
    conversions = build_fct_conversion(orders, order_codes.lazy(), _with_today(ctx, "stg_signups", staged["stg_signups"],
                                                                                first, ds),
                                       customers.lazy(), first, last, ctx.rules.currency_rates).collect()
    touches = transform_path(build_journey_touches(conversions.lazy(), journey_visits, rules.lookback_days),
                             rules.path_transform).collect()
    conversions = (conversions.join(build_paths(touches.lazy()).collect(), on="conversion_id", how="left")
                   .with_columns(pl.col("touches").fill_null(0))
                   .select(table_schema("fct_conversion").names()))
    attribution = build_fct_attribution(conversions.lazy(), touches.lazy(), order_codes.lazy(), rules).collect()
    out = {"fct_visit": visits, "fct_conversion": conversions, "fct_attribution": attribution,
           "dim_customer": customers,
           "mart_channel_attribution": _channel_months(ds, ctx, visits, conversions, attribution),
           "mart_campaign_performance": _campaigns(ds, ctx, staged, posts, visits, attribution)}
    get_run_logger().info("attribution: %d visits, %d conversions (%s … %s), %d credit rows", visits.height,
                          conversions.height, first, last, attribution.height)
    return out


def _month_rows(ctx: RunContext, table: str, fresh: pl.DataFrame, column: str, month: date, ds: date,
                first_owned: date) -> pl.LazyFrame:
    """A month's rows of a date-partitioned mart up to `ds`: the lake's before `first_owned`, the run's after."""
    end = min(first_owned - timedelta(days=1), ds)
    earlier = _history(ctx, "marts", table, column, month, end) if end >= month else None
    recent = fresh.lazy().filter(pl.col(column).dt.month_start() == month)
    return recent if earlier is None else pl.concat([earlier, recent], how="vertical_relaxed")


def _channel_months(ds: date, ctx: RunContext, visits: pl.DataFrame, conversions: pl.DataFrame,
                    attribution: pl.DataFrame) -> pl.DataFrame:
    first, _ = owned_conversion_dates(ds, ctx)
    visit_first, _ = owned_visit_dates(ds)
    months = []
    for month in owned_months(ds, ctx):
        month_visits = _month_rows(ctx, "fct_visit", visits, "visit_date", month, ds, visit_first)
        months.append(build_mart_channel_attribution(
            _month_rows(ctx, "fct_attribution", attribution, "converted_date", month, ds, first),
            _month_rows(ctx, "fct_conversion", conversions, "converted_date", month, ds, first),
            build_nonconverting_paths(month_visits).collect().lazy(), month, ctx.rules.attribution.shapley_max_channels).collect())
    return pl.concat(months)


def settle_days(ctx: RunContext) -> int:
    return ctx.rules.attribution.lookback_days + ctx.rules.attribution.restate_days


def _campaigns(ds: date, ctx: RunContext, staged: dict[str, pl.DataFrame], posts: pl.DataFrame,
               visits: pl.DataFrame, attribution: pl.DataFrame) -> pl.DataFrame:
    """Open campaigns are recomputed from their start; settled ones are carried over from the previous run."""
    campaigns = staged["stg_campaigns"]
    previous = scan_whole(ctx.tables_dir, "marts", "mart_campaign_performance", table_schema("mart_campaign_performance"))
    starts = campaigns_to_recompute(campaigns.lazy(), previous, ds, settle_days(ctx)).collect()["start_date"]
    start = min(starts.min() or ds, ds)
    post_first = engagement_windows(ds, ctx.rules).posted_first
    visit_first, _ = owned_visit_dates(ds)
    conv_first, _ = owned_conversion_dates(ds, ctx)

    def span(table: str, column: str, fresh: pl.DataFrame, fresh_from: date) -> pl.LazyFrame:
        earlier = _history(ctx, "marts", table, column, start, fresh_from - timedelta(days=1))
        return pl.concat([earlier, fresh.lazy()], how="vertical_relaxed")

    return build_mart_campaign_performance(
        campaigns.lazy(), span("fct_post_engagement", "posted_date", posts, post_first),
        span("fct_visit", "visit_date", visits, visit_first),
        span("fct_attribution", "converted_date", attribution, conv_first), previous, ds, settle_days(ctx),
        ctx.rules.currency_rates, MODELS).collect()


def attribution_partitions(out: dict[str, pl.DataFrame], ds: date, ctx: RunContext) -> list[Partition]:
    """Every partition the run owns — empty ones too, so a row that moved out leaves no stale copy behind."""
    def days(first: date, last: date) -> list[date]:
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    parts: list[Partition] = []
    for table, column, owned in (("fct_visit", "visit_date", days(*owned_visit_dates(ds))),
                                 ("fct_conversion", "converted_date", days(*owned_conversion_dates(ds, ctx))),
                                 ("fct_attribution", "converted_date", days(*owned_conversion_dates(ds, ctx))),
                                 ("mart_channel_attribution", "month_start_date", owned_months(ds, ctx))):
        parts += [("marts", table, out[table].filter(pl.col(column) == value), column, value) for value in owned]
    parts += [("marts", table, out[table], None, None) for table in ("dim_customer", "mart_campaign_performance")]
    return parts
