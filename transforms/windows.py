"""The engagement windows a night owns: which history it reads and which partitions it rewrites. Pure dates.

Posts keep growing for `metrics_tracked_days` after they are published and a post first appears in an export the day
after (or later), so a night rewrites every posted_date still tracked, restates those days' posts_published in
fct_account_daily, and rebuilds the tier benchmark of each month those days fall in.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from influence_pipeline.transforms.business_rules import Rules
from influence_pipeline.transforms.marts.benchmark import month_start

LAST_POSTS_LOOKBACK_DAYS = 90  # "the last 12 posts" are searched this far back
# Followers at post time are looked up up to a week around the post; the lead covers posts tracked the longest.
FOLLOWER_LOOKUP_LEAD_DAYS = 8


def _months(first: date, last: date) -> tuple[date, ...]:
    months, month = [], month_start(first)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return tuple(months)


@dataclass(frozen=True)
class EngagementWindows:
    ds: date
    posted_first: date  # the posted_date partitions of fct_post_engagement the night rewrites …
    posted_last: date  # … up to the latest a post of the day's export may be dated (time zones ahead of UTC)
    snapshots_first: date  # landing dates of stg_post_snapshots read (the tracked posts' earlier snapshots)
    account_snapshots_first: date  # landing dates of stg_account_daily read (anomaly window, followers at post)
    older_posts_first: date  # fct_post_engagement partitions read, not rewritten (last 12 posts, niche evidence)
    stored_days_first: date  # fct_account_daily partitions read (ER-collapse window, restated days, their months)
    benchmark_months: tuple[date, ...]  # month_start_date of every benchmark month the restated days fall in

    @property
    def restated_days(self) -> tuple[date, date]:
        """metric_date range of fct_account_daily whose posts_published a night restates (today's is computed)."""
        return self.posted_first, self.ds - timedelta(days=1)


def engagement_windows(ds: date, all_rules: Rules) -> EngagementWindows:
    """The windows of the night of landing date `ds` under the engagement and niche rules."""
    rules = all_rules.engagement
    posted_first = ds - timedelta(days=rules.metrics_tracked_days)
    follower_days = max(rules.metrics_tracked_days + FOLLOWER_LOOKUP_LEAD_DAYS,
                        rules.anomaly_window_days + 2)  # +1 change needs a snapshot before; +1 snapshot lag
    return EngagementWindows(
        ds=ds,
        posted_first=posted_first,
        posted_last=ds + timedelta(days=1),
        snapshots_first=ds - timedelta(days=rules.metrics_tracked_days + 1),
        account_snapshots_first=ds - timedelta(days=follower_days),
        older_posts_first=ds - timedelta(days=max(LAST_POSTS_LOOKBACK_DAYS, all_rules.niches.window_days)),
        stored_days_first=min(month_start(posted_first), ds - timedelta(days=rules.window_days)),
        benchmark_months=_months(posted_first, ds),
    )
