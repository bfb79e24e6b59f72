"""The report's charts: frames in, Altair charts out (pure; rendering and I/O live in page.py and data.py)."""
from __future__ import annotations

import altair as alt
import polars as pl

TIER_ORDER = ["sub_nano", "nano", "micro", "macro", "mega"]
MODEL_ORDER = ["code", "first_touch", "last_touch", "linear", "position_based", "time_decay"]
WIDTH = 560


def er_by_tier(benchmark: pl.DataFrame, target_min: float, target_max: float) -> alt.Chart:
    """mart_tier_benchmark rows of a month → median 30-day ER per tier and platform, with the target band."""
    per_tier = (benchmark.group_by("platform", "tier")
                .agg(median_er=(pl.col("er_median") * pl.col("accounts")).sum() / pl.col("accounts").sum(),
                     accounts=pl.col("accounts").sum())
                .drop_nulls("median_er"))
    bars = alt.Chart(per_tier).mark_bar().encode(
        x=alt.X("tier:N", sort=TIER_ORDER, title="tier (followers)", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("platform:N"),
        y=alt.Y("median_er:Q", axis=alt.Axis(format="%"), title="median 30-day engagement rate"),
        color=alt.Color("platform:N"),
        tooltip=["platform", "tier", alt.Tooltip("median_er:Q", format=".2%"), "accounts"])
    band = alt.Chart(pl.DataFrame({"low": [target_min], "high": [target_max]})).mark_rect(
        opacity=0.15, color="green").encode(y="low:Q", y2="high:Q")
    return (band + bars).properties(width=WIDTH, height=260, title="Engagement rate by tier (green: the 3–5 % target)")


def follower_growth(daily: pl.DataFrame, accounts: int = 6) -> alt.Chart:
    """fct_account_daily rows of a window → followers over time of the accounts with growth anomalies (or the
    largest, when none is flagged), anomalies marked with a red point."""
    flagged = daily.filter(pl.col("is_growth_anomaly")).select("account_id").unique()
    picked = (flagged if flagged.height else daily.group_by("account_id").agg(pl.col("followers").max())
              .sort("followers", descending=True).select("account_id")).sort("account_id").head(accounts)
    shown = daily.join(picked, on="account_id").select("account_id", "metric_date", "followers", "is_growth_anomaly")
    base = alt.Chart(shown).encode(x=alt.X("metric_date:T", title="date"),
                                   y=alt.Y("followers:Q", scale=alt.Scale(type="log"), title="followers (log scale)"),
                                   color="account_id:N")
    points = base.mark_point(color="red", size=90, filled=True).transform_filter("datum.is_growth_anomaly")
    return (base.mark_line() + points).properties(
        width=WIDTH, height=260, title="Followers of accounts with growth anomalies (red: flagged day)")


def revenue_by_influencer(attribution: pl.DataFrame, top: int = 10) -> alt.Chart:
    """fct_attribution rows → revenue credited to the top influencers under each model."""
    credited = attribution.filter(pl.col("influencer_id").is_not_null()).group_by("influencer_id", "model").agg(
        revenue=pl.col("attributed_revenue").cast(pl.Float64).sum())
    leaders = (credited.group_by("influencer_id").agg(pl.col("revenue").max()).sort("revenue", descending=True)
               .head(top).select("influencer_id"))
    return alt.Chart(credited.join(leaders, on="influencer_id")).mark_bar().encode(
        y=alt.Y("influencer_id:N", sort="-x", title=None), x=alt.X("revenue:Q", title="attributed net revenue"),
        yOffset=alt.YOffset("model:N", sort=MODEL_ORDER), color=alt.Color("model:N", sort=MODEL_ORDER),
        tooltip=["influencer_id", "model", alt.Tooltip("revenue:Q", format=",.2f")],
    ).properties(width=WIDTH, height=420, title=f"Attributed revenue, top {top} influencers, by model")


def funnel(visits: int, signups: int, orders: int) -> alt.Chart:
    steps = pl.DataFrame({"step": ["visits", "signups", "orders"], "count": [visits, signups, orders],
                          "order": [1, 2, 3]})
    bars = alt.Chart(steps).mark_bar().encode(
        y=alt.Y("step:N", sort=alt.SortField("order"), title=None),
        x=alt.X("count:Q", scale=alt.Scale(type="symlog"), axis=alt.Axis(tickCount=3, format="~s"),
                title="count (symmetric log scale)"))
    labels = bars.mark_text(align="left", dx=4).encode(text=alt.Text("count:Q", format=","))
    return (bars + labels).properties(width=WIDTH, height=120, title="Funnel: visits → signups → orders")
