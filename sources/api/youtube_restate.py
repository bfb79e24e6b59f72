"""The YouTube pull's bookkeeping across runs and days, kept apart from the calls themselves: the Data API unit budget
shared by the runs of a Pacific day, merging a rerun of a landing day into the files the earlier runs wrote, and the
restatement of the two previous landing days' Analytics columns."""
from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from influence_pipeline.sources.api import youtube_map as m
from influence_pipeline.sources.api.client import MALFORMED, PullError, QuotaExhausted
from influence_pipeline.sources.api.landing_out import landing_file, write_csv
from influence_pipeline.sources.api.state import CursorStore

if TYPE_CHECKING:  # the run calls in here; importing it for real would be circular
    from influence_pipeline.sources.api.youtube import Creator, _Run

PACIFIC = ZoneInfo("America/Los_Angeles")
RESTATE_DAYS = 2  # with today's report date: Analytics for the last 3 days every night
#: the day's files, their columns, and the key of a row (a video's id is only unique with its channel's)
FILES = (("channel_report.csv", m.CHANNEL_COLUMNS, ("channel_id",)),
         ("video_report.csv", m.VIDEO_COLUMNS, ("channel_id", "video_id")))


class QuotaBudget:
    """Data API units spent per Pacific day, kept in the source's cursor file so several runs share one budget."""

    def __init__(self, store: CursorStore, budget: int, now: datetime):
        self.store, self.budget = store, budget
        self.day = now.astimezone(PACIFIC).date().isoformat()
        saved = store.get("quota") or {}
        self.before = saved.get("used", 0) if saved.get("day") == self.day else 0
        self.spent = 0  # by this run, for PullRecord.quota_used

    def spend(self, units: int, what: str) -> None:
        used = self.before + self.spent
        if used + units > self.budget:
            raise QuotaExhausted(f"youtube: the daily Data API budget is spent ({used} of {self.budget} units used on "
                                 f"{self.day} Pacific; {what} needs {units}); it resets at midnight Pacific time")
        self.spent += units
        self.store.put(quota={"day": self.day, "used": used + units})

    def refused(self) -> None:
        """Google said the quota is spent: later runs of the same Pacific day need not try."""
        self.store.put(quota={"day": self.day, "used": max(self.budget, self.before + self.spent)})


def read_csv(path: Path) -> tuple[list[dict], list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader), list(reader.fieldnames or [])


def merge_day(path: Path, columns: Sequence[str], rows: list[dict], key: Sequence[str], read: set[str],
              fallback: set[str]) -> int:
    """Write this run's `rows` into the day's file, keeping the earlier runs' rows of channels this run did not read: a
    rerun after a quota stop or a failed channel must not erase what the first run landed. A channel `read` whole
    replaces all its earlier rows, so a video that has left the window leaves the file too; a `fallback` channel
    (Analytics refused this time, public figures only) keeps an earlier run's rows if the day has any."""
    def ident(row: dict) -> tuple[str, ...]:  # read-back rows hold "" where fresh rows hold None
        return tuple("" if row.get(k) is None else str(row[k]) for k in key)

    earlier = read_csv(path)[0] if path.exists() else []
    landed = {r.get("channel_id") for r in earlier}
    rows = [r for r in rows if r.get("channel_id") not in fallback or r.get("channel_id") not in landed]
    fresh = {ident(r) for r in rows}
    kept = [r for r in earlier if r.get("channel_id") not in read and ident(r) not in fresh]
    return write_csv(path, columns, kept + rows)


def restate(run: _Run, creators: list[Creator]) -> None:
    """Rewrite the two previous landing days' files with fresh Analytics figures, only where they changed (an
    unchanged restatement leaves the files, and so ingestion, alone). A creator whose restatement fails keeps the
    figures the file had; the run goes on with the next one."""
    for back in range(1, RESTATE_DAYS + 1):
        landing, report_date = run.ds - timedelta(days=back), run.rep - timedelta(days=back)
        for name, _, _ in FILES:
            path = landing_file(run.settings.landing_dir, "youtube", landing, name)
            if not path.exists():
                continue
            old, columns = read_csv(path)
            new = old
            for creator in creators:
                try:
                    fresh = {} if name == "channel_report.csv" else run.video_report(
                        creator, [r for r in new if r.get("channel_id") == creator.channel_id], report_date)
                    new = m.restate(new, creator.channel_id, (creator.days or {}).get(report_date.isoformat()),
                                    fresh)
                except (PullError, *MALFORMED) as exc:
                    run.record.warnings.append(f"restating {landing}/{name} for {creator.channel_id}: "
                                               f"{m.describe(exc)}")
            if new != old:
                run.record.files[f"{landing.isoformat()}/{name}"] = write_csv(path, columns, new)
