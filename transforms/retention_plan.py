"""Retention: which landing files, raw partitions and quarantine partitions are older than their kept days.

Ages count from the landing date of the run (the latest night it published), never from the wall clock, so a rerun
or a backfill decides exactly as the nightly before it did. Landing files and raw partitions a replay may read stay
whatever their age: every night from the oldest one whose lake snapshot is kept (a rerun or backfill can start no
earlier, see lake.keep_nights) reads its own raw rows, and its landing files when those rows are gone. A landing file
the manifest does not record with the same content, or a raw partition of a night never processed, holds rows no
published table has: it stays too, so nothing is lost unseen. Quarantine partitions are read by no replay: only
their age decides.
"""
from __future__ import annotations

from datetime import date

import polars as pl

KINDS = ("landing", "raw", "quarantine")
#: One thing retention could delete: `kind` (landing | raw | quarantine), the raw dataset, its landing date, its
#: path, and whether the published tables already hold its rows (landing: loaded with this content; raw: processed).
LISTING_SCHEMA = {"kind": pl.String, "dataset": pl.String, "landing_date": pl.Date, "path": pl.String,
                  "loaded": pl.Boolean}
PURGE, WITHIN, REPLAY, UNLOADED = "purge", "within retention", "a replay may read it", "not loaded yet"


def plan_purge(listing: pl.DataFrame, ref: date, keep_days: dict[str, int | None],
               protected_from: date | None) -> pl.DataFrame:
    """The listing (LISTING_SCHEMA) → the same rows with `age_days` (days from `landing_date` to `ref`, the run's
    landing date) and `action`: "purge" when older than the kind's kept days (age > N: a night exactly N days old
    stays), else why it stays. `keep_days` None for a kind: kept forever. Landing and raw rows from `protected_from`
    on (None: nothing published yet, so everything) stay for replays; so do those not loaded yet."""
    limits = pl.DataFrame({"kind": list(KINDS), "keep_days": [keep_days.get(kind) for kind in KINDS]},
                          schema={"kind": pl.String, "keep_days": pl.Int64})
    age = (pl.lit(ref, dtype=pl.Date) - pl.col("landing_date")).dt.total_days()
    replayable = pl.col("kind") != "quarantine"
    protected = replayable & (pl.lit(True) if protected_from is None
                              else pl.col("landing_date") >= pl.lit(protected_from, dtype=pl.Date))
    action = (pl.when(pl.col("keep_days").is_null() | (pl.col("age_days") <= pl.col("keep_days"))).then(pl.lit(WITHIN))
              .when(protected).then(pl.lit(REPLAY))
              .when(replayable & ~pl.col("loaded")).then(pl.lit(UNLOADED))
              .otherwise(pl.lit(PURGE)))
    return (listing.join(limits, on="kind", how="left").with_columns(age_days=age)
            .with_columns(action=action).drop("keep_days")
            .sort("kind", "landing_date", "dataset", "path"))


def purge_counts(plan: pl.DataFrame) -> dict[str, int]:
    """A plan → how many rows of each kind it purges (every kind named, 0 when none)."""
    purged = plan.filter(pl.col("action") == PURGE).group_by("kind").len()
    found = dict(purged.iter_rows())
    return {kind: found.get(kind, 0) for kind in KINDS}
