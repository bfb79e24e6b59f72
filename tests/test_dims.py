"""Dimensions: niche from the roster, else from captions, else unknown; current followers and tier."""
import polars as pl

from influence.rules import load_rules
from transforms.marts.dims import build_dim_account, build_dim_influencer, infer_niche

NICHES = load_rules().niches


def test_niche_is_inferred_from_words_and_hashtags_with_most_hits():
    captions = pl.LazyFrame({"account_id": ["a", "a", "a", "b", "c"],
                             "caption": ["Leg day at the #gym", "new serum glow", "morning yoga", "best #coffee", "hello"]})
    got = dict(infer_niche(captions, NICHES).collect().iter_rows())
    assert got == {"a": "fitness", "b": "food"}  # fitness 2 hits beats beauty 1; c has no keyword


def test_dim_account_prefers_the_roster_niche_then_captions_then_unknown():
    accounts = pl.LazyFrame({"account_id": ["a", "b", "c"], "influencer_id": ["I1", "I1", "I2"],
                             "platform": ["instagram", "tiktok", "youtube"], "handle": ["x", "y", "z"],
                             "niche": ["Skincare ", None, "astrology"], "declared_followers": [1, 2, 3]})
    daily = pl.LazyFrame({"account_id": ["a", "b"], "followers": [12_000, 800], "tier": ["micro", "sub_nano"],
                          "er_30d_mean": [0.04, None], "er_benchmark": ["target", None]})
    captions = pl.LazyFrame({"account_id": ["b", "c"], "caption": ["#gaming stream tonight", "no keywords"]})
    dim = {r["account_id"]: r for r in build_dim_account(accounts, daily, captions, NICHES).collect().to_dicts()}
    assert (dim["a"]["niche"], dim["a"]["niche_source"]) == ("beauty", "roster")
    assert (dim["b"]["niche"], dim["b"]["niche_source"]) == ("gaming", "captions")
    assert (dim["c"]["niche"], dim["c"]["niche_source"], dim["c"]["roster_niche"]) == ("unknown", "none", "astrology")
    assert (dim["a"]["followers"], dim["a"]["tier"]) == (12_000, "micro")
    influencers = pl.LazyFrame({"influencer_id": ["I1", "I2"], "full_name": ["A", "B"], "country_code": ["US", "GB"],
                                "signed_date": [None, None]}, schema_overrides={"signed_date": pl.Date})
    people = {r["influencer_id"]: r for r in build_dim_influencer(
        influencers, build_dim_account(accounts, daily, captions, NICHES)).collect().to_dicts()}
    assert (people["I1"]["accounts"], people["I1"]["total_followers"], people["I1"]["main_platform"]) == (
        2, 12_800, "instagram")
