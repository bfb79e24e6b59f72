"""build_nonconverting_paths: the month's non-converting paths, counted, equal to the plain definition (each browser's
visits in order of start and visit id, one path per browser that never converted) on tricky months."""
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from influence_pipeline.transforms.attribution.channels import (
    _HASHED,
    LEVELS,
    _counted_paths,
    _keyed,
    _step_texts,
    build_nonconverting_paths,
)

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _by_definition(visits: pl.DataFrame) -> pl.DataFrame:
    """One path string per browser, then counted: the definition, without the integer codes."""
    per_browser = (visits.sort("anonymous_id", "visit_started_at", "visit_id")
                   .group_by("anonymous_id", maintain_order=True)
                   .agg(converted=(pl.col("has_signup") | pl.col("has_checkout")).any(),
                        channel_path=LEVELS["channel"], touch_path=LEVELS["influencer_campaign"])
                   .filter(~pl.col("converted"))
                   .select(pl.col("channel_path", "touch_path").list.join(" > ")))
    return per_browser.group_by("channel_path", "touch_path").agg(browsers=pl.len().cast(pl.UInt32))


def _visit(visit_id, browser, minute, channel=None, influencer=None, campaign=None, signup=False, checkout=False):
    return {"visit_id": visit_id, "anonymous_id": browser, "visit_started_at": T0 + timedelta(minutes=minute),
            "channel": channel, "influencer_id": influencer, "campaign_id": campaign, "has_signup": signup,
            "has_checkout": checkout}


def _frame(rows) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"visit_id": pl.String, "anonymous_id": pl.String,
                                      "visit_started_at": pl.Datetime("us", "UTC"), "channel": pl.String,
                                      "influencer_id": pl.String, "campaign_id": pl.String,
                                      "has_signup": pl.Boolean, "has_checkout": pl.Boolean})


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select("channel_path", "touch_path", "browsers").sort("channel_path", "touch_path")


def test_paths_are_counted_per_browser_in_order_and_converters_left_out():
    visits = _frame([
        _visit("v2", "b1", 30, "influencer", "INF-1", "CMP-1"), _visit("v1", "b1", 0),  # arrives out of order
        _visit("v3", "b2", 5), _visit("v4", "b2", 40, "influencer", "INF-1", "CMP-1"),
        _visit("v5", "b3", 0, "email"), _visit("v6", "b3", 9, "influencer", "INF-2", "CMP-2", checkout=True),
        _visit("v7", "b4", 0), _visit("v8", "b4", 50, "influencer", "INF-1", "CMP-1"),
    ])
    assert _sorted(build_nonconverting_paths(visits.lazy())).to_dicts() == [
        {"channel_path": "none > influencer", "touch_path": "none > influencer:INF-1:CMP-1", "browsers": 3}]


def test_visits_of_one_browser_starting_at_the_same_instant_are_ordered_by_visit_id():
    visits = _frame([_visit("v-b", "b1", 0, "influencer", "INF-1", "CMP-1"), _visit("v-a", "b1", 0, "email"),
                     _visit("v-c", "b2", 0, "email")])
    assert _sorted(build_nonconverting_paths(visits.lazy())).to_dicts() == [
        {"channel_path": "email", "touch_path": "email::", "browsers": 1},
        {"channel_path": "email > influencer", "touch_path": "email:: > influencer:INF-1:CMP-1", "browsers": 1}]


def test_a_month_without_visits_has_no_paths():
    assert build_nonconverting_paths(_frame([]).lazy()).height == 0


def _random_month(seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = 3000
    channels = [None, "influencer", "email", "paid_social", "organic"]
    rows = [_visit(f"v{i:05d}", f"b{rng.integers(0, 700):04d}", int(rng.integers(0, 400)),  # ties on purpose
                   channels[rng.integers(0, 5)], rng.choice([None, "INF-1", "INF-2", "INF-3"]),
                   rng.choice([None, "CMP-1", "CMP-2"]), bool(rng.random() < 0.03), bool(rng.random() < 0.03))
            for i in range(n)]
    return _frame(rows)


@pytest.mark.parametrize("seed", range(6))
def test_equal_to_the_definition_on_random_months(seed):
    visits = _random_month(seed)
    got = _sorted(build_nonconverting_paths(visits.lazy()))
    assert got.equals(_sorted(_by_definition(visits)))
    assert got["browsers"].sum() == _by_definition(visits)["browsers"].sum() > 0


@pytest.mark.parametrize("seed", range(2))
def test_browsers_sharing_a_key_are_counted_apart(seed):
    """The browser key is a hash; were two browsers to share it, the month is counted on the exact key. Forced here
    with a key every browser shares (the length of its id)."""
    visits = _random_month(seed)
    got = _sorted(_counted_paths(visits.lazy(), pl.col("anonymous_id").str.len_bytes()))
    assert got.equals(_sorted(_by_definition(visits)))


def _read_day_by_day(visits: pl.DataFrame) -> pl.DataFrame:
    """The month as the flow reads it: each day's partition in turn, sorted by browser and start (its visit ids)."""
    return visits.sort(pl.col("visit_started_at").dt.date(), "anonymous_id", "visit_started_at")


@pytest.mark.parametrize("seed", range(3))
def test_a_month_read_day_by_day_and_one_read_with_a_day_out_of_place(seed):
    """The month in the order the lake gives it (each browser's visits already in time order), and the same month
    with its first day read last, as a backfill of that day reads it: both equal to the definition."""
    row = pl.int_range(pl.len())
    visits = _random_month(seed).with_columns(  # over some six days, no two visits of one browser at the same instant
        pl.col("visit_started_at") + pl.duration(hours=row * 7 % 120, microseconds=row))
    in_order = _read_day_by_day(visits)
    first_day = pl.col("visit_started_at").dt.date() == in_order["visit_started_at"].dt.date().min()
    backfill = pl.concat([in_order.filter(~first_day), in_order.filter(first_day)])
    expected = _sorted(_by_definition(visits))
    assert in_order["visit_started_at"].dt.date().n_unique() >= 5 and not backfill.equals(in_order)
    for month in (in_order, backfill):
        assert _sorted(build_nonconverting_paths(month.lazy())).equals(expected)


def test_each_visit_step_reads_back_as_its_channel_and_touch():
    """A visit's channel, influencer and campaign are packed into one integer; read back, every visit's step gives
    the texts LEVELS gives its columns (nulls included)."""
    visits = _random_month(0)
    keyed, coding = _keyed(visits.lazy(), _HASHED, with_visit_id=False)
    texts = _step_texts(keyed["step"].unique(), coding)
    got = keyed.select("step").join(texts, on="step", how="left", maintain_order="left")
    assert got["channel"].to_list() == visits.select(LEVELS["channel"]).to_series().to_list()
    assert got["touch"].to_list() == visits.select(LEVELS["influencer_campaign"]).to_series().to_list()
    assert coding.sizes == (5, 4, 3)  # four channels and null; three influencers and null; two campaigns and null
