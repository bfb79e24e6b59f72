"""The erasure log (lake/_erasure/log.ndjson) and the ingest guard it drives: once a person is erased, a landing
file that still holds them — an old delivery copied back, a re-export — loads their rows emptied and quarantined as
`erased on request`, never their values.

An entry proves an erasure without undoing it: the kind of identifier asked for, erasure digests (transforms.erasure:
keyed with a key derived from the PII key, so they match nothing stored elsewhere), the UTC time, per-store counts.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa

from influence_pipeline.atomic import write_atomic
from influence_pipeline.schemas.raw import RawDataset
from influence_pipeline.transforms.erasure import PERSON_COLUMNS, mark_erased, person_mask

LOG_DIR, LOG_FILE = "_erasure", "log.ndjson"


def log_path(lake_dir: Path) -> Path:
    return lake_dir / LOG_DIR / LOG_FILE


def read_log(lake_dir: Path) -> list[dict]:
    """Every erasure recorded under `lake_dir`, oldest first (none when the log does not exist)."""
    path = log_path(lake_dir)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def erased_digests(lake_dir: Path) -> set[str]:
    """Every digest an erasure recorded: the one asked for and the ones linked to it."""
    return {d for entry in read_log(lake_dir) for d in entry["digests"]}


def append_log(lake_dir: Path, entry: dict) -> Path:
    """Add `entry` to the log: the whole log rewritten atomically, so a crash leaves the old or the new one."""
    path = log_path(lake_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    write_atomic(path, old + json.dumps(entry, sort_keys=True) + "\n")
    os.chmod(path, 0o600)  # the digests are keyed, but who was erased when is nobody else's business
    return path


def without_erased(tables: Iterable[pa.Table], dataset: RawDataset, lake_dir: Path,
                   pii_key: bytes) -> Iterator[pa.Table]:
    """`tables` (pieces of one landing file's raw table) with the rows of erased persons emptied and marked
    (transforms.erasure.mark_erased); unchanged when nobody was erased or the dataset holds no persons."""
    erased = erased_digests(lake_dir) if dataset.name in PERSON_COLUMNS else set()
    for table in tables:
        if not erased:
            yield table
            continue
        frame = pl.from_arrow(table)
        mask = person_mask(frame, dataset.name, erased, pii_key)
        yield mark_erased(frame, mask).to_arrow().cast(table.schema) if mask.any() else table
