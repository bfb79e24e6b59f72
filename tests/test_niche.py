"""Niche inference: posts classified by their captions, accounts by their distinct posts over the window, labels
kept from night to night unless the evidence clearly turns, roster labels mapped through synonyms."""
from datetime import date, timedelta

import polars as pl
import pytest
from pydantic import ValidationError

from influence_pipeline.rules_file import load_rules
from influence_pipeline.transforms.business_rules import Niches
from influence_pipeline.transforms.marts.engagement import build_fct_post_engagement
from influence_pipeline.transforms.marts.niche import classify_captions, map_roster_niches
from tests.test_dims import AS_OF, NO_PREVIOUS, accounts, dim, posts

RULES = load_rules()


def classify(*captions: str) -> list[str | None]:
    frame = pl.LazyFrame({"post_id": [str(i) for i in range(len(captions))], "caption": list(captions)})
    got = dict(classify_captions(frame, RULES.niches).collect().iter_rows())
    return [got.get(str(i)) for i in range(len(captions))]


@pytest.mark.parametrize(("caption", "niche"), [
    ("Just deployed my new model 🚀\n#Python #MachineLearning #DataScience", "tech"),
    ("#techreview of the new phone", "tech"),  # a glued hashtag starting with a keyword
    ("GRWM ✨ #skincareroutine", "beauty"),
    ("Movie review: Dune Part Two — worth the hype? 🎬", "entertainment"),  # "review" alone says nothing
    ("Leg day done 🦵\n4x8 squats", "fitness"),
    ("Fútbol en el parque ⚽ #FUTBOL", "sports"),  # accents and case folded
    ("Receta fácil: tacos al pastor 🌮", "food"),
    ("#techno all night in Berlin", "music"),  # the longest keyword in a hashtag wins
    ("running late again lol", None),  # one generic word is not enough
    ("use code SARAH10 for 10% off @gymshark", None),  # mentions name someone else's topic
    ("Happy Friday!! 💕", None),
    ("", None),
])
def test_a_post_points_to_a_niche_only_on_clear_evidence(caption, niche):
    assert classify(caption) == [niche]


def test_a_caption_pointing_to_two_niches_equally_says_nothing():
    assert classify("new lipstick and a new laptop") == [None]


def _captions_frame(account: str, captions: list[str]) -> pl.LazyFrame:
    return pl.LazyFrame({"post_id": [f"{account}:{i}" for i in range(len(captions))], "account_id": account,
                         "caption": captions, "posted_date": [AS_OF - timedelta(days=3 * i) for i in range(len(captions))]})


def _account_niche(account: str, captions: list[str], label: str | None = None) -> dict:
    frame = _captions_frame(account, captions)
    fct = frame.join(classify_captions(frame.select("post_id", "caption"), RULES.niches), on="post_id", how="left")
    return dim(accounts((account, label, None)), fct)[account]


def test_a_data_science_account_with_two_incidental_fitness_words_is_tech():
    captions = [
        "Just deployed my new model 🚀 #python #machinelearning #datascience",
        "Pandas vs Polars on a 10GB CSV — results surprised me 📊 #datascience #python",
        "How I'd learn data science from zero 🧠 #python #ai #machinelearning",
        "Feature engineering tricks nobody tells you #machinelearning #datascience",
        "gym before work, code after 💪",
        "Running late to standup again 😅 #workout",
        "Kaggle notebook walkthrough #python #datascience",
    ]
    got = _account_niche("ig:ds", captions)
    assert (got["niche"], got["niche_source"]) == ("tech", "captions")
    assert got["niche_posts"] == 5 and got["niche_confidence"] == pytest.approx(5 / 7)  # both gym posts count


def test_a_movie_review_channel_is_entertainment_from_its_label_and_from_its_titles():
    titles = ["Dune: Part Three - Movie Review", "Top 10 Movies of 2025", "Every Pixar Film Ranked (Review)",
              "Reviewing Your Worst Rated Films", "Is Marvel Finally Back? Review"]
    assert _account_niche("yt:mr", titles)["niche"] == "entertainment"
    labelled = _account_niche("yt:mr", ["new video!"], label="Movie Review")
    assert (labelled["niche"], labelled["niche_source"]) == ("entertainment", "roster")


