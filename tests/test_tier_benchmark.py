"""mart_tier_benchmark on a tiny month, computed by hand."""
from datetime import date

import polars as pl
import pytest

from influence_pipeline.transforms.marts.benchmark import build_mart_tier_benchmark


def test_benchmark_counts_each_account_once_at_its_latest_day():
    rows = [  # account, day, tier, er, followers, posts
        ("a", 1, "nano", 0.02, 4_900, 1), ("a", 10, "micro", 0.04, 5_100, 2),  # moved up: counts as micro
        ("b", 3, "micro", 0.06, 10_000, 1), ("b", 10, "micro", 0.05, 11_000, 0),
        ("c", 10, "micro", None, 20_000, 0),
        ("d", 10, "macro", 0.01, 60_000, 3),
        ("z", 30, "micro", 0.5, 9_000, 9),  # October 31st: another month
    ]
    daily = pl.LazyFrame([{"account_id": a, "platform": "instagram", "metric_date": date(2026, 11, d) if d < 30 else
                           date(2026, 10, 31), "tier": t, "er_30d_mean": er, "followers": f, "posts_published": p}
                          for a, d, t, er, f, p in rows])
    dims = pl.LazyFrame({"account_id": ["a", "b", "c", "d"], "niche": ["beauty", "beauty", "beauty", "beauty"]})
    out = {r["tier"]: r for r in build_mart_tier_benchmark(daily, dims, date(2026, 11, 10), 0.03).collect().to_dicts()}
    micro = out["micro"]
    assert (micro["accounts"], micro["posts"], micro["accounts_with_er"]) == (3, 4, 2)
    assert micro["er_median"] == pytest.approx(0.045)
    assert (micro["er_p25"], micro["er_p75"]) == (pytest.approx(0.0425), pytest.approx(0.0475))
    assert micro["share_meeting_target"] == pytest.approx(1.0)
    assert micro["median_follower_growth"] == pytest.approx(median_of([200 / 4_900, 0.1, 0.0]))
    assert out["macro"]["share_meeting_target"] == 0.0
    assert micro["month_start_date"] == date(2026, 11, 1) and "nano" not in out


def median_of(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def test_output_is_exactly_what_the_contract_says():
    from influence_pipeline.schemas.contract import load_contracts
    from tests.test_contracts import _logical

    daily = pl.LazyFrame(schema={"account_id": pl.String, "platform": pl.String, "metric_date": pl.Date,
                                 "tier": pl.String, "er_30d_mean": pl.Float64, "followers": pl.Int64,
                                 "posts_published": pl.Int64})
    dims = pl.LazyFrame(schema={"account_id": pl.String, "niche": pl.String})
    schema = build_mart_tier_benchmark(daily, dims, date(2026, 11, 10), 0.03).collect_schema()
    contract = load_contracts()["mart_tier_benchmark"]
    assert list(schema.names()) == [p.name for p in contract.properties]
    assert {n: _logical(t) for n, t in schema.items()} == {p.name: p.logical_type for p in contract.properties}
