"""What the brief's tiles and tables say, computed from the marts' frames (pure: frames in, frames or numbers out)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from influence_pipeline.report.periods import Period
from influence_pipeline.transforms.audit import UNEXPECTED

#: The two views of attributed revenue the brief shows: what the influencers' codes brought, and last-touch credit.
VIEWS = {"code": "code", "last_touch": "last touch"}


@dataclass(frozen=True)
class Totals:
    """One period's headline numbers, money in the reporting currency."""
    spend: float
    revenue_code: float
    revenue_last_touch: float
    visits: int
    signups: int
    orders: int
    new_customers: int

    @property
    def roas(self) -> float | None:
        """Last-touch revenue per unit of spend; None without spend."""
        return self.revenue_last_touch / self.spend if self.spend else None


def _between(frame: pl.DataFrame, column: str, start: date, end: date) -> pl.DataFrame:
    return frame.filter(pl.col(column).is_between(start, end))


def _sum(frame: pl.DataFrame, column: str) -> float:
    return float(frame.get_column(column).cast(pl.Float64).sum() or 0.0) if frame.height else 0.0


def contracted_spend(campaigns: pl.DataFrame, start: date, end: date) -> float:
    """mart_campaign_performance rows → the fees and gifted products of [start, end]: each campaign × influencer's
    fee + gifted cost spread evenly over the campaign's days, so a night carries its share and a month its days'."""
    deals = campaigns.unique(["campaign_id", "influencer_id"]).drop_nulls(["start_date", "end_date"])
    if not deals.height:
        return 0.0
    days = (pl.col("end_date") - pl.col("start_date")).dt.total_days() + 1
    overlap = ((pl.min_horizontal(pl.col("end_date"), pl.lit(end)) - pl.max_horizontal(pl.col("start_date"), pl.lit(start)))
               .dt.total_days() + 1).clip(lower_bound=0)
    fixed = pl.col("fee").cast(pl.Float64).fill_null(0) + pl.col("gifted_product_cost").cast(pl.Float64).fill_null(0)
    return float(deals.select((fixed * overlap / days).sum()).item() or 0.0)


def commission_spend(campaigns: pl.DataFrame, attribution: pl.DataFrame, start: date, end: date) -> float:
    """Commission earned in [start, end]: each campaign × influencer's commission rate × the code revenue credited
    to it on those days (fct_attribution, model code)."""
    rates = campaigns.unique(["campaign_id", "influencer_id"]).select(
        "campaign_id", "influencer_id", pl.col("commission_rate").cast(pl.Float64).fill_null(0))
    code = _between(attribution, "converted_date", start, end).filter(pl.col("model") == "code")
    earned = code.join(rates, on=["campaign_id", "influencer_id"], how="inner")
    return float(earned.select((pl.col("attributed_revenue").cast(pl.Float64) * pl.col("commission_rate")).sum())
                 .item() or 0.0) if earned.height else 0.0


def period_totals(visits_daily: pl.DataFrame, conversions: pl.DataFrame, attribution: pl.DataFrame,
                  campaigns: pl.DataFrame, start: date, end: date) -> Totals:
    """Daily visit counts (visit_date, visits), fct_conversion, influencer-credited fct_attribution rows and
    mart_campaign_performance → the headline numbers of [start, end]."""
    converted = _between(conversions, "converted_date", start, end)
    orders = converted.filter(pl.col("conversion_type") == "order")
    credited = _between(attribution, "converted_date", start, end).filter(pl.col("influencer_id").is_not_null())
    return Totals(
        spend=contracted_spend(campaigns, start, end) + commission_spend(campaigns, attribution, start, end),
        revenue_code=_sum(credited.filter(pl.col("model") == "code"), "attributed_revenue"),
        revenue_last_touch=_sum(credited.filter(pl.col("model") == "last_touch"), "attributed_revenue"),
        visits=int(_sum(_between(visits_daily, "visit_date", start, end), "visits")),
        signups=converted.filter(pl.col("conversion_type") == "signup").height,
        orders=orders.height,
        new_customers=int(orders.get_column("is_new_customer").fill_null(False).sum()))


