"""Ingestion: landing file → raw lake partition, exactly once per file content."""
from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from influence_pipeline.erasure_log import without_erased
from influence_pipeline.schemas.full_snapshot import shrink_refusal
from influence_pipeline.schemas.raw import PARTITION_COLUMN, RawDataset
from influence_pipeline.sinks.lake import partition_file, scan_partition, write_partition, write_partition_tables
from influence_pipeline.sources.landing import LandingFileError, iter_landing_tables, read_landing_file
from influence_pipeline.sources.manifest import (
    ManifestEntry,
    file_identity,
    file_sha256,
    previous_entry,
    read_entry,
    refresh_identity,
    same_content,
    write_entry,
)
from influence_pipeline.sources.safe_open import hard_link_refusal

RAW_LAYER = "raw"


class ShrunkSnapshotError(LandingFileError):
    """A full-snapshot landing file (a roster export) arrived empty, header only or far smaller than the previous
    delivery: refused before its raw partition or manifest entry is written. Its message names the file, the
    dataset, both row counts and the previous delivery's date, and says how to accept a genuine shrink. A
    LandingFileError, so the flow does not retry it: the file will not grow in ten seconds."""

    def __init__(self, message: str, *, dataset: str = "", file: str = "", rows: int = 0,
                 previous_rows: int | None = None, previous_date: str | None = None):  # keywords: it pickles
        super().__init__(message)
        self.dataset, self.file, self.rows = dataset, file, rows
        self.previous_rows, self.previous_date = previous_rows, previous_date


@dataclass(frozen=True)
class IngestResult:
    dataset: str
    status: str  # loaded | replaced | skipped | missing
    rows: int
    file: str
    seconds: float = 0.0


def landing_forms(dataset: RawDataset, ds: date) -> list[str]:
    """The paths (relative to the landing dir) `dataset`'s file for `ds` may have, in the order they are preferred:
    plain, gzipped, and for an NDJSON dataset the same rows as Parquet (`events.parquet`: BigQuery extracts both)."""
    rel = f"{dataset.source}/{ds.isoformat()}/{dataset.file}"
    forms = [rel, f"{rel}.gz"]
    if dataset.fmt == "ndjson":
        forms.append(rel.removesuffix(".ndjson") + ".parquet")
    return forms


def landing_path(landing_dir: Path, dataset: RawDataset, ds: date) -> tuple[Path, str]:
    """The landing file of `dataset` for `ds` — the first of its forms delivered, else the plain one (missing) — and
    its path relative to the landing dir."""
    forms = landing_forms(dataset, ds)
    # lexists: a symbolic link counts as delivered even when it dangles, so that it is refused, not called missing
    rel = next((f for f in forms if os.path.lexists(landing_dir / f)), forms[0])
    return landing_dir / rel, rel


def unread_forms(landing_dir: Path, dataset: RawDataset, ds: date) -> list[str]:
    """Forms delivered besides the one read: a second copy of the same day is never read as well (no doubled rows)."""
    delivered = [f for f in landing_forms(dataset, ds) if os.path.lexists(landing_dir / f)]
    return delivered[1:]


def refuse_unsafe(landing_dir: Path, rel: str) -> None:
    """Raise LandingFileError naming `rel` unless `landing_dir / rel` is a regular file reached through no symbolic
    link below the landing dir, lying inside it, with no other name (hard link; sources/safe_open.py, which also
    guards the open against a swap after this check). Nothing of the file is opened: a link to /etc/passwd must not
    have its lines quarantined or its first line quoted in an error, and a FIFO would block the night forever."""
    path = landing_dir
    for part in Path(rel).parts:
        path = path / part
        if path.is_symlink():
            what = "is" if path == landing_dir / rel else f"lies under {path.relative_to(landing_dir)}, which is"
            raise LandingFileError(f"{rel}: {what} a symbolic link; landing files are read only as regular files "
                                   "inside the landing dir (copy the file in instead of linking it)")
    found = path.lstat()
    if not stat.S_ISREG(found.st_mode):
        raise LandingFileError(f"{rel}: not a regular file (a directory, device or pipe); it was not read")
    if refusal := hard_link_refusal(found):
        raise LandingFileError(f"{rel}: {refusal}; it was not read")
    if not path.resolve().is_relative_to(landing_dir.resolve()):  # a bind mount or a rename racing the check
        raise LandingFileError(f"{rel}: resolves outside the landing dir; it was not read")


def _configured_min_ratio() -> float:
    """full_snapshots.min_ratio of the rules the settings name (INFLUENCE_RULES_FILE, else the defaults)."""
    from influence_pipeline.rules_file import load_rules
    from influence_pipeline.settings import Settings

    return load_rules(Settings().rules_file).full_snapshots.min_ratio


