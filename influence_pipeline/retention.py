"""Retention at the edges: list the landing files, raw partitions and quarantine partitions a data dir holds, delete
those transforms/retention_plan finds expired, and refuse a rerun of a night whose rows retention took.

Each deletion is atomic: a landing file is unlinked; a partition folder is first renamed into the data dir's staging
directory (a reader sees it whole or gone, and a killed purge leaves a temporary the next run sweeps), then removed.
A quarantine partition leaves the warehouse first (one transaction), then every lake snapshot holding it (they share
its file): stopped in between, the next purge finds it in the lake and deletes it again. The audit keeps its counts:
rows in = published + quarantined still reads from audit.run_sources after the quarantined rows themselves are gone.

Call with the data dir's writer lock held (the nightly does, at its end; `influence purge` takes it).
"""
from __future__ import annotations

import os
import shutil
import stat
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from influence_pipeline.atomic import prepare_staging, stage, unstage
from influence_pipeline.schemas.raw import DATASETS, PARTITION_COLUMN
from influence_pipeline.sinks.lake import partition_file
from influence_pipeline.sinks.snapshots import BUILDING, MARKER, NIGHTS_DIR, Snapshot, current
from influence_pipeline.sources.ingest import RAW_LAYER, landing_forms
from influence_pipeline.sources.landing import LandingFileError
from influence_pipeline.sources.manifest import read_entry, same_content
from influence_pipeline.transforms.retention_plan import LISTING_SCHEMA, PURGE, plan_purge, purge_counts

QUARANTINE = "quarantine"


class PurgedNightError(LandingFileError):
    """A run would read a night whose landing file and raw partition retention purged: it would publish that night
    as if nothing had been delivered. Raised before anything is built."""


def _day(name: str, prefix: str = "") -> date | None:
    """The date a folder named `<prefix>YYYY-MM-DD` stands for; None for any other name."""
    if not name.startswith(prefix):
        return None
    try:
        day = date.fromisoformat(name[len(prefix):])
    except ValueError:
        return None
    return day if day.isoformat() == name[len(prefix):] else None


def _dated_folders(folder: Path, prefix: str = "") -> list[tuple[date, Path]]:
    """(date, path) of the real folders (no symbolic links) of `folder` named `<prefix>YYYY-MM-DD`."""
    if not folder.is_dir() or folder.is_symlink():
        return []
    return sorted((day, path) for path in folder.iterdir()
                  if (day := _day(path.name, prefix)) is not None and path.is_dir() and not path.is_symlink())


def _loaded(lake_root: Path, dataset: str, day: date, rel: str, path: Path) -> bool:
    """Whether the manifest records `rel` as loaded for `day` with this very content (a regular file only: a link is
    never followed, so never loaded)."""
    entry = read_entry(lake_root, dataset, day)
    return (entry is not None and entry.file == rel and stat.S_ISREG(path.lstat().st_mode)
            and same_content(entry, path))


def list_landing(landing_dir: Path, lake_root: Path) -> list[dict]:
    """Every delivered form of every dataset's landing file, by date folder (other files are no dataset's)."""
    rows = []
    for dataset in DATASETS:
        for day, _ in _dated_folders(landing_dir / dataset.source):
            for rel in landing_forms(dataset, day):
                path = landing_dir / rel
                if os.path.lexists(path):
                    rows.append({"kind": "landing", "dataset": dataset.name, "landing_date": day, "path": rel,
                                 "loaded": _loaded(lake_root, dataset.name, day, rel, path)})
    return rows


def list_raw(lake_root: Path, processed: set[date]) -> list[dict]:
    """Every raw partition; loaded: its night was processed (its staging rows are in the published snapshots)."""
    return [{"kind": "raw", "dataset": dataset.name, "landing_date": day,
             "path": str(path.relative_to(lake_root)), "loaded": day in processed}
            for dataset in DATASETS
            for day, path in _dated_folders(lake_root / RAW_LAYER / dataset.name, f"{PARTITION_COLUMN}=")]


def snapshot_dirs(lake_root: Path) -> list[Path]:
    """Every sealed night snapshot of the lake (building directories of a live run excluded)."""
    nights = lake_root / NIGHTS_DIR
    return sorted(p for p in nights.iterdir() if not p.name.startswith(BUILDING) and (p / MARKER).exists()) \
        if nights.is_dir() else []


def list_quarantine(lake_root: Path) -> list[dict]:
    """Every quarantine partition any snapshot holds, once (the snapshots share its file)."""
    found = {(table.name, day, str(path.relative_to(snap)))
             for snap in snapshot_dirs(lake_root) if (snap / QUARANTINE).is_dir()
             for table in (snap / QUARANTINE).iterdir()
             for day, path in _dated_folders(table, f"{PARTITION_COLUMN}=")}
    return [{"kind": QUARANTINE, "dataset": name, "landing_date": day, "path": rel, "loaded": True}
            for name, day, rel in sorted(found)]


def protected_from(lake_root: Path, published: Snapshot | None) -> date | None:
    """The oldest night a rerun or backfill can still start at: the oldest processed night whose snapshot the lake
    keeps. None before anything is published."""
    if published is None:
        return None
    kept = [day for day, name in published.nights.items()
            if name and (lake_root / NIGHTS_DIR / name / MARKER).exists()]
    return min(kept, default=published.night)