def totals_pair(frames: dict[str, pl.DataFrame], period: Period) -> tuple[Totals, Totals]:
    """The period's totals and its comparison period's, from the frames period_totals takes (by argument name)."""
    args = [frames[k] for k in ("visits_daily", "conversions", "attribution", "campaigns")]
    return (period_totals(*args, period.start, period.end),
            period_totals(*args, period.previous_start, period.previous_end))


def campaign_rows(campaigns: pl.DataFrame, influencers: pl.DataFrame) -> pl.DataFrame:
    """mart_campaign_performance + dim_influencer → one row per campaign × influencer (every one, none dropped): the
    influencer's name, cost, revenue in both views, last-touch ROAS and ROI and whether the deal has paid back
    (ROI ≥ 0); sorted by campaign, then best ROAS first."""
    keys = ["campaign_id", "influencer_id"]
    base = campaigns.unique(keys).select(*keys, "campaign_name", "brand", pl.col("cost").cast(pl.Float64))
    views = [campaigns.filter(pl.col("model") == model).select(
        *keys, pl.col("net_revenue").cast(pl.Float64).alias(f"revenue_{model}"),
        *([pl.col("roas").cast(pl.Float64), pl.col("roi").cast(pl.Float64)] if model == "last_touch" else []))
        for model in VIEWS]
    rows = base
    for view in views:
        rows = rows.join(view, on=keys, how="left")
    names = influencers.select("influencer_id", pl.col("full_name").alias("influencer"))
    return (rows.join(names, on="influencer_id", how="left")
            .with_columns(pl.col("influencer").fill_null(pl.col("influencer_id")),
                          # a deal that cost nothing has nothing to pay back
                          paid_back=(pl.col("roi").fill_null(-1.0) >= 0) | (pl.col("cost").fill_null(0) == 0))
            .sort(["campaign_name", "campaign_id", "roas", "influencer"], descending=[False, False, True, False],
                  nulls_last=True))


def funnel_steps(visits: int, signups: int, orders: int) -> pl.DataFrame:
    """The funnel's counts → one row per step with its rate from visits (visit → signup, visit → order)."""
    rate = [None, signups / visits if visits else None, orders / visits if visits else None]
    return pl.DataFrame({"step": ["visits", "signups", "orders"], "count": [visits, signups, orders],
                         "rate_from_visits": rate, "order": [1, 2, 3]},
                        schema_overrides={"rate_from_visits": pl.Float64})


def channel_models(channel_attribution: pl.DataFrame) -> pl.DataFrame:
    """mart_channel_attribution rows of a month → revenue and conversions per channel and model (level channel)."""
    return (channel_attribution.filter(pl.col("level") == "channel")
            .group_by("credited_to", "model")
            .agg(revenue=pl.col("revenue").cast(pl.Float64).sum(), conversions=pl.col("conversions").cast(pl.Float64).sum())
            .rename({"credited_to": "channel"}).sort("channel", "model"))


def unexpected_paths(audit: pl.DataFrame | None) -> list[str]:
    """run_sources rows → the landing paths of their `unexpected:<path>` rows (found in landing, read by no run),
    sorted; none without the audit."""
    if audit is None or not audit.height:
        return []
    found = audit.filter(pl.col("dataset").str.starts_with(UNEXPECTED))["dataset"].str.strip_prefix(UNEXPECTED)
    return sorted(set(found.to_list()))


def source_counts(audit: pl.DataFrame | None, quarantine: pl.DataFrame) -> pl.DataFrame:
    """run_sources rows of the night (or None when the audit is not at hand) and the night's quarantined rows
    (dataset, rule_id, reason) → rows in, published, quarantined and held per source; without the audit only the
    quarantined counts are known. Unexpected landing paths are no source: they are listed apart (unexpected_paths)."""
    if audit is not None:
        audit = audit.filter(~pl.col("dataset").str.starts_with(UNEXPECTED))
    if audit is not None and audit.height:
        return (audit.group_by("dataset").agg(pl.col("rows_in", "rows_published", "rows_quarantined", "rows_held").sum())
                .sort("dataset"))
    counts = quarantine.group_by("dataset").agg(rows_quarantined=pl.len())
    return counts.with_columns(rows_in=pl.lit(None, pl.Int64), rows_published=pl.lit(None, pl.Int64),
                               rows_held=pl.lit(None, pl.Int64)).select(
        "dataset", "rows_in", "rows_published", "rows_quarantined", "rows_held").sort("dataset")


