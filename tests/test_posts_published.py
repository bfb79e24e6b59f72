"""posts_published counts a post on its posted_date whatever day it arrives; the growth anomaly uses the documented
window. Pure functions on inline frames, numbers computed by hand."""
import math
from datetime import date, timedelta
from statistics import median

import polars as pl
import pytest

from influence_pipeline.rules_file import load_rules
from influence_pipeline.transforms.marts.accounts import build_fct_account_daily, restate_posts_published
from influence_pipeline.transforms.windows import run_windows as engagement_windows

RULES = load_rules()
D = date(2026, 11, 30)
DAY = timedelta(days=1)


def _stored(day, account, published):
    return {"account_id": account, "metric_date": day, "followers": 100, "posts_published": published,
            "er_30d_mean": 0.04}


def _posts(account, posted, n):
    return [{"post_id": f"{account}-{posted}-{i}", "account_id": account, "posted_date": posted} for i in range(n)]


def test_a_post_that_arrives_a_day_late_restates_its_day_only():
    stored = pl.LazyFrame([_stored(D - 2 * DAY, "ig:a", 1), _stored(D - 2 * DAY, "ig:b", 0),
                           _stored(D - DAY, "ig:a", 0), _stored(D - DAY, "ig:b", 0)])
    # Known now: the post of D-2 (already counted) and two of D-1 that first arrived in D's export.
    posts = pl.LazyFrame(_posts("ig:a", D - 2 * DAY, 1) + _posts("ig:b", D - DAY, 2))
    out = restate_posts_published(stored, posts, D - 14 * DAY, D - DAY).collect()
    # D-2 is unchanged and not rewritten; D-1 is rewritten whole (both accounts), other columns untouched.
    assert out.select("metric_date", "account_id", "posts_published").rows() == [
        (D - DAY, "ig:a", 0), (D - DAY, "ig:b", 2)]
    assert out["er_30d_mean"].to_list() == [0.04, 0.04] and out.columns == stored.collect_schema().names()


def test_restating_is_idempotent():
    stored = pl.LazyFrame([_stored(D - DAY, "ig:b", 2)])
    posts = pl.LazyFrame(_posts("ig:b", D - DAY, 2))
    assert restate_posts_published(stored, posts, D - 14 * DAY, D - DAY).collect().height == 0


def test_days_outside_the_tracked_window_are_never_restated():
    stored = pl.LazyFrame([_stored(D - 20 * DAY, "ig:a", 0)])
    posts = pl.LazyFrame(_posts("ig:a", D - 20 * DAY, 3))
    assert restate_posts_published(stored, posts, D - 14 * DAY, D - DAY).collect().height == 0


def test_the_night_reads_enough_follower_history_for_the_anomaly_window():
    w = engagement_windows(D, RULES)
    assert RULES.engagement.anomaly_window_days == 30
    # 30 changes need 31 snapshots; a snapshot lands the day after it is taken.
    assert w.account_snapshots_first <= D - 32 * DAY
    assert w.restated_days == (D - 14 * DAY, D - DAY)
    assert w.benchmark_months == (date(2026, 11, 1),)
    assert engagement_windows(date(2026, 12, 3), RULES).benchmark_months == (
        date(2026, 11, 1), date(2026, 12, 1))


def _series():
    """40 days of followers: 12 noisy days (±3 %), 27 quieter ones (+0.4 % / +0.8 %), then +6 % today. The 30-day
    window holds a few noisy changes (wider MAD), the 22-day one none."""
    followers, f = [], 10_000.0
    for i in range(39):
        f *= (1.03 if i % 2 == 0 else 0.97) if i < 12 else (1.004 if i % 2 == 0 else 1.008)
        followers.append(round(f))
    followers.append(round(followers[-1] * 1.06))
    return followers


def _z_over(followers, days):
    logs = [math.log1p(b) - math.log1p(a) for a, b in zip(followers, followers[1:])]
    past, today = logs[-1 - days:-1], logs[-1]
    med = median(past)
    mad = median(abs(x - med) for x in past)
    return round(0.6745 * (today - med) / max(mad, 1e-4), 3)


def test_robust_z_uses_the_trailing_30_days_of_changes():
    followers = _series()
    rows = [{"account_id": "ig:a", "platform": "instagram", "snapshot_date": D - (len(followers) - 1 - i) * DAY,
             "followers": f, "landing_date": D - (len(followers) - 2 - i) * DAY} for i, f in enumerate(followers)]
    posts = pl.LazyFrame(schema={"account_id": pl.String, "posted_at": pl.Datetime("us", "UTC"),
                                 "posted_date": pl.Date, "er_followers": pl.Float64, "is_story": pl.Boolean})
    previous = pl.LazyFrame(schema={"account_id": pl.String, "metric_date": pl.Date, "is_growth_anomaly": pl.Boolean,
                                    "er_30d_mean": pl.Float64})
    out = build_fct_account_daily(pl.LazyFrame(rows), posts, previous, D, RULES.tiers, RULES.engagement).collect()
    assert _z_over(followers, 30) != _z_over(followers, 22)  # the series tells the two windows apart
    assert out["robust_z"][0] == pytest.approx(_z_over(followers, 30))
    assert out["is_growth_anomaly"][0] is (out["robust_z"][0] > RULES.engagement.anomaly_z)
