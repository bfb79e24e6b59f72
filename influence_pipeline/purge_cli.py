"""`influence purge`: apply the retention settings now (the nightly applies them at its end), or list with --dry-run
what they would delete."""
from __future__ import annotations

from typing import Annotated

import polars as pl
import typer

from influence_pipeline.cli import clear_errors, console


def _print_plan(plan: pl.DataFrame, counts: dict[str, int], dry_run: bool) -> None:
    from influence_pipeline.transforms.retention_plan import PURGE, WITHIN

    doomed = plan.filter(pl.col("action") == PURGE)
    if doomed.height:
        # one line per item, never folded: a dry run's list is read by scripts as much as by people
        console.print("would be purged:" if dry_run else "purged:", highlight=False)
        for kind, dataset, day, rel, age in doomed.select("kind", "dataset", "landing_date", "path",
                                                           "age_days").iter_rows():
            console.print(f"  {kind:<10} {dataset:<22} {day.isoformat()} ({age} days old)  {rel}", highlight=False,
                          markup=False, soft_wrap=True)
    # expired but kept on purpose: say why, so a setting that seems to do nothing is explained
    kept = plan.filter(~pl.col("action").is_in([PURGE, WITHIN])).group_by("kind", "action").len().sort("kind")
    for kind, action, n in kept.iter_rows():
        console.print(f"kept {n} expired {kind} item(s): {action}", highlight=False)
    verb = "would purge" if dry_run else "purged"
    console.print(f"{verb}: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()), highlight=False)


def purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be purged; delete nothing.")] = False,
) -> None:
    """Purge landing files, raw partitions and quarantine partitions older than INFLUENCE_RETENTION_LANDING_DAYS,
    _RAW_DAYS and _QUARANTINE_DAYS (counted back from the published night), keeping whatever a rerun or backfill of
    the kept nights reads and anything not loaded yet."""
    from influence_pipeline.retention import purge_expired
    from influence_pipeline.settings import SettingsError, load_settings
    from influence_pipeline.sinks.lock import data_dir_lock

    with clear_errors():
        settings = load_settings()
        if not any(settings.retention_days().values()):
            raise SettingsError("no retention is set: set INFLUENCE_RETENTION_LANDING_DAYS, "
                                "INFLUENCE_RETENTION_RAW_DAYS or INFLUENCE_RETENTION_QUARANTINE_DAYS (days kept)")
        # a purge, even a dry one, must not see a night half published
        with data_dir_lock(settings.data_dir.resolve(), "influence purge", settings.lock_wait_seconds):
            plan, counts = purge_expired(settings, dry_run=dry_run)
    _print_plan(plan, counts, dry_run)