def top_quarantine_reasons(quarantine: pl.DataFrame, per_source: int = 3) -> pl.DataFrame:
    """The night's quarantined rows (dataset, rule_id, reason) → the rules that quarantined most rows per source,
    with a count and one example reason (reasons carry line numbers, so rows are grouped by rule)."""
    if not quarantine.height:
        return pl.DataFrame(schema={"dataset": pl.String, "rule_id": pl.String, "rows": pl.UInt32, "example": pl.String})
    return (quarantine.group_by("dataset", "rule_id").agg(rows=pl.len(), example=pl.col("reason").first())
            .sort(["dataset", "rows", "rule_id"], descending=[False, True, False])
            .group_by("dataset", maintain_order=True).head(per_source))


def failed_rules(results: list[dict]) -> list[dict]:
    """A validation run's results → the failed rules, most unexpected values first, with their counts."""
    failed = [r for r in results if not r.get("success")]
    return sorted(failed, key=lambda r: (-(r.get("unexpected_count") or 0), r.get("dataset", ""), r.get("rule_id", "")))


def growth_accounts(daily: pl.DataFrame, accounts: pl.DataFrame, limit: int = 6) -> pl.DataFrame:
    """fct_account_daily rows of a window + dim_account → the daily followers of the accounts with growth anomalies
    (the largest, when none is flagged), each labelled "@handle (platform)" — a reader knows handles, not ids."""
    flagged = daily.filter(pl.col("is_growth_anomaly").fill_null(False)).select("account_id").unique()
    picked = (flagged if flagged.height else daily.group_by("account_id").agg(pl.col("followers").max())
              .sort("followers", descending=True).head(limit).select("account_id")).sort("account_id").head(limit)
    labels = accounts.select("account_id", account=pl.format("@{} ({})", pl.col("handle"), pl.col("platform")))
    return (daily.join(picked, on="account_id").join(labels, on="account_id", how="left")
            .with_columns(pl.col("account").fill_null(pl.col("account_id")))
            .select("account", "metric_date", "followers", "is_growth_anomaly").sort("account", "metric_date"))


def credited_by_influencer(attribution: pl.DataFrame, influencers: pl.DataFrame, start: date, end: date,
                           top: int = 10) -> pl.DataFrame:
    """Influencer-credited fct_attribution rows → revenue per influencer name and model over [start, end], for the
    `top` influencers by their best model."""
    credited = (_between(attribution, "converted_date", start, end).filter(pl.col("influencer_id").is_not_null())
                .group_by("influencer_id", "model").agg(revenue=pl.col("attributed_revenue").cast(pl.Float64).sum()))
    leaders = (credited.group_by("influencer_id").agg(pl.col("revenue").max())
               .sort(["revenue", "influencer_id"], descending=[True, False]).head(top).select("influencer_id"))
    names = influencers.select("influencer_id", pl.col("full_name").alias("influencer"))
    return (credited.join(leaders, on="influencer_id").join(names, on="influencer_id", how="left")
            .with_columns(pl.col("influencer").fill_null(pl.col("influencer_id")))
            .select("influencer", "model", "revenue").sort("influencer", "model"))


def night_audit(audit: pl.DataFrame | None, ds: date) -> pl.DataFrame | None:
    """run_sources rows → those of the latest published run of night `ds` (a rerun's rows replace a first run's;
    a stopped run held its rows back and published nothing); None when there are none."""
    if audit is None or not audit.height:
        return None
    night = audit.filter(pl.col("landing_date") == ds)
    runs = (night.group_by("run_id").agg(pl.col("rows_held").sum(), pl.col("run_finished_at").max())
            .filter(pl.col("rows_held") == 0).sort("run_finished_at"))
    return night.filter(pl.col("run_id") == runs["run_id"][-1]) if runs.height else None
