"""The pipeline's own Polars transforms for exactly the outputs benchmarks/sql_baseline.py reproduces, timed in
process over the same night snapshot.

The benchmark's stage seconds (benchmarks.run) cover whole Prefect tasks: build-marts also builds dim_account,
dim_influencer, the tier benchmark and dim_date; build-attribution also builds dim_customer, the channel marts
(Markov, Shapley) and campaign performance. Comparing those with a SQL version of a subset would flatter the SQL, so
this replays the same calls flows/engagement_tasks.py and flows/attribution_tasks.py make, up to the matched
outputs only, reading the lake partitions they read. Today's staging frames, which a night has in memory, are read
before the clock starts. Nor does it classify captions into niches: post_niche is a tokenizer the SQL does not
reproduce (and the comparison skips), so neither side pays for it.
"""
from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import polars as pl

from influence_pipeline.schemas.contract import table_schema
from influence_pipeline.schemas.raw import PARTITION_COLUMN
from influence_pipeline.sinks.lake import scan_history, scan_whole
from influence_pipeline.transforms.attribution.conversions import (
    build_dim_customer,
    build_fct_conversion,
    build_order_codes,
    latest_orders,
)
from influence_pipeline.transforms.attribution.credit import build_fct_attribution
from influence_pipeline.transforms.attribution.journeys import build_journey_touches, build_paths, transform_path
from influence_pipeline.transforms.attribution.visits import build_fct_visit
from influence_pipeline.transforms.marts.accounts import build_fct_account_daily, restate_posts_published
from influence_pipeline.transforms.marts.engagement import build_fct_post_engagement
from influence_pipeline.transforms.windows import run_windows

STAGING = ("stg_post_snapshots", "stg_account_daily", "stg_social_accounts", "stg_campaigns", "stg_web_events",
           "stg_tracking_links", "stg_orders", "stg_order_discount_codes", "stg_discount_codes", "stg_signups")


def run(night: Path, ds: date, rules) -> tuple[dict[str, tuple[float, float]], dict[str, pl.DataFrame]]:
    """→ ((wall, CPU) seconds per stage subset, the frames built) for the night snapshot `night` of landing date
    `ds`. CPU seconds are of the whole process (every Polars thread)."""
    w = run_windows(ds, rules)

    def history(layer: str, table: str, column: str, first: date, last: date) -> pl.LazyFrame:
        return scan_history(night, layer, table, column, first, last, table_schema(table))

    staged = {t: history("staging", t, PARTITION_COLUMN, ds, ds).collect() for t in STAGING}

    def with_today(table: str, first: date) -> pl.LazyFrame:
        return pl.concat([history("staging", table, PARTITION_COLUMN, first, w.history_last), staged[table].lazy()],
                         how="vertical_relaxed")

    seconds, out = {}, {}
    started, cpu = time.perf_counter(), time.process_time()
    # flows/engagement_tasks.build_marts, up to fct_account_daily
    accounts = with_today("stg_account_daily", w.account_snapshots_first)
    fct = build_fct_post_engagement(
        with_today("stg_post_snapshots", w.snapshots_first), accounts, staged["stg_social_accounts"].lazy(),
        staged["stg_campaigns"].lazy(), ds, rules.emv, None,  # post_niche: a caption tokenizer the SQL leaves out
    ).filter(pl.col("posted_date").is_between(w.posted_first, w.posted_last)).collect()
    posts = pl.concat([history("marts", "fct_post_engagement", "posted_date", *w.older_posts), fct.lazy()],
                      how="vertical_relaxed").collect()
    stored_days = history("marts", "fct_account_daily", "metric_date", *w.stored_days).collect()
    restated = restate_posts_published(stored_days.lazy(), fct.lazy(), *w.restated_days).collect()
    previous_days = pl.concat([stored_days.join(restated.select("metric_date").unique(), on="metric_date",
                                                how="anti"), restated])
    daily = build_fct_account_daily(accounts, posts.lazy(), previous_days.lazy(), ds, rules.tiers,
                                    rules.engagement).collect()
    seconds["engagement"] = (time.perf_counter() - started, time.process_time() - cpu)
    out |= {"fct_post_engagement": fct, "fct_account_daily": daily}

    started, cpu = time.perf_counter(), time.process_time()
    # flows/attribution_tasks.build_attribution, up to fct_attribution
    a = rules.attribution
    visits = build_fct_visit(with_today("stg_web_events", w.events_first), staged["stg_tracking_links"].lazy(),
                             staged["stg_social_accounts"].lazy(), *w.visits, a).collect()
    journey_visits = pl.concat([history("marts", "fct_visit", "visit_date", *w.journey_visits), visits.lazy()],
                               how="vertical_relaxed")
    first, last = w.conversions
    orders, codes = latest_orders(with_today("stg_orders", first), with_today("stg_order_discount_codes", first))
    order_codes = build_order_codes(codes, staged["stg_discount_codes"].lazy()).collect()
    customers = build_dim_customer(scan_whole(night, "marts", "dim_customer", table_schema("dim_customer")),
                                   orders).collect()
    conversions = build_fct_conversion(orders, order_codes.lazy(), with_today("stg_signups", first),
                                       customers.lazy(), first, last, rules.currency_rates).collect()
    touches = transform_path(build_journey_touches(conversions.lazy(), journey_visits, a.lookback_days),
                             a.path_transform).collect()
    conversions = (conversions.join(build_paths(touches.lazy()).collect(), on="conversion_id", how="left")
                   .with_columns(pl.col("touches").fill_null(0)))
    attribution = build_fct_attribution(conversions.lazy(), touches.lazy(), order_codes.lazy(), a).collect()
    seconds["attribution"] = (time.perf_counter() - started, time.process_time() - cpu)
    out |= {"fct_visit": visits, "fct_attribution": attribution}
    return seconds, out
