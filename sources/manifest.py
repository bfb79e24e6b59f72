"""The landing manifest: which file was loaded, with which checksum, by which run.

It makes ingestion exactly-once: a file whose checksum is already recorded is skipped; a re-delivered file with new
content replaces its rows. Entries live beside the raw lake (one small JSON per dataset and date) and are written only
after the raw partition is in place, so a crash between the two just means the file is loaded again, identically.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path

from influence_pipeline.atomic import write_atomic
from influence_pipeline.sources.safe_open import open_landing

MANIFEST_DIR = "_manifest"


@dataclass(frozen=True)
class ManifestEntry:
    dataset: str
    landing_date: str
    file: str  # relative to the landing dir
    sha256: str
    bytes: int
    rows: int
    run_id: str
    mtime_ns: int | None = None  # the file's modification time when loaded (entries written before it lack it)
    ctime_ns: int | None = None  # its inode change time and inode number: see same_content
    inode: int | None = None


def file_identity(path: Path) -> dict[str, int]:
    """The stat fields that tell, without reading, that a file was not touched since: size, modification time, and
    the inode and its change time, which no copy or editor can preserve (git's index trusts the same fields)."""
    stat = path.stat()
    return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns, "inode": stat.st_ino}


def same_content(entry: ManifestEntry, path: Path) -> bool:
    """Whether the file at `path` still holds what `entry` recorded. An untouched file answers without reading it;
    any other the checksum decides. Size and modification time alone are not enough: `cp -p` or `rsync -t` of a
    corrected file of the same length keeps both, and its new amounts would be skipped."""
    identity = file_identity(path)
    if identity["bytes"] != entry.bytes:
        return False
    if all(getattr(entry, name) == value for name, value in identity.items()):
        return True
    return file_sha256(path) == entry.sha256


def refresh_identity(lake_dir: Path, entry: ManifestEntry, path: Path) -> None:
    """Record the current identity of a file the checksum found unchanged (landing restored from a backup, moved to
    another disk), so that later nights answer from its stat again instead of rereading it."""
    identity = file_identity(path)
    if any(getattr(entry, name) != value for name, value in identity.items()):
        write_entry(lake_dir, replace(entry, **identity))


def file_sha256(path: Path) -> str:
    """The SHA-256 of the landing file at `path`, opened as sources/safe_open.py opens landing files."""
    digest = hashlib.sha256()
    with open_landing(path) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _entry_path(lake_dir: Path, dataset: str, ds: date) -> Path:
    return lake_dir / "raw" / MANIFEST_DIR / dataset / f"landing_date={ds.isoformat()}.json"


def read_entry(lake_dir: Path, dataset: str, ds: date) -> ManifestEntry | None:
    path = _entry_path(lake_dir, dataset, ds)
    if not path.exists():
        return None
    return ManifestEntry(**json.loads(path.read_text()))


def write_entry(lake_dir: Path, entry: ManifestEntry) -> None:
    path = _entry_path(lake_dir, entry.dataset, date.fromisoformat(entry.landing_date))
    write_atomic(path, json.dumps(asdict(entry), indent=1, sort_keys=True) + "\n")


def read_all(lake_dir: Path) -> list[ManifestEntry]:
    root = lake_dir / "raw" / MANIFEST_DIR
    return [ManifestEntry(**json.loads(p.read_text())) for p in sorted(root.glob("*/*.json"))]


def _landing_date(path: Path) -> date | None:
    name = path.name
    if not (name.startswith("landing_date=") and name.endswith(".json")):
        return None
    try:
        return date.fromisoformat(name[len("landing_date="):-len(".json")])
    except ValueError:
        return None


def dataset_entries(lake_dir: Path, dataset: str) -> list[ManifestEntry]:
    """The entries of one dataset, oldest landing date first (reads that dataset's folder only)."""
    folder = lake_dir / "raw" / MANIFEST_DIR / dataset
    dated = sorted((ds, p) for p in folder.glob("landing_date=*.json") if (ds := _landing_date(p)) is not None)
    return [ManifestEntry(**json.loads(p.read_text())) for _, p in dated]


def previous_entry(lake_dir: Path, dataset: str, ds: date) -> ManifestEntry | None:
    """The delivery of `dataset` before `ds`: its entry with the latest landing date earlier than `ds` (also what a
    re-delivery for `ds` is compared with, not the entry it replaces). Reads one entry, whatever the history."""
    folder = lake_dir / "raw" / MANIFEST_DIR / dataset
    earlier = [d for p in folder.glob("landing_date=*.json") if (d := _landing_date(p)) is not None and d < ds]
    return read_entry(lake_dir, dataset, max(earlier)) if earlier else None
