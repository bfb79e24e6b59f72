"""Engagement marts on tiny inline frames, every number computed by hand."""
from datetime import date, datetime, timezone

import polars as pl
import pytest

from influence_pipeline.rules_file import load_rules
from influence_pipeline.transforms.marts.engagement import build_fct_post_engagement, er_benchmark, tier

RULES = load_rules()
UTC = timezone.utc
D = date(2026, 11, 10)


@pytest.mark.parametrize(("followers", "expected"), [
    (0, "sub_nano"), (999, "sub_nano"), (1_000, "nano"), (4_999, "nano"), (5_000, "micro"), (49_999, "micro"),
    (50_000, "macro"), (499_999, "macro"), (500_000, "mega"), (80_000_000, "mega"), (None, None)])
def test_tier_bands_are_half_open(followers, expected):
    frame = pl.DataFrame({"f": [followers]}, schema={"f": pl.Int64})
    assert frame.select(tier(pl.col("f"), RULES.tiers).alias("t"))["t"][0] == expected


@pytest.mark.parametrize(("er", "expected"), [
    (0.0299, "below"), (0.03, "target"), (0.04, "target"), (0.05, "target"), (0.0501, "above"), (None, None)])
def test_er_benchmark_bands(er, expected):
    frame = pl.DataFrame({"er": [er]}, schema={"er": pl.Float64})
    assert frame.select(er_benchmark(pl.col("er"), 0.03, 0.05).alias("b"))["b"][0] == expected


def _snapshot(post_id, account, posted_day, snapshot_day, likes=None, comments=None, shares=None, saves=None,
              views=None, reach=None, replies=None, link_clicks=None, hidden=False, story=False, platform="instagram"):
    return {"post_id": post_id, "account_id": account, "platform": platform, "media_type": "story_image" if story else "image",
            "is_story": story, "posted_at": datetime(2026, 11, posted_day, 12, tzinfo=UTC),
            "snapshot_date": date(2026, 11, snapshot_day), "likes": likes, "comments": comments, "shares": shares,
            "saves": saves, "views": views, "impressions": None, "reach": reach, "replies": replies, "link_clicks": link_clicks,
            "is_likes_hidden": hidden, "landing_date": date(2026, 11, snapshot_day), "_row_number": 1}


def _account_day(account, day, followers):
    return {"account_id": account, "snapshot_date": date(2026, 11, day), "followers": followers,
            "landing_date": date(2026, 11, day)}


@pytest.fixture(scope="module")
def fct() -> dict[str, dict]:
    snapshots = pl.LazyFrame([
        _snapshot("ig:a", "ig:1", 5, 6, likes=50, comments=5, shares=1, saves=1, views=600, reach=300),
        _snapshot("ig:a", "ig:1", 5, 7, likes=100, comments=10, shares=5, saves=5, views=1200, reach=600),
        _snapshot("ig:a", "ig:1", 5, 11, likes=999, comments=99, shares=9, saves=9),  # after the run date: unseen
        _snapshot("ig:b", "ig:1", 6, 7, comments=4, shares=1, saves=2, views=500, reach=0, hidden=True),
        _snapshot("ig:c", "ig:1", 8, 8, likes=0, comments=0, shares=2, views=900, reach=800, replies=3, link_clicks=5,
                  story=True),
        _snapshot("ig:d", "ig:2", 1, 9, likes=30, comments=0, shares=0, saves=0),
    ])
    accounts_daily = pl.LazyFrame([_account_day("ig:1", 4, 1_000), _account_day("ig:1", 6, 2_000),
                                   _account_day("ig:2", 3, 600), _account_day("ig:2", 5, 700)])
    accounts = pl.LazyFrame({"account_id": ["ig:1", "ig:2"], "influencer_id": ["INF-1", "INF-2"]})
    campaigns = pl.LazyFrame({"campaign_id": ["CMP-1", "CMP-2"], "influencer_id": ["INF-1", "INF-1"],
                              "start_date": [date(2026, 11, 1), date(2026, 11, 6)],
                              "end_date": [date(2026, 11, 30), date(2026, 11, 7)]})
    out = build_fct_post_engagement(snapshots, accounts_daily, accounts, campaigns, D, RULES.emv).collect()
    assert out["post_id"].is_unique().all()
    return {row["post_id"]: row for row in out.to_dicts()}


def test_latest_snapshot_as_of_the_run_date_wins(fct):
    post = fct["ig:a"]
    assert (post["likes"], post["metrics_as_of_date"]) == (100, date(2026, 11, 7))


def test_feed_engagements_and_rates(fct):
    post = fct["ig:a"]
    assert post["engagements"] == 100 + 10 + 5 + 5
    assert post["followers_at_post"] == 1_000  # the snapshot of the 4th, the latest on or before the 5th
    assert post["er_followers"] == pytest.approx(0.12)
    assert post["er_reach"] == pytest.approx(0.2)
    assert post["er_views"] == pytest.approx(0.1)


def test_hidden_likes_null_every_rate_not_zero(fct):
    post = fct["ig:b"]
    assert post["is_likes_hidden"] and post["engagements"] is None
    assert (post["er_followers"], post["er_reach"], post["er_views"]) == (None, None, None)


def test_story_engagements_are_replies_shares_and_link_taps(fct):
    post = fct["ig:c"]
    assert post["engagements"] == 3 + 2 + 5
    assert post["followers_at_post"] == 2_000
    assert post["er_reach"] == pytest.approx(10 / 800)


def test_post_before_the_first_account_snapshot_uses_the_earliest_after(fct):
    post = fct["ig:d"]
    assert post["followers_at_post"] == 600
    assert post["er_followers"] == pytest.approx(30 / 600)
    assert post["er_views"] is None  # no views reported


def test_campaign_is_the_latest_started_one_active_on_the_posting_day(fct):
    assert fct["ig:a"]["campaign_id"] == "CMP-1"
    assert fct["ig:b"]["campaign_id"] == "CMP-2"
    assert fct["ig:d"]["campaign_id"] is None


def test_emv_uses_the_platform_unit_values(fct):
    unit = RULES.emv["instagram"]
    expected = round(1200 * unit["view"] + 100 * unit["like"] + 10 * unit["comment"] + 5 * unit["share"]
                     + 5 * unit["save"], 2)
    assert fct["ig:a"]["emv"] == pytest.approx(expected)
    story = round(900 * unit["view"] + 2 * unit["share"] + 10 * unit["story_interaction"], 2)
    assert fct["ig:c"]["emv"] == pytest.approx(story)