def check_full_snapshot(dataset: RawDataset, lake_dir: Path, ds: date, rel: str, rows: int,
                        min_ratio: float) -> None:
    """Raise ShrunkSnapshotError when a delivery of `rows` rows of the full-snapshot `dataset` for `ds` is empty or
    smaller than `min_ratio` × the previous delivery (the latest manifest entry before `ds`)."""
    previous = previous_entry(lake_dir, dataset.name, ds)
    previous_rows = None if previous is None else previous.rows
    previous_date = None if previous is None else previous.landing_date
    refusal = shrink_refusal(dataset.name, rows, previous_rows, min_ratio, file=rel, previous_date=previous_date)
    if refusal is not None:
        raise ShrunkSnapshotError(refusal, dataset=dataset.name, file=rel, rows=rows, previous_rows=previous_rows,
                                  previous_date=previous_date)


def ingest_dataset(dataset: RawDataset, landing_dir: Path, lake_dir: Path, ds: date, run_id: str,
                   pii_key: bytes, min_snapshot_ratio: float | None = None) -> IngestResult:
    """Load `dataset`'s landing file for `ds` into its raw partition unless the manifest says this exact content is
    already there. A file never delivered leaves an empty partition, so downstream steps read "nothing delivered";
    a file purged from landing after it was loaded keeps its raw rows.

    A full-snapshot dataset's file that is empty or smaller than `min_snapshot_ratio` (default: the rules'
    full_snapshots.min_ratio) × the previous delivery raises ShrunkSnapshotError before anything is written: its
    raw partition and manifest entry stay as they were."""
    path, rel = landing_path(landing_dir, dataset, ds)
    raw_file = partition_file(lake_dir, RAW_LAYER, dataset.name, PARTITION_COLUMN, ds)
    previous = read_entry(lake_dir, dataset.name, ds)
    if not os.path.lexists(path):
        if previous is not None and raw_file.exists():
            # Landing zones get purged after archiving; what was loaded stays loaded.
            return IngestResult(dataset.name, "skipped", previous.rows, rel)
        write_partition(pl.DataFrame(schema=pl.Schema(dataset.arrow_schema)), lake_dir, RAW_LAYER, dataset.name,
                        PARTITION_COLUMN, ds)
        return IngestResult(dataset.name, "missing", 0, rel)
    refuse_unsafe(landing_dir, rel)
    if previous is not None and raw_file.exists() and same_content(previous, path):
        refresh_identity(lake_dir, previous, path)
        return IngestResult(dataset.name, "skipped", previous.rows, rel)
    identity = file_identity(path)  # before reading: a write during the read changes it, and the next night rereads
    # Hashed on a thread of its own while the file is decoded (hashlib releases the GIL): 1.2 s for a 1 GB file
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as hashing:
        checksum = hashing.submit(file_sha256, path)
        if dataset.full_snapshot:  # its row count decides before anything is written; rosters are small
            table = read_landing_file(dataset, path, rel, run_id, pii_key)
            ratio = _configured_min_ratio() if min_snapshot_ratio is None else min_snapshot_ratio
            check_full_snapshot(dataset, lake_dir, ds, rel, table.num_rows, ratio)
            write_partition(table, lake_dir, RAW_LAYER, dataset.name, PARTITION_COLUMN, ds)
            rows = table.num_rows
        else:  # piece by piece: a gigabyte of events never sits in memory whole
            # a person erased on request (influence forget) stays erased when an old file holding them is re-delivered
            tables = without_erased(iter_landing_tables(dataset, path, rel, run_id, pii_key), dataset, lake_dir,
                                    pii_key)
            rows = write_partition_tables(tables, dataset.arrow_schema, lake_dir, RAW_LAYER, dataset.name,
                                          PARTITION_COLUMN, ds)
        write_entry(lake_dir, ManifestEntry(dataset.name, ds.isoformat(), rel, checksum.result(), rows=rows,
                                            run_id=run_id, **identity))
    return IngestResult(dataset.name, "replaced" if previous is not None else "loaded", rows, rel)


def arrived_late(dataset: RawDataset, landing_dir: Path, lake_dir: Path, ds: date) -> bool:
    """Whether a night already processed for `ds` (its raw partition exists) has since received this dataset's landing
    file: delivered after the night ran, or re-delivered with other content."""
    path, rel = landing_path(landing_dir, dataset, ds)
    if not os.path.lexists(path) or not partition_file(lake_dir, RAW_LAYER, dataset.name, PARTITION_COLUMN,
                                                       ds).exists():
        return False
    try:
        refuse_unsafe(landing_dir, rel)
    except LandingFileError:
        return True  # never hashed: the night is run again, and its ingest says why the file is refused
    entry = read_entry(lake_dir, dataset.name, ds)
    return entry is None or not same_content(entry, path)


def scan_raw(lake_dir: Path, dataset: RawDataset, ds: date) -> pl.LazyFrame:
    """The raw rows of `dataset` delivered on `ds`."""
    return scan_partition(lake_dir, RAW_LAYER, dataset.name, PARTITION_COLUMN, ds, dataset.arrow_schema)
