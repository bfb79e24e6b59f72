"""The replay plan: which nights a run, rerun or backfill processes and when it publishes."""
from datetime import date, timedelta

from influence_pipeline.nights import plan_nights, publish_points

D = [date(2026, 10, 1) + timedelta(days=i) for i in range(10)]


def test_first_nightly_and_next_nightly_run_just_their_night():
    assert plan_nights([D[0]], []) == [D[0]]
    assert plan_nights([D[3]], D[:3]) == [D[3]]
    assert publish_points([D[3]], D[:3]) == [D[3]]


def test_a_rerun_replays_every_later_processed_night_and_publishes_once_at_the_latest():
    chain = plan_nights([D[1]], D[:5])
    assert chain == D[1:5]
    assert publish_points(chain, D[:5]) == [D[4]]


def test_a_backfill_past_the_latest_night_publishes_night_by_night_from_it():
    chain = plan_nights(D[2:8], D[:5])
    assert chain == D[2:8]
    assert publish_points(chain, D[:5]) == D[4:8]


def test_gaps_stay_gaps_and_late_files_start_the_chain_earlier():
    processed = [D[0], D[1], D[4], D[5]]
    assert plan_nights([D[6]], processed, late=[D[1]]) == [D[1], D[4], D[5], D[6]]
    assert plan_nights([D[2]], processed) == [D[2], D[4], D[5]]


def test_a_backfill_before_everything_replays_the_whole_history():
    assert plan_nights([D[0]], D[3:6]) == [D[0], D[3], D[4], D[5]]
    assert publish_points([D[0], D[3], D[4], D[5]], D[3:6]) == [D[5]]
