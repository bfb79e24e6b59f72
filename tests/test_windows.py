"""The windows a night owns (transforms/windows.py): hand-computed across month, year and leap-day boundaries, and equal
to what the flows computed before the windows moved into one module. Pure dates, no lake."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from influence_pipeline.rules_file import load_rules
from influence_pipeline.transforms.windows import (
    DateRange,
    days_between,
    default_landing_date,
    month_end,
    month_start,
    months_between,
    run_windows,
)

BASE = load_rules()
# Pinned, so the hand-computed dates below do not move when rules.yaml is tuned.
RULES = BASE.model_copy(update={
    "engagement": BASE.engagement.model_copy(update={"metrics_tracked_days": 14, "anomaly_window_days": 30,
                                                     "window_days": 30}),
    "niches": BASE.niches.model_copy(update={"window_days": 90}),
    "attribution": BASE.attribution.model_copy(update={"restate_days": 7, "lookback_days": 30}),
    "late_data": BASE.late_data.model_copy(update={"restate_days": 3}),
})
D = date


def test_month_helpers_cross_year_and_leap_day():
    assert month_start(D(2026, 12, 31)) == D(2026, 12, 1)
    assert month_end(D(2026, 12, 5)) == D(2026, 12, 31)
    assert month_end(D(2028, 2, 1)) == D(2028, 2, 29)
    assert month_end(D(2027, 2, 28)) == D(2027, 2, 28)
    assert months_between(D(2026, 12, 20), D(2027, 1, 3)) == (D(2026, 12, 1), D(2027, 1, 1))
    assert months_between(D(2028, 1, 31), D(2028, 3, 1)) == (D(2028, 1, 1), D(2028, 2, 1), D(2028, 3, 1))
    assert months_between(D(2027, 1, 5), D(2027, 1, 5)) == (D(2027, 1, 1),)


def test_days_between_is_inclusive_and_refuses_a_reversed_range():
    assert days_between(D(2028, 2, 28), D(2028, 3, 1)) == [D(2028, 2, 28), D(2028, 2, 29), D(2028, 3, 1)]
    assert days_between(D(2026, 12, 31), D(2026, 12, 31)) == [D(2026, 12, 31)]
    assert DateRange(D(2026, 12, 31), D(2027, 1, 1)).days() == [D(2026, 12, 31), D(2027, 1, 1)]
    with pytest.raises(ValueError, match="before its start"):
        days_between(D(2026, 11, 5), D(2026, 11, 1))
    with pytest.raises(ValueError, match="before its start"):
        DateRange(D(2027, 1, 2), D(2027, 1, 1)).days()


def test_default_landing_date_is_the_day_before_in_the_landing_zone():
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2030, 6, 1, 12, tzinfo=timezone.utc)  # ignored when the run was scheduled
    # 03:00 in Berlin on 1 March 2028 is 02:00 UTC: the files of the leap day
    assert default_landing_date(datetime(2028, 3, 1, 2, tzinfo=timezone.utc), berlin, now) == D(2028, 2, 29)
    # 03:00 in Tokyo on 1 January is 18:00 UTC on 31 December: still New Year's Eve's files
    assert default_landing_date(datetime(2026, 12, 31, 18, tzinfo=timezone.utc), ZoneInfo("Asia/Tokyo"),
                                now) == D(2026, 12, 31)
    # unscheduled: the clock the caller read
    assert default_landing_date(None, berlin, datetime(2027, 1, 1, 0, 30, tzinfo=timezone.utc)) == D(2026, 12, 31)


def test_windows_of_a_night_after_new_year():
    w = run_windows(D(2027, 1, 3), RULES)
    assert (w.posted_first, w.posted_last) == (D(2026, 12, 20), D(2027, 1, 4))
    assert w.snapshots_first == D(2026, 12, 19)
    assert w.account_snapshots_first == D(2026, 12, 2)  # max(14 + 8, 30 + 2) = 32 days
    assert w.older_posts_first == D(2026, 10, 5)  # 90 days
    assert w.stored_days_first == D(2026, 12, 1)  # the restated days' month starts before the 30-day window
    assert w.benchmark_months == (D(2026, 12, 1), D(2027, 1, 1))
    assert w.current_month == D(2027, 1, 1)
    assert w.restated_days == (D(2026, 12, 20), D(2027, 1, 2))
    assert w.older_posts == (D(2026, 10, 5), D(2026, 12, 19))
    assert w.stored_days == (D(2026, 12, 1), D(2027, 1, 2))
    assert w.history_last == D(2027, 1, 2)
    assert [w.benchmark_as_of(m) for m in w.benchmark_months] == [D(2026, 12, 31), D(2027, 1, 3)]
    assert w.visits == (D(2027, 1, 2), D(2027, 1, 3))
    assert w.events_first == D(2027, 1, 1)
    assert w.conversions == (D(2026, 12, 27), D(2027, 1, 3))
    assert w.journey_visits_first == D(2026, 11, 27)
    assert w.journey_visits == (D(2026, 11, 27), D(2027, 1, 1))
    assert [(m.month, m.stored_visits, m.stored_conversions) for m in w.channel_months] == [
        (D(2026, 12, 1), (D(2026, 12, 1), D(2026, 12, 31)), (D(2026, 12, 1), D(2026, 12, 26))),
        (D(2027, 1, 1), (D(2027, 1, 1), D(2027, 1, 1)), None)]
    assert w.settle_days == 37
    assert w.late_check_days == (D(2026, 12, 31), D(2027, 1, 1), D(2027, 1, 2))


def test_windows_of_the_night_after_a_leap_day():
    w = run_windows(D(2028, 3, 1), RULES)
    assert (w.posted_first, w.posted_last) == (D(2028, 2, 16), D(2028, 3, 2))
    assert w.snapshots_first == D(2028, 2, 15)
    assert w.account_snapshots_first == D(2028, 1, 29)
    assert w.older_posts_first == D(2027, 12, 2)
    assert w.stored_days_first == D(2028, 1, 31)  # the 30-day window reaches back before February
    assert w.benchmark_months == (D(2028, 2, 1), D(2028, 3, 1))
    assert w.benchmark_as_of(D(2028, 2, 1)) == D(2028, 2, 29)
    assert w.visits.days() == [D(2028, 2, 29), D(2028, 3, 1)]
    assert w.events_first == D(2028, 2, 28)
    assert w.conversions == (D(2028, 2, 23), D(2028, 3, 1))
    assert [(m.month, m.stored_visits, m.stored_conversions) for m in w.channel_months] == [
        (D(2028, 2, 1), (D(2028, 2, 1), D(2028, 2, 28)), (D(2028, 2, 1), D(2028, 2, 22))),
        (D(2028, 3, 1), None, None)]
    assert w.late_check_days == (D(2028, 2, 27), D(2028, 2, 28), D(2028, 2, 29))


def test_campaign_history_starts_at_the_first_open_campaign_never_after_the_night():
    w = run_windows(D(2027, 1, 3), RULES)
    history = w.campaign_history(D(2026, 11, 15))
    assert (history.posts, history.visits, history.attribution) == (
        (D(2026, 11, 15), D(2026, 12, 19)), (D(2026, 11, 15), D(2027, 1, 1)), (D(2026, 11, 15), D(2026, 12, 26)))
    assert w.campaign_history(None).visits == (D(2027, 1, 3), D(2027, 1, 1))  # nothing open: nothing read
    assert w.campaign_history(D(2027, 2, 1)) == w.campaign_history(None)


# The formulas as the flows wrote them before the windows moved here (flows/attribution_tasks.py, flows/night.py,
# flows/nightly.py, transforms/attribution/visits.py at commit 8f9de1c), for a sweep of nights and rules — with the two
# fixes made since: a month's stored rows end at the month's end (a night early in a month read the new month's first
# days into last month's channel mart), and every month the restate window spans is recomputed, not only its ends.
def _old(ds: date, rules) -> dict:
    a = rules.attribution
    visit_first, visit_last = ds - timedelta(days=1), ds
    conv_first = ds - timedelta(days=a.restate_days)
    months = sorted({(conv_first + timedelta(days=i)).replace(day=1) for i in range((ds - conv_first).days + 1)})

    def month_rows(month, first_owned):
        end = min(first_owned - timedelta(days=1), ds, (month + timedelta(days=32)).replace(day=1) - timedelta(days=1))
        return (month, end) if end >= month else None

    return {
        "visits": (visit_first, visit_last), "events_first": visit_first - timedelta(days=1),
        "conversions": (conv_first, ds), "journey_visits": (conv_first - timedelta(days=a.lookback_days),
                                                            visit_first - timedelta(days=1)),
        "channel_months": [(m, month_rows(m, visit_first), month_rows(m, conv_first)) for m in months],
        "settle_days": a.lookback_days + a.restate_days, "current_month": ds.replace(day=1),
        "late_check_days": [ds - timedelta(days=i) for i in range(rules.late_data.restate_days, 0, -1)],
        "posted": [ds - timedelta(days=rules.engagement.metrics_tracked_days) + timedelta(days=i)
                   for i in range(rules.engagement.metrics_tracked_days + 2)],
    }


@pytest.mark.parametrize("restate,lookback,late", [(7, 30, 3), (0, 0, 0), (27, 45, 10)])
def test_windows_equal_the_flows_old_arithmetic(restate, lookback, late):
    rules = RULES.model_copy(update={
        "attribution": RULES.attribution.model_copy(update={"restate_days": restate, "lookback_days": lookback}),
        "late_data": RULES.late_data.model_copy(update={"restate_days": late})})
    for ds in days_between(D(2026, 12, 1), D(2028, 3, 31)):
        w, old = run_windows(ds, rules), _old(ds, rules)
        assert w.visits == old["visits"] and w.events_first == old["events_first"], ds
        assert w.conversions == old["conversions"] and w.journey_visits == old["journey_visits"], ds
        assert [(m.month, m.stored_visits, m.stored_conversions) for m in w.channel_months] == old["channel_months"]
        assert (w.settle_days, w.current_month) == (old["settle_days"], old["current_month"]), ds
        assert list(w.late_check_days) == old["late_check_days"] and w.posted.days() == old["posted"], ds
