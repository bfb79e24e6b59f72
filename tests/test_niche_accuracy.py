"""Niche inference measured on a labelled set (tests/fixtures/niche/README.md): precision = correct / accounts given a
niche, coverage = accounts given a niche / all accounts. The numbers are printed (pytest -s) for the record."""
import csv
import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from influence_pipeline.rules_file import load_rules
from influence_pipeline.transforms.marts.dims import UNKNOWN_NICHE, build_dim_account
from influence_pipeline.transforms.marts.niche import classify_captions, map_roster_niches

FIXTURES = Path(__file__).parent / "fixtures" / "niche"
RULES = load_rules()
AS_OF = date(2026, 11, 10)
ACCOUNTS = json.loads((FIXTURES / "accounts.json").read_text())
# Floors a little under the measured numbers, so a change to the rules that makes them worse fails here.
MIN_PRECISION = {"all": 0.95, "dev": 0.9, "holdout": 0.9, "c": 0.9, "d": 0.9}
MIN_COVERAGE = {"all": 0.65, "dev": 0.6, "holdout": 0.75, "c": 0.7, "d": 0.4}


def _inferred(accounts: list[dict], with_roster: bool) -> dict[str, str]:
    """The production path on the labelled accounts: captions → fct_post_engagement.post_niche → dim_account."""
    posts = pl.LazyFrame([{"post_id": f"{a['account_id']}:{i}", "account_id": a["account_id"], "caption": caption,
                           "posted_date": AS_OF - timedelta(days=7 * i)}
                          for a in accounts for i, caption in enumerate(a["captions"])])
    fct = posts.join(classify_captions(posts.select("post_id", "caption"), RULES.niches), on="post_id", how="left")
    roster = pl.LazyFrame([{"account_id": a["account_id"], "influencer_id": "I", "platform": a["platform"],
                            "handle": a["account_id"], "niche": a["roster_label"] if with_roster else None,
                            "declared_followers": None} for a in accounts],
                          schema={"account_id": pl.String, "influencer_id": pl.String, "platform": pl.String,
                                  "handle": pl.String, "niche": pl.String, "declared_followers": pl.Int64})
    daily = pl.LazyFrame(schema={"account_id": pl.String, "followers": pl.Int64, "tier": pl.String,
                                 "er_30d_mean": pl.Float64, "er_benchmark": pl.String})
    previous = pl.LazyFrame(schema={"account_id": pl.String, "niche": pl.String, "niche_source": pl.String})
    out = build_dim_account(roster, daily, fct, previous, AS_OF, RULES.niches, RULES.tiers).collect()
    return dict(out.select("account_id", "niche").iter_rows())


def _measure(accounts: list[dict], inferred: dict[str, str]) -> tuple[float, float, int, int]:
    labelled = [a for a in accounts if inferred[a["account_id"]] != UNKNOWN_NICHE]
    correct = sum(inferred[a["account_id"]] == a["niche"] for a in labelled)
    return correct / len(labelled), len(labelled) / len(accounts), correct, len(labelled)


@pytest.fixture(scope="module")
def results() -> dict[tuple[str, bool], tuple[float, float, int, int]]:
    out = {}
    for with_roster in (True, False):
        inferred = _inferred(ACCOUNTS, with_roster)
        for name in ("all", "dev", "holdout", "c", "d"):
            subset = [a for a in ACCOUNTS if name in ("all", a["set"])]
            out[name, with_roster] = _measure(subset, inferred)
    for (name, with_roster), (precision, coverage, correct, labelled) in out.items():
        print(f"niche accuracy {name:8} {'roster+captions' if with_roster else 'captions only':16} "
              f"precision {precision:.3f} ({correct}/{labelled})  coverage {coverage:.3f}")
    return out


def test_the_labelled_set_is_large_and_covers_every_niche():
    assert len(ACCOUNTS) >= 200 and {a["niche"] for a in ACCOUNTS} == set(RULES.niches.keywords)


@pytest.mark.parametrize("name", ["all", "dev", "holdout", "c", "d"])
def test_precision_and_coverage_stay_above_their_floors(results, name):
    precision, coverage, _, _ = results[name, True]
    assert precision >= MIN_PRECISION[name] and coverage >= MIN_COVERAGE[name]
    captions_precision, captions_coverage, _, _ = results[name, False]
    assert captions_precision >= 0.9 and captions_coverage <= coverage  # roster labels only ever add coverage


def test_every_platform_category_maps_to_its_niche_or_to_none():
    rows = list(csv.DictReader((FIXTURES / "roster_labels.csv").open()))
    frame = pl.LazyFrame({"account_id": [str(i) for i in range(len(rows))], "niche": [r["label"] for r in rows]})
    got = dict(map_roster_niches(frame, RULES.niches).collect().iter_rows())
    wrong = [(r["label"], r["expected_niche"], got.get(str(i))) for i, r in enumerate(rows)
             if got.get(str(i)) != (r["expected_niche"] or None)]
    mapped = sum(1 for r in rows if r["expected_niche"])
    print(f"roster labels: {mapped} of {len(rows)} map to a niche, {len(rows) - mapped} generic, {len(wrong)} wrong")
    assert wrong == []