def purge_plan(landing_dir: Path, lake_root: Path, keep_days: dict[str, int | None]) -> pl.DataFrame:
    """What retention finds in the data dir, each row with its age against the published night and its action
    (transforms/retention_plan); empty before the first night is published."""
    published = current(lake_root)
    if published is None or not any(keep_days.values()):
        return plan_purge(pl.DataFrame(schema=LISTING_SCHEMA), date.min, keep_days, None)
    rows = (list_landing(landing_dir, lake_root) if keep_days.get("landing") else []) \
        + (list_raw(lake_root, set(published.nights)) if keep_days.get("raw") else []) \
        + (list_quarantine(lake_root) if keep_days.get(QUARANTINE) else [])
    listing = pl.DataFrame(rows, schema=LISTING_SCHEMA)
    return plan_purge(listing, published.night, keep_days, protected_from(lake_root, published))


def discard(path: Path) -> bool:
    """Remove a file or folder at `path` atomically (renamed into the staging directory, then deleted); False when
    it is already gone."""
    if not os.path.lexists(path):
        return False
    tmp = stage(path)
    try:
        os.replace(path, tmp)
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp)
    finally:
        unstage(tmp)
    return True


def _drop_warehouse_partitions(warehouse_url: str, partitions: list[tuple[str, date]]) -> None:
    """Delete each (quarantine table, landing date) from the warehouse, one transaction per partition."""
    import sqlalchemy as sa

    from influence_pipeline.sinks.ddl import EXISTING_COLUMNS_SQL, check_identifier, delete_partition_sql
    from influence_pipeline.sinks.warehouse import connect_warehouse

    warehouse = connect_warehouse(warehouse_url)
    try:
        for table, day in partitions:
            if not warehouse.fetch(EXISTING_COLUMNS_SQL, [QUARANTINE, table]):
                continue  # never loaded there
            target = sa.Table(check_identifier(table), sa.MetaData(schema=QUARANTINE),
                              sa.Column(PARTITION_COLUMN, sa.Date))
            warehouse.run_statements([delete_partition_sql(target, PARTITION_COLUMN, day)])
    finally:
        warehouse.close()


def apply_purge(plan: pl.DataFrame, landing_dir: Path, lake_root: Path, warehouse_url: str) -> dict[str, int]:
    """Delete every row of `plan` whose action is "purge"; returns how many of each kind went."""
    doomed = plan.filter(pl.col("action") == PURGE)
    for rel in doomed.filter(pl.col("kind") == "landing")["path"]:
        (landing_dir / rel).unlink(missing_ok=True)
        try:
            (landing_dir / rel).parent.rmdir()  # the date folder, once the last file of it went
        except OSError:
            pass
    for rel in doomed.filter(pl.col("kind") == "raw")["path"]:
        discard(lake_root / rel)
    quarantine = doomed.filter(pl.col("kind") == QUARANTINE)
    if quarantine.height:
        _drop_warehouse_partitions(warehouse_url, quarantine.select("dataset", "landing_date").rows())
        for rel in quarantine["path"]:
            for snap in snapshot_dirs(lake_root):
                discard(snap / rel)
    return purge_counts(plan)


def purge_expired(settings, *, dry_run: bool = False) -> tuple[pl.DataFrame, dict[str, int]]:
    """The retention plan of the data dir `settings` name and what it purges of each kind; deleted unless
    `dry_run`."""
    landing_dir, lake_root = settings.landing_dir.resolve(), settings.lake_dir.resolve()
    plan = purge_plan(landing_dir, lake_root, settings.retention_days())
    if dry_run:
        return plan, purge_counts(plan)
    prepare_staging(settings.data_dir.resolve())  # where a partition waits, out of every glob, to be deleted
    return plan, apply_purge(plan, landing_dir, lake_root, settings.resolved_warehouse_url)


def _raw_rows(lake_root: Path, dataset: str, night: date) -> int:
    path = partition_file(lake_root, RAW_LAYER, dataset, PARTITION_COLUMN, night)
    return pq.read_metadata(path).num_rows if path.exists() else 0


def refuse_purged_nights(landing_dir: Path, lake_root: Path, nights: list[date]) -> None:
    """Raise PurgedNightError when a night of `nights` was loaded with rows that neither its landing file nor its raw
    partition holds any longer (retention purged both): its rerun would publish it as never delivered."""
    gone = [(night, dataset.name, entry)
            for night in nights for dataset in DATASETS
            if (entry := read_entry(lake_root, dataset.name, night)) is not None and entry.rows
            and not any(os.path.lexists(landing_dir / rel) for rel in landing_forms(dataset, night))
            and _raw_rows(lake_root, dataset.name, night) != entry.rows]
    if not gone:
        return
    listed = "; ".join(f"{night} {name}: {entry.file} ({entry.rows} rows)" for night, name, entry in gone[:5])
    more = f" and {len(gone) - 5} more" if len(gone) > 5 else ""
    raise PurgedNightError(
        f"cannot run {', '.join(sorted({str(n) for n, _, _ in gone}))}: retention purged both the landing file and "
        f"the raw partition of {listed}{more}, so a rerun would publish these nights as if nothing had been "
        "delivered. Their published tables stay as they are. To rebuild such a night, deliver its landing files "
        "again (the same content); a rerun or backfill can otherwise start only at a night whose raw rows are kept "
        "(INFLUENCE_RETENTION_RAW_DAYS, lake.keep_nights).")
