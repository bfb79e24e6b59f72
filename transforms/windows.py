"""Every date window a night owns: which history it reads and which partitions it rewrites, as a function of its
landing date and the business rules. Pure dates — no I/O, no clock, no settings — so the flows only read, call and
write, and every window can be checked here without a lake.

Engagement: posts keep growing for `metrics_tracked_days` after they are published and a post first appears in an
export the day after (or later), so a night rewrites every posted_date still tracked, restates those days'
posts_published in fct_account_daily, and rebuilds the tier benchmark of each month those days fall in.

Attribution: refunds arrive up to `attribution.restate_days` late, so a night rewrites the conversions of those days
and the channel months they fall in; a conversion's journey reaches `lookback_days` further back into fct_visit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import NamedTuple

from influence_pipeline.transforms.business_rules import Rules

_DAY = timedelta(days=1)
LAST_POSTS_LOOKBACK_DAYS = 90  # "the last 12 posts" are searched this far back
# Followers at post time are looked up up to a week around the post; the lead covers posts tracked the longest.
FOLLOWER_LOOKUP_LEAD_DAYS = 8
#: Days of events a run reads before the first visit date it owns: a visit is owned by the day it starts, and telling
#: whether the first event of that day starts a visit needs the events just before it.
EVENT_LEAD_DAYS = 1


def days_between(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, inclusive. A reversed range is refused rather than read as empty: it is a
    caller's mistake (a backfill typed end-first), and an empty result would silently do nothing."""
    if last < first:
        raise ValueError(f"range end {last} is before its start {first}")
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


class DateRange(NamedTuple):
    """Inclusive. A tuple, so `first, last = r` and comparisons with plain (first, last) pairs keep working."""
    first: date
    last: date

    def days(self) -> list[date]:
        return days_between(self.first, self.last)


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return (month_start(day) + timedelta(days=32)).replace(day=1) - _DAY


def months_between(first: date, last: date) -> tuple[date, ...]:
    """month_start of every month from `first`'s to `last`'s (empty when `last` is before `first`'s month)."""
    months, month = [], month_start(first)
    while month <= last:
        months.append(month)
        month = month_end(month) + _DAY
    return tuple(months)


def default_landing_date(scheduled: datetime | None, zone: tzinfo, now: datetime) -> date:
    """The day before the run was scheduled to start (`now`, when unscheduled), in the timezone landing days follow:
    what a 03:00 nightly is meant to process, even when 03:00 there is yesterday in UTC. The caller reads the clock,
    so this stays testable."""
    return (scheduled or now).astimezone(zone).date() - _DAY


#: Sources whose landing day is the day the pull ran (a snapshot of lifetime counts, fetched in the early morning);
#: the others land a day's activity, complete only once that day has ended.
SNAPSHOT_SOURCES = frozenset({"instagram", "tiktok", "youtube"})


def default_pull_date(source: str, scheduled: datetime | None, zone: tzinfo, now: datetime) -> date:
    """The landing date a pull fills by default: today for a platform snapshot (Instagram at 02:00 lands in today's
    folder, which tomorrow's nightly reads), yesterday for a day of shop activity (orders updated during the day)."""
    today = (scheduled or now).astimezone(zone).date()
    return today if source in SNAPSHOT_SOURCES else today - _DAY


def _stored_part(month: date, first_owned: date, ds: date) -> DateRange | None:
    """The days of `month` up to `ds` that precede what the run rewrites (None: the run owns the whole month so far):
    those partitions come from the lake, the rest from the run's own frames. Never past the month's end: early in a
    month the run owns only this month's first days, and last month's mart must not count them."""
    last = min(first_owned - _DAY, ds, month_end(month))
    return DateRange(month, last) if last >= month else None


@dataclass(frozen=True)
class ChannelMonth:
    """A month of mart_channel_attribution the night recomputes, and which of its fact partitions are read back."""
    month: date  # month_start_date
    stored_visits: DateRange | None  # fct_visit partitions of the month read from the lake
    stored_conversions: DateRange | None  # fct_conversion and fct_attribution partitions read likewise


@dataclass(frozen=True)
class CampaignHistory:
    """The lake partitions a campaign recomputation reads: from the first open campaign's start up to the first
    partition the night rewrites (those come from its own frames)."""
    posts: DateRange  # fct_post_engagement.posted_date
    visits: DateRange  # fct_visit.visit_date
    attribution: DateRange  # fct_attribution.converted_date


