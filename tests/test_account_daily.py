"""fct_account_daily on tiny inline frames, every number computed by hand."""
from datetime import date, datetime, timedelta, timezone
from statistics import median

import polars as pl
import pytest

from influence_pipeline.rules_file import load_rules
from influence_pipeline.transforms.marts.accounts import build_fct_account_daily

RULES = load_rules()
D = date(2026, 11, 30)


def _days(account, platform, followers_by_day):
    return [{"account_id": account, "platform": platform, "snapshot_date": D - timedelta(days=len(followers_by_day) - 1 - i),
             "followers": f, "landing_date": D - timedelta(days=len(followers_by_day) - 1 - i)}
            for i, f in enumerate(followers_by_day)]


def _post(account, days_ago, er, story=False):
    posted = datetime.combine(D - timedelta(days=days_ago), datetime.min.time(), tzinfo=timezone.utc)
    return {"account_id": account, "posted_at": posted, "posted_date": posted.date(), "er_followers": er,
            "is_story": story}


@pytest.fixture(scope="module")
def rows():
    steady = [10_000 + 10 * i for i in range(20)]  # +10 a day
    spiked = [20_000 + 20 * i for i in range(19)] + [30_000]  # a bought-follower jump today
    accounts = pl.LazyFrame(_days("ig:steady", "instagram", steady) + _days("ig:spike", "instagram", spiked)
                            + _days("ig:new", "instagram", [4_999, 5_000]))
    posts = [_post("ig:steady", d, er) for d, er in [(0, 0.05), (3, 0.03), (10, 0.04), (29, 0.02), (30, 0.9), (45, 0.01)]]
    posts += [_post("ig:steady", 1, 0.5, story=True), _post("ig:spike", 0, None)]
    posts += [_post("ig:spike", d, 0.01 * d) for d in range(1, 15)]
    previous = pl.LazyFrame([
        {"account_id": "ig:steady", "metric_date": D - timedelta(days=5), "is_growth_anomaly": True, "er_30d_mean": 0.2},
        {"account_id": "ig:spike", "metric_date": D - timedelta(days=40), "is_growth_anomaly": True, "er_30d_mean": 0.9},
    ])
    out = build_fct_account_daily(accounts, pl.LazyFrame(posts), previous, D, RULES.tiers, RULES.engagement).collect()
    return {r["account_id"]: r for r in out.to_dicts()}


def test_followers_change_and_tier(rows):
    assert (rows["ig:steady"]["followers"], rows["ig:steady"]["follower_change"]) == (10_190, 10)
    assert rows["ig:new"]["follower_change"] == 1 and rows["ig:new"]["tier"] == "micro"
    assert rows["ig:steady"]["tier"] == "micro"


def test_planted_spike_is_flagged_and_steady_growth_is_not(rows):
    assert rows["ig:spike"]["is_growth_anomaly"] is True
    assert rows["ig:steady"]["is_growth_anomaly"] is False
    assert rows["ig:new"]["is_growth_anomaly"] is False  # one change: too little history to judge


def test_rolling_rates(rows):
    steady = rows["ig:steady"]
    # Trailing 30 days = posted 0…29 days ago; stories and the post of 30 days ago are out.
    assert steady["posts_30d"] == 4
    assert steady["er_30d_mean"] == pytest.approx((0.05 + 0.03 + 0.04 + 0.02) / 4)
    assert steady["er_last12_median"] == pytest.approx(median([0.05, 0.03, 0.04, 0.02, 0.9, 0.01]))
    assert steady["posts_published"] == 1 and rows["ig:spike"]["posts_published"] == 1
    assert steady["er_benchmark"] == "target"
    spike = rows["ig:spike"]
    assert spike["er_last12_median"] == pytest.approx(median([0.01 * d for d in range(1, 13)]))


def test_er_collapse_after_a_recent_spike(rows):
    # ig:steady spiked 5 days ago at er 0.2 and now averages 0.035 (< 0.5 × 0.2); ig:spike's spike is 40 days old.
    assert rows["ig:steady"]["is_er_collapse"] is True
    assert rows["ig:spike"]["is_er_collapse"] is False and rows["ig:new"]["is_er_collapse"] is False


def test_shrinkage_pulls_toward_the_platform_tier_median(rows):
    steady, spike = rows["ig:steady"], rows["ig:spike"]
    prior = median([steady["er_30d_mean"], spike["er_30d_mean"]])  # both instagram micro
    k = RULES.engagement.shrink_prior_posts
    assert steady["er_30d_shrunk"] == pytest.approx((4 * steady["er_30d_mean"] + k * prior) / (4 + k))
    assert rows["ig:new"]["er_30d_shrunk"] == pytest.approx(prior)  # no posts: the prior itself


def test_output_is_exactly_what_the_contracts_say(rows):
    from influence_pipeline.schemas.contract import load_contracts
    from influence_pipeline.transforms.marts.engagement import build_fct_post_engagement
    from tests.test_contracts import _logical

    empty_posts = pl.LazyFrame(schema={"account_id": pl.String, "posted_at": pl.Datetime("us", "UTC"),
                                       "posted_date": pl.Date, "er_followers": pl.Float64, "is_story": pl.Boolean})
    accounts = pl.LazyFrame(_days("ig:a", "instagram", [10, 11]))
    previous = pl.LazyFrame(schema={"account_id": pl.String, "metric_date": pl.Date, "is_growth_anomaly": pl.Boolean,
                                    "er_30d_mean": pl.Float64})
    daily = build_fct_account_daily(accounts, empty_posts, previous, D, RULES.tiers, RULES.engagement).collect_schema()
    contract = load_contracts()["fct_account_daily"]
    assert {n: _logical(t) for n, t in daily.items()} == {p.name: p.logical_type for p in contract.properties}
    assert list(daily.names()) == [p.name for p in contract.properties]
    from tests.test_engagement import _snapshot

    posts = build_fct_post_engagement(
        pl.LazyFrame([_snapshot("ig:x", "ig:a", 5, 6, likes=1)], schema_overrides={
            c: pl.Int64 for c in ("comments", "shares", "saves", "views", "impressions", "reach", "replies", "link_clicks")}),
        pl.LazyFrame(schema={
            "account_id": pl.String, "snapshot_date": pl.Date, "followers": pl.Int64, "landing_date": pl.Date}),
        pl.LazyFrame({"account_id": ["ig:a"], "influencer_id": ["INF-1"]}),
        pl.LazyFrame(schema={"campaign_id": pl.String, "influencer_id": pl.String, "start_date": pl.Date,
                             "end_date": pl.Date}), D, RULES.emv).collect_schema()
    contract = load_contracts()["fct_post_engagement"]
    assert {n: _logical(t) for n, t in posts.items()} == {p.name: p.logical_type for p in contract.properties}
    assert list(posts.names()) == [p.name for p in contract.properties]
