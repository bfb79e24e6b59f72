"""Which nights a run processes and when it publishes: the one place that decides how reruns, backfills and late
files keep every table equal to in-order nightlies.

A night reads what the nights before it published (attribution lookback, restated conversions, rolling windows,
campaigns carried over), so rerunning night D on top of later nights' outputs would mix two states. A run therefore
builds D on the snapshot the night before D left, then replays every processed night after D, oldest first, each on
the one before it — exactly the sequence in-order nightlies ran — and publishes only nights at or after the latest
one already published, so readers never see the lake move back in time.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date


def plan_nights(requested: Iterable[date], processed: Iterable[date], late: Iterable[date] = ()) -> list[date]:
    """Requested nights, nights whose landing files changed after they ran (`late`), and every processed night after
    the earliest of those, oldest first."""
    wanted = set(requested) | set(late)
    if not wanted:
        return []
    start = min(wanted)
    return sorted(wanted | {night for night in processed if night > start})


def publish_points(chain: list[date], processed: Iterable[date]) -> list[date]:
    """The nights of `chain` after which the run publishes: each one at or after the latest night already published
    (a catch-up backfill publishes night by night, so an interrupted one keeps what it finished), and always the
    last."""
    latest = max(processed, default=None)
    points = [night for night in chain if latest is None or night >= latest]
    return points or chain[-1:]