@dataclass(frozen=True)
class RunWindows:
    ds: date
    # Engagement (flows/engagement_tasks.py, the fct_post_engagement partitions of flows/night.py)
    posted_first: date  # the posted_date partitions of fct_post_engagement the night rewrites …
    posted_last: date  # … up to the latest a post of the day's export may be dated (time zones ahead of UTC)
    snapshots_first: date  # landing dates of stg_post_snapshots read (the tracked posts' earlier snapshots)
    account_snapshots_first: date  # landing dates of stg_account_daily read (anomaly window, followers at post)
    older_posts_first: date  # fct_post_engagement partitions read, not rewritten (last 12 posts, niche evidence)
    stored_days_first: date  # fct_account_daily partitions read (ER-collapse window, restated days, their months)
    benchmark_months: tuple[date, ...]  # month_start_date of every benchmark month the restated days fall in
    current_month: date  # the benchmark month always rebuilt (the one `ds` is in)
    # Attribution (flows/attribution_tasks.py)
    visits: DateRange  # visit dates rewritten: ds and the day before, whose last visits may run past midnight
    events_first: date  # landing dates of stg_web_events read, EVENT_LEAD_DAYS before the first owned visit date
    conversions: DateRange  # converted dates rewritten (orders, codes and signups are read from the same landing days)
    journey_visits_first: date  # fct_visit partitions a journey of an owned conversion may reach back to
    channel_months: tuple[ChannelMonth, ...]  # mart_channel_attribution months rewritten
    settle_days: int  # a campaign ended this long ago can no longer gain visits or lose revenue: carried over
    # The nightly (flows/nightly.py)
    late_check_days: tuple[date, ...]  # processed nights whose landing files are checked for late changes, oldest first

    @property
    def history_last(self) -> date:
        """The last landing date a staging history read takes from the lake: `ds` itself is the run's own frame."""
        return self.ds - _DAY

    @property
    def posted(self) -> DateRange:
        return DateRange(self.posted_first, self.posted_last)

    @property
    def restated_days(self) -> DateRange:
        """metric_date range of fct_account_daily whose posts_published a night restates (today's is computed)."""
        return DateRange(self.posted_first, self.ds - _DAY)

    @property
    def older_posts(self) -> DateRange:
        return DateRange(self.older_posts_first, self.posted_first - _DAY)

    @property
    def stored_days(self) -> DateRange:
        return DateRange(self.stored_days_first, self.ds - _DAY)

    @property
    def journey_visits(self) -> DateRange:
        """fct_visit partitions read for journeys; the owned visit dates come from the run's own visits."""
        return DateRange(self.journey_visits_first, self.visits.first - _DAY)

    def benchmark_as_of(self, month: date) -> date:
        """A benchmark month is computed up to its last day, or up to `ds` while it is still running."""
        return min(month_end(month), self.ds)

    def campaign_history(self, first_start: date | None) -> CampaignHistory:
        """The lake partitions to read for the open campaigns, the earliest of which started on `first_start` (None:
        no campaign is open). Never later than `ds`, so a campaign starting in the future reads nothing extra."""
        start = min(first_start or self.ds, self.ds)
        return CampaignHistory(DateRange(start, self.posted_first - _DAY), DateRange(start, self.visits.first - _DAY),
                               DateRange(start, self.conversions.first - _DAY))


def run_windows(ds: date, all_rules: Rules) -> RunWindows:
    """The windows of the night of landing date `ds` under the engagement, niche, attribution and late-data rules."""
    rules, attribution = all_rules.engagement, all_rules.attribution
    posted_first = ds - timedelta(days=rules.metrics_tracked_days)
    follower_days = max(rules.metrics_tracked_days + FOLLOWER_LOOKUP_LEAD_DAYS,
                        rules.anomaly_window_days + 2)  # +1 change needs a snapshot before; +1 snapshot lag
    visits = DateRange(ds - _DAY, ds)
    conversions = DateRange(ds - timedelta(days=attribution.restate_days), ds)
    # Every month a restated conversion may fall in (a restate window over 28 days can span three).
    months = months_between(conversions.first, ds)
    return RunWindows(
        ds=ds,
        posted_first=posted_first,
        posted_last=ds + _DAY,
        snapshots_first=ds - timedelta(days=rules.metrics_tracked_days + 1),
        account_snapshots_first=ds - timedelta(days=follower_days),
        older_posts_first=ds - timedelta(days=max(LAST_POSTS_LOOKBACK_DAYS, all_rules.niches.window_days)),
        stored_days_first=min(month_start(posted_first), ds - timedelta(days=rules.window_days)),
        benchmark_months=months_between(posted_first, ds),
        current_month=month_start(ds),
        visits=visits,
        events_first=visits.first - timedelta(days=EVENT_LEAD_DAYS),
        conversions=conversions,
        journey_visits_first=conversions.first - timedelta(days=attribution.lookback_days),
        channel_months=tuple(ChannelMonth(m, _stored_part(m, visits.first, ds), _stored_part(m, conversions.first, ds))
                             for m in months),
        settle_days=attribution.lookback_days + attribution.restate_days,
        late_check_days=tuple(ds - timedelta(days=i) for i in range(all_rules.late_data.restate_days, 0, -1)),
    )
