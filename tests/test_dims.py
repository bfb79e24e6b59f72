"""Dimensions: niche from the roster, else from the account's classified posts, else unknown; followers and tier
from the platform, else from the roster's declared followers."""
from datetime import date, timedelta

import polars as pl

from influence_pipeline.rules_file import load_rules
from influence_pipeline.schemas.contract import load_contracts
from influence_pipeline.transforms.marts.dims import build_dim_account, build_dim_influencer
from tests.test_contracts import _logical

RULES = load_rules()
AS_OF = date(2026, 11, 10)
NO_PREVIOUS = pl.LazyFrame(schema={"account_id": pl.String, "niche": pl.String, "niche_source": pl.String})
DAILY_SCHEMA = {"account_id": pl.String, "followers": pl.Int64, "tier": pl.String, "er_30d_mean": pl.Float64,
                "er_benchmark": pl.String}


def accounts(*rows: tuple) -> pl.LazyFrame:
    """(account_id, roster niche, declared followers) → stg_social_accounts rows."""
    return pl.LazyFrame([{"account_id": a, "influencer_id": "I1", "platform": "instagram", "handle": a, "niche": niche,
                          "declared_followers": declared} for a, niche, declared in rows],
                        schema={"account_id": pl.String, "influencer_id": pl.String, "platform": pl.String,
                                "handle": pl.String, "niche": pl.String, "declared_followers": pl.Int64})


def posts(*rows: tuple) -> pl.LazyFrame:
    """(account_id, post_niche, how many posts, days before AS_OF) → fct_post_engagement rows, one post per day."""
    out = [{"post_id": f"{a}:{niche}:{days + i}", "account_id": a, "post_niche": niche,
            "posted_date": AS_OF - timedelta(days=days + i)} for a, niche, n, days in rows for i in range(n)]
    return pl.LazyFrame(out, schema={"post_id": pl.String, "account_id": pl.String, "post_niche": pl.String,
                                     "posted_date": pl.Date})


def dim(roster, fct, daily=None, previous=NO_PREVIOUS) -> dict[str, dict]:
    daily = pl.LazyFrame(daily or [], schema=DAILY_SCHEMA)
    out = build_dim_account(roster, daily, fct, previous, AS_OF, RULES.niches, RULES.tiers).collect()
    return {r["account_id"]: r for r in out.to_dicts()}


def test_roster_niche_wins_then_captions_then_unknown():
    got = dim(accounts(("a", "Skincare ", 1), ("b", None, 2), ("c", "astrology", 3), ("d", "Digital creator", 4)),
              posts(("b", "gaming", 3, 0), ("c", "food", 2, 0), ("d", "tech", 4, 0), ("d", "beauty", 1, 0)))
    assert (got["a"]["niche"], got["a"]["niche_source"], got["a"]["roster_niche"]) == ("beauty", "roster", "Skincare ")
    assert (got["b"]["niche"], got["b"]["niche_source"], got["b"]["niche_posts"]) == ("gaming", "captions", 3)
    assert (got["c"]["niche"], got["c"]["niche_source"], got["c"]["niche_confidence"]) == ("unknown", "none", None)
    assert (got["d"]["niche"], got["d"]["niche_confidence"]) == ("tech", 0.8)  # a generic label: captions decide


def test_a_broad_roster_niche_is_refined_by_captions_and_kept_without_evidence():
    got = dim(accounts(("a", "Howto & Style", 1), ("b", "Howto & Style", 1)), posts(("a", "beauty", 3, 0)))
    assert (got["a"]["niche"], got["a"]["niche_source"]) == ("beauty", "captions")
    assert (got["b"]["niche"], got["b"]["niche_source"], got["b"]["niche_posts"]) == ("lifestyle", "roster", 0)


def test_confidence_is_the_share_of_classified_posts_backing_the_niche_whatever_its_source():
    got = dim(accounts(("a", "Science & Technology", 1)), posts(("a", "tech", 1, 0), ("a", "gaming", 3, 5)))
    assert (got["a"]["niche"], got["a"]["niche_source"], got["a"]["niche_posts"]) == ("tech", "roster", 1)
    assert got["a"]["niche_confidence"] == 0.25


