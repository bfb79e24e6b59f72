"""One entry point for every source's pull: check its settings, run it, record it beside the files it wrote."""
from __future__ import annotations

import importlib
from datetime import date, datetime

from influence_pipeline.sources.api.client import PullError, RetryPolicy
from influence_pipeline.sources.api.config import SOURCES, ApiSettings
from influence_pipeline.sources.api.landing_out import PullRecord, utc_stamp, write_pull_record

#: source -> module with `pull(settings, ds, *, now, policy, mode) -> PullRecord` (writes the landing files)
PULLERS = {source: f"influence_pipeline.sources.api.{source}" for source in SOURCES}
#: what a source can pull besides its daily run
MODES = {"instagram": ("daily", "stories"), "tiktok": ("daily",), "youtube": ("daily",), "shopify": ("daily",)}


def pull_source(source: str, settings: ApiSettings, ds: date, *, now: datetime, mode: str = "daily") -> PullRecord:
    """Pull `source` for landing date `ds` into its landing folder for `ds` and write its `_pull.json`. Accounts a
    human must fix are reported in the record (status `stopped`), never raised: the other accounts' data still lands.
    A stop of the whole source (PullError: the shop's token, a spent quota) is raised after `_pull.json` records it."""
    if source not in PULLERS:
        raise ValueError(f"unknown source {source!r}: one of {', '.join(PULLERS)}")
    if mode not in MODES[source]:
        raise ValueError(f"{source} has no {mode!r} pull: one of {', '.join(MODES[source])}")
    settings.require(source)
    policy = RetryPolicy.fast() if settings.pull_fast_retries else RetryPolicy()
    try:
        record = importlib.import_module(PULLERS[source]).pull(settings, ds, now=now, policy=policy, mode=mode)
    except PullError as exc:
        # The whole source stopped (the shop's token revoked, a budget spent before any account): the day's folder
        # still says so, for whoever looks at landing/ before the logs.
        write_pull_record(settings.landing_dir, PullRecord(source, ds.isoformat(), "", utc_stamp(now),
                                                           incomplete=str(exc)))
        raise
    write_pull_record(settings.landing_dir, record)
    return record