def test_an_account_needs_min_posts_distinct_classified_posts():
    assert RULES.niches.min_posts == 3
    assert dim(accounts(("a", None, None)), posts(("a", "tech", 2, 0)))["a"]["niche"] == "unknown"
    assert dim(accounts(("a", None, None)), posts(("a", "tech", 3, 0)))["a"]["niche"] == "tech"
    # Posts older than the window, and the same post seen in two partitions, are no evidence.
    old = posts(("a", "tech", 2, 0), ("a", "tech", 5, RULES.niches.window_days))
    assert dim(accounts(("a", None, None)), old)["a"]["niche"] == "unknown"
    twice = pl.concat([posts(("a", "tech", 2, 0)), posts(("a", "tech", 1, 0))])
    assert dim(accounts(("a", None, None)), twice)["a"]["niche_posts"] is None


def _previous(niche: str, source: str = "captions") -> pl.LazyFrame:
    return pl.LazyFrame({"account_id": ["a"], "niche": [niche], "niche_source": [source]})


def test_yesterdays_niche_stays_until_another_has_switch_ratio_times_its_posts():
    roster = accounts(("a", None, None))
    two_new_fitness = posts(("a", "tech", 10, 2), ("a", "fitness", 2, 0))
    assert dim(roster, two_new_fitness, previous=_previous("tech"))["a"]["niche"] == "tech"
    fitness_leads = posts(("a", "tech", 4, 10), ("a", "fitness", 5, 0))  # 5 < 1.5 × 4
    stays = dim(roster, fitness_leads, previous=_previous("tech"))["a"]
    assert (stays["niche"], stays["niche_posts"], stays["niche_confidence"]) == ("tech", 4, pytest.approx(4 / 9))
    assert dim(roster, fitness_leads)["a"]["niche"] == "fitness"  # a first night follows the evidence
    fitness_wins = posts(("a", "tech", 4, 10), ("a", "fitness", 6, 0))  # 6 ≥ 1.5 × 4
    assert dim(roster, fitness_wins, previous=_previous("tech"))["a"]["niche"] == "fitness"
    assert dim(roster, posts(), previous=_previous("tech"))["a"]["niche"] == "tech"  # no evidence: kept
    # Only yesterday's caption niche is sticky: a roster niche dropped from the roster is not.
    assert dim(roster, fitness_leads, previous=_previous("tech", "roster"))["a"]["niche"] == "fitness"


def test_ties_go_to_the_niche_posted_most_recently_then_by_name():
    roster = accounts(("a", None, None), ("b", None, None))
    fct = posts(("a", "fashion", 3, 0), ("a", "beauty", 3, 1), ("b", "fashion", 3, 0), ("b", "beauty", 3, 0))
    got = dim(roster, fct, previous=NO_PREVIOUS)
    assert (got["a"]["niche"], got["b"]["niche"]) == ("fashion", "beauty")


def test_roster_labels_are_normalised_and_mapped_through_synonyms():
    labels = ["Science & Technology", "Howto & Style", "How-to & Style", "Travel & Events", "Film & Animation",
              "Digital creator", "People & Blogs", "Health/beauty", "Musician/band", "Fitness Trainer", "Movie Review",
              "  MUSIC ", "Fútbol", "astrology", "", None]
    frame = pl.LazyFrame({"account_id": [str(i) for i in range(len(labels))], "niche": labels},
                         schema={"account_id": pl.String, "niche": pl.String})
    got = dict(map_roster_niches(frame, RULES.niches).collect().iter_rows())
    assert [got.get(str(i), "absent") for i in range(len(labels))] == [
        "tech", "lifestyle", "lifestyle", "travel", "entertainment", None, None, "beauty", "music", "fitness",
        "entertainment", "music", "sports", None, "absent", "absent"]