def test_tier_comes_from_the_platform_else_from_declared_followers():
    got = dim(accounts(("a", None, 900), ("b", None, 60_000), ("c", None, None)), posts(),
              daily=[{"account_id": "a", "followers": 12_000, "tier": "micro", "er_30d_mean": 0.04,
                      "er_benchmark": "target"}])
    assert (got["a"]["followers"], got["a"]["tier"], got["a"]["tier_source"]) == (12_000, "micro", "platform")
    assert (got["b"]["followers"], got["b"]["tier"], got["b"]["tier_source"]) == (None, "macro", "roster")
    assert (got["c"]["tier"], got["c"]["tier_source"]) == (None, None)


def test_dim_account_is_exactly_what_its_contract_says():
    schema = build_dim_account(accounts(("a", None, 1)), pl.LazyFrame(schema=DAILY_SCHEMA), posts(), NO_PREVIOUS,
                               AS_OF, RULES.niches, RULES.tiers).collect_schema()
    contract = load_contracts()["dim_account"]
    assert [(n, _logical(t)) for n, t in schema.items()] == [(p.name, p.logical_type) for p in contract.properties]


def test_dim_influencer_sums_its_accounts():
    roster = pl.LazyFrame({"account_id": ["a", "b", "c"], "influencer_id": ["I1", "I1", "I2"],
                           "platform": ["instagram", "tiktok", "youtube"], "handle": ["x", "y", "z"],
                           "niche": [None, None, None], "declared_followers": [1, 2, 3]},
                          schema_overrides={"niche": pl.String})
    daily = [{"account_id": "a", "followers": 12_000, "tier": "micro", "er_30d_mean": 0.04, "er_benchmark": "target"},
             {"account_id": "b", "followers": 800, "tier": "sub_nano", "er_30d_mean": None, "er_benchmark": None}]
    dim_account = build_dim_account(roster, pl.LazyFrame(daily, schema=DAILY_SCHEMA), posts(), NO_PREVIOUS, AS_OF,
                                    RULES.niches, RULES.tiers)
    influencers = pl.LazyFrame({"influencer_id": ["I1", "I2"], "full_name": ["A", "B"], "country_code": ["US", "GB"],
                                "signed_date": [None, None]}, schema_overrides={"signed_date": pl.Date})
    people = {r["influencer_id"]: r for r in build_dim_influencer(influencers, dim_account).collect().to_dicts()}
    assert (people["I1"]["accounts"], people["I1"]["total_followers"], people["I1"]["main_platform"]) == (
        2, 12_800, "instagram")
    assert people["I2"]["accounts"] == 1


def test_dim_account_says_whose_credentials_its_latest_pull_used():
    """The latest snapshot that says wins; a delivered file in between (null) does not erase it; never pulled: null."""
    stamp = pl.Datetime("us", "UTC")
    snapshots = pl.LazyFrame(
        [{"account_id": "a", "snapshot_date": AS_OF - timedelta(days=2), "fetched_at": None, "metrics_access": "public"},
         {"account_id": "a", "snapshot_date": AS_OF - timedelta(days=1), "fetched_at": None, "metrics_access": "creator"},
         {"account_id": "a", "snapshot_date": AS_OF, "fetched_at": None, "metrics_access": None},
         {"account_id": "b", "snapshot_date": AS_OF, "fetched_at": None, "metrics_access": "public"},
         {"account_id": "c", "snapshot_date": AS_OF, "fetched_at": None, "metrics_access": None}],
        schema={"account_id": pl.String, "snapshot_date": pl.Date, "fetched_at": stamp, "metrics_access": pl.String})
    roster = accounts(("a", None, 1), ("b", None, 1), ("c", None, 1), ("d", None, 1))
    out = build_dim_account(roster, pl.LazyFrame(schema=DAILY_SCHEMA), posts(), NO_PREVIOUS, AS_OF, RULES.niches,
                            RULES.tiers, snapshots=snapshots).collect()
    assert dict(out.select("account_id", "metrics_access").iter_rows()) == {
        "a": "creator", "b": "public", "c": None, "d": None}
