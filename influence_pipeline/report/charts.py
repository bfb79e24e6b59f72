"""The report's charts: frames in, Altair charts out (pure; rendering and I/O live in page.py and data.py). Every
axis names its unit; money axes carry the reporting currency."""
from __future__ import annotations

import altair as alt
import polars as pl

from influence_pipeline.report.fmt import format_count, format_pct, money_axis_title

TIER_ORDER = ["sub_nano", "nano", "micro", "macro", "mega"]
MODEL_ORDER = ["code", "first_touch", "last_touch", "linear", "position_based", "time_decay", "markov", "shapley"]
WIDTH = 420  # with the legends below the plot, the SVG shrinks little on a 390 px phone
FLAG_RED = "#d62728"
#: Line colours with no red in them: red is kept for the flagged days.
LINE_COLOURS = ["#4c78a8", "#72b7b2", "#54a24b", "#b279a2", "#9d755d", "#eeca3b", "#f58518", "#79706e"]
# Larger than Vega-Lite's 10–11 px defaults: the SVG is scaled down to fit a 390 px phone screen.
FONT = {"labelFontSize": 13, "titleFontSize": 14}


def _styled(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return (chart.configure_axis(**FONT).configure_legend(**FONT, orient="bottom", columns=2)
            .configure_title(fontSize=16, anchor="start"))


def er_by_tier(benchmark: pl.DataFrame, target_min: float, target_max: float) -> alt.TopLevelMixin:
    """mart_tier_benchmark rows of a month → median 30-day ER per tier and platform, with the target band."""
    per_tier = (benchmark.group_by("platform", "tier")
                .agg(median_er=(pl.col("er_median") * pl.col("accounts")).sum() / pl.col("accounts").sum(),
                     accounts=pl.col("accounts").sum())
                .drop_nulls("median_er"))
    bars = alt.Chart(per_tier).mark_bar().encode(
        x=alt.X("tier:N", sort=TIER_ORDER, title="tier (by followers)", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("platform:N"),
        y=alt.Y("median_er:Q", axis=alt.Axis(format=".1%"), title="median 30-day engagement rate (%)"),
        color=alt.Color("platform:N", title="platform"),
        tooltip=["platform", "tier", alt.Tooltip("median_er:Q", format=".2%"), "accounts"])
    band = alt.Chart(pl.DataFrame({"low": [target_min], "high": [target_max]})).mark_rect(
        opacity=0.15, color="green").encode(y="low:Q", y2="high:Q")
    return _styled((band + bars).properties(
        width=WIDTH, height=260,
        title=f"Engagement rate by tier (green band: the {target_min:.0%}–{target_max:.0%} target)"))


def follower_growth(shown: pl.DataFrame) -> alt.TopLevelMixin:
    """Daily followers of the accounts to show (account label, metric_date, followers, is_growth_anomaly) → one
    line per account, its flagged days as red points. The points layer has no colour encoding of its own, so the
    red is not overridden by the account's line colour."""
    # small points on the lines too: an account with a single day of metrics has no line to draw
    lines = alt.Chart(shown).mark_line(point=alt.OverlayMarkDef(size=25)).encode(
        x=alt.X("metric_date:T", title="date", axis=alt.Axis(format="%-d %b", labelOverlap=True)),
        y=alt.Y("followers:Q", scale=alt.Scale(type="log"), axis=alt.Axis(format="~s"),
                title="followers (log scale)"),
        color=alt.Color("account:N", title="account", scale=alt.Scale(range=LINE_COLOURS)))
    points = alt.Chart(shown.filter(pl.col("is_growth_anomaly").fill_null(False))).mark_point(
        color=FLAG_RED, fill=FLAG_RED, size=110, filled=True, opacity=1).encode(
        x="metric_date:T", y=alt.Y("followers:Q", scale=alt.Scale(type="log")),
        tooltip=["account", alt.Tooltip("metric_date:T", format="%Y-%m-%d"), alt.Tooltip("followers:Q", format=",")])
    title = ("Followers of accounts with growth anomalies (red points: flagged days)"
             if shown["is_growth_anomaly"].fill_null(False).any() else "Followers of the largest accounts (none flagged)")
    return _styled((lines + points).properties(width=WIDTH, height=260, title=title))


def revenue_by_influencer(credited: pl.DataFrame, currency: str) -> alt.TopLevelMixin:
    """Revenue credited per influencer (name) and model → grouped horizontal bars."""
    return _styled(alt.Chart(credited).mark_bar().encode(
        y=alt.Y("influencer:N", sort="-x", title=None),
        x=alt.X("revenue:Q", title=money_axis_title("attributed net revenue", currency),
                axis=alt.Axis(format="~s", tickCount=5, labelOverlap=True)),
        yOffset=alt.YOffset("model:N", sort=MODEL_ORDER), color=alt.Color("model:N", sort=MODEL_ORDER, title="model"),
        tooltip=["influencer", "model", alt.Tooltip("revenue:Q", format=",.2f")],
    ).properties(width=WIDTH, height=max(160, 42 * credited["influencer"].n_unique()),
                 title="Attributed revenue by influencer and model"))


def funnel(steps: pl.DataFrame) -> alt.TopLevelMixin:
    """funnel_steps rows → bars on a linear count scale, each labelled with its count and its rate from visits."""
    labelled = steps.with_columns(label=pl.Series([
        format_count(count) + ("" if rate is None else f" ({format_pct(rate)} of visits)")
        for count, rate in zip(steps["count"], steps["rate_from_visits"])], dtype=pl.String))
    bars = alt.Chart(labelled).mark_bar(color="#4c78a8").encode(
        y=alt.Y("step:N", sort=alt.SortField("order"), title=None),
        # room on the right of the longest bar for its label
        x=alt.X("count:Q", scale=alt.Scale(type="linear", zero=True, nice=False,
                                           domainMax=max(1, int(steps["count"].max() or 0)) * 1.6),
                title="count (linear scale)",
                axis=alt.Axis(format="~s", tickCount=5, tickMinStep=1, labelOverlap=True)))
    labels = bars.mark_text(align="left", dx=4, fontSize=12).encode(text="label:N")
    return _styled((bars + labels).properties(width=WIDTH, height=130,
                                              title="Funnel: visits → signups → orders"))


def channel_models(per_channel: pl.DataFrame, currency: str) -> alt.TopLevelMixin:
    """channel_models rows → revenue per channel with the models side by side."""
    return _styled(alt.Chart(per_channel).mark_bar().encode(
        x=alt.X("channel:N", title="channel", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("model:N", sort=MODEL_ORDER),
        y=alt.Y("revenue:Q", title=money_axis_title("credited net revenue", currency),
                axis=alt.Axis(format="~s", tickCount=5)),
        color=alt.Color("model:N", sort=MODEL_ORDER, title="model"),
        tooltip=["channel", "model", alt.Tooltip("revenue:Q", format=",.2f")],
    ).properties(width=WIDTH, height=240, title="Revenue credited per channel, models side by side"))