def test_fct_post_engagement_carries_the_post_niche():
    from tests.test_engagement import _snapshot

    rows = [dict(_snapshot("ig:p1", "ig:a", 5, 6, likes=1), caption="Sourdough day 🍞 #baking"),
            dict(_snapshot("ig:p2", "ig:a", 6, 7, likes=1), caption="see you tomorrow"),
            dict(_snapshot("ig:p3", "ig:a", 7, 8, likes=1), caption=None)]
    snapshots = pl.LazyFrame(rows, schema_overrides={c: pl.Int64 for c in (
        "comments", "shares", "saves", "views", "impressions", "reach", "replies", "link_clicks")})
    args = (snapshots, pl.LazyFrame(schema={"account_id": pl.String, "snapshot_date": pl.Date, "followers": pl.Int64,
                                            "landing_date": pl.Date}),
            pl.LazyFrame({"account_id": ["ig:a"], "influencer_id": ["INF-1"]}),
            pl.LazyFrame(schema={"campaign_id": pl.String, "influencer_id": pl.String, "start_date": pl.Date,
                                 "end_date": pl.Date}), date(2026, 11, 10), RULES.emv)
    got = dict(build_fct_post_engagement(*args, niches=RULES.niches).select("post_id", "post_niche").collect().iter_rows())
    assert got == {"ig:p1": "food", "ig:p2": None, "ig:p3": None}
    without = build_fct_post_engagement(*args).collect()
    assert without["post_niche"].null_count() == 3 and without.schema["post_niche"] == pl.String


def _niches(**changes) -> dict:
    data = RULES.niches.model_dump()
    data.update(changes)
    return data


@pytest.mark.parametrize("bad", [
    {"neutral": ["lipstick"]},  # already a beauty keyword
    {"broad": ["astrology"]},  # no such niche
    {"synonyms": {"science technology": "science"}},
    {"synonyms": {"Science & Technology": "tech"}},  # keys are written normalised
    {"neutral": ["a day in my life"]},  # phrases have at most 4 words
    {"neutral": ["Fútbol"]},
    {"switch_ratio": 0.5},
])
def test_the_niche_rules_are_strict(bad):
    with pytest.raises(ValidationError):
        Niches.model_validate(_niches(**bad))


def test_classification_is_the_same_whatever_the_row_order():
    captions = ["#gaming stream tonight", "new lipstick and a new laptop", "Leg day 🦵", "Cozy games for a rainy day"]
    frame = pl.DataFrame({"post_id": [str(i) for i in range(4)], "caption": captions})
    first = classify_captions(frame.lazy(), RULES.niches).collect().sort("post_id")
    second = classify_captions(frame.reverse().lazy(), RULES.niches).collect().sort("post_id")
    assert first.equals(second) and first.height == 2


def test_many_captions_classify_as_their_few_distinct_texts_do():
    # Classification works on the distinct vocabulary; every copy of a caption must get the same niche as the first.
    base = ["Leg day done 🦵 #legday #gymlife", "15-minute pasta 🍝 recipe below", "new video is up!",
            "Unboxing the new #iPhone16 📱", "Sunday reset 🕯️ #sundayreset"]
    frame = pl.LazyFrame({"post_id": [str(i) for i in range(50_000)],
                          "caption": [f"{base[i % 5]} {i % 97}" for i in range(50_000)]})
    got = classify_captions(frame, RULES.niches).collect()
    single = classify_captions(pl.LazyFrame({"post_id": [str(i) for i in range(5)], "caption": base}),
                               RULES.niches).collect()
    assert got.height == 40_000 and single.height == 4
    per_base = got.with_columns(base=pl.col("post_id").cast(pl.Int64) % 5).group_by("base", "post_niche").len()
    assert sorted(per_base.select("base", "post_niche").rows()) == sorted(
        single.with_columns(base=pl.col("post_id").cast(pl.Int64)).select("base", "post_niche").rows())
    assert per_base["len"].to_list() == [10_000] * 4
