"""Night snapshots of the lake's published layers (staging, quarantine, marts).

    lake/nights/<night>-<token>/<layer>/<table>/...  the whole published state after a night; unchanged once sealed
    lake/current -> nights/<night>-<token>           the state readers see, switched by one atomic rename

A night is built in a new directory that starts as hard links to every file of the state it builds on (costing a
directory entry per file, no data), then replaces the partitions it owns. Files are only ever replaced, never
rewritten in place, so each sealed snapshot keeps its own version of every file: a reader that resolved `current`
(or a BI copy whose views name the snapshot directory) keeps one whole night while the next one is published, and a
rerun of an old date builds on the exact state that night's predecessor left. Raw landing copies live outside the
snapshots (lake/raw): they are per landing file, not per night.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from influence_pipeline.atomic import remove_leftover, write_atomic

NIGHTS_DIR, CURRENT, MARKER, BUILDING = "nights", "current", "_night.json", ".building-"
LAYERS = ("staging", "quarantine", "marts")


class SnapshotMissing(RuntimeError):
    """The state a rerun must build on has been pruned from the lake."""


@dataclass(frozen=True)
class Snapshot:
    night: date
    path: Path
    nights: dict[date, str | None]  # every night processed in this lineage -> its snapshot dir (None once pruned)
    inputs: dict[str, str | None]  # raw dataset -> checksum of the landing file this night read (None: missing)
    run_id: str

    @property
    def id(self) -> str:
        return self.path.name


def _read(path: Path) -> Snapshot:
    marker = json.loads((path / MARKER).read_text())
    return Snapshot(date.fromisoformat(marker["night"]), path,
                    {date.fromisoformat(d): name for d, name in marker["nights"].items()}, marker["inputs"],
                    marker["run_id"])


def current(lake_root: Path) -> Snapshot | None:
    """The published snapshot, or None before the first night."""
    link = lake_root / CURRENT
    if not link.is_symlink():
        return None
    return _read(lake_root / NIGHTS_DIR / os.readlink(link).split("/")[-1])


def snapshot(lake_root: Path, name: str) -> Snapshot:
    return _read(lake_root / NIGHTS_DIR / name)


def base_for(lake_root: Path, lineage: Snapshot | None, night: date) -> Snapshot | None:
    """The state in-order nightlies had before `night`: the snapshot of the latest processed night before it."""
    earlier = sorted(d for d in (lineage.nights if lineage else {}) if d < night)
    if not earlier:
        return None
    name = lineage.nights[earlier[-1]]
    if name is None or not (lake_root / NIGHTS_DIR / name / MARKER).exists():
        raise SnapshotMissing(
            f"cannot run {night}: it builds on the state after night {earlier[-1]}, which the lake no longer keeps "
            f"(it keeps the last lake.keep_nights nights). Backfill from the first processed night "
            f"({min(lineage.nights)}) to rebuild everything, or raise lake.keep_nights in a rules copy.")
    return snapshot(lake_root, name)


def begin(lake_root: Path, night: date, base: Snapshot | None) -> Path:
    """A new building directory holding hard links to every published file of `base`."""
    building = lake_root / NIGHTS_DIR / f"{BUILDING}{night.isoformat()}-{uuid.uuid4().hex[:12]}"
    building.mkdir(parents=True)
    if base is not None:
        for layer in LAYERS:
            source = base.path / layer
            for directory, _, files in os.walk(source):
                target = building / layer / Path(directory).relative_to(source)
                target.mkdir(parents=True, exist_ok=True)
                for name in files:
                    os.link(Path(directory) / name, target / name)
    return building


@contextmanager
def building(lake_root: Path, night: date, base: Snapshot | None) -> Iterator[Path]:
    """`begin` a night's directory for the block; a block that raises leaves no directory behind."""
    path = begin(lake_root, night, base)
    try:
        yield path
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def seal(building: Path, night: date, base: Snapshot | None, inputs: dict[str, str | None], run_id: str) -> Snapshot:
    """Record what the night is and rename its directory to its final name: from here on nothing in it changes."""
    nights = dict(base.nights) if base else {}
    final = building.with_name(building.name.removeprefix(BUILDING))
    nights = {d: n for d, n in nights.items() if d < night} | {night: final.name}
    marker = {"night": night.isoformat(), "run_id": run_id, "inputs": inputs,
              "nights": {d.isoformat(): n for d, n in sorted(nights.items())}}
    _write_json(building / MARKER, marker)
    os.replace(building, final)
    return _read(final)


def switch(lake_root: Path, target: Snapshot) -> None:
    """Point `current` at `target` in one rename: readers resolve either the old night or the new one."""
    tmp = lake_root / f".{CURRENT}-{uuid.uuid4().hex}"
    os.symlink(f"{NIGHTS_DIR}/{target.id}", tmp)
    os.replace(tmp, lake_root / CURRENT)
    _fsync_dir(lake_root)


def prune(lake_root: Path, keep_nights: int, also_keep: set[str]) -> int:
    """Delete snapshots outside the current lineage's last `keep_nights` nights (and `also_keep`, e.g. the
    previously published one that open BI connections may still read), and building directories of dead runs.
    Call with the data dir's writer lock held. Returns how many directories went."""
    published = current(lake_root)
    keep = set(also_keep)
    if published is not None:
        retained = sorted(published.nights)[-keep_nights:]
        keep |= {published.nights[d] for d in retained if published.nights[d]}
        keep.add(published.id)
    removed = 0
    for path in sorted((lake_root / NIGHTS_DIR).glob("*")) if (lake_root / NIGHTS_DIR).exists() else []:
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def sweep_dead_builds(lake_root: Path) -> int:
    """Delete the building directories and `current` links a killed run left (complete Parquet files a reader's
    `lake/**` glob would count twice). Call with the data dir's writer lock held: then no night is being built.
    Returns how many went."""
    removed = 0
    leftovers = [*(lake_root / NIGHTS_DIR).glob(f"{BUILDING}*"), *lake_root.glob(f".{CURRENT}-*")]
    for path in leftovers:
        remove_leftover(path)
        removed += 1
    return removed


def adopt_unversioned(lake_root: Path, inputs_of) -> Snapshot | None:
    """Turn a lake written before night snapshots existed (lake/<layer>/... in place) into the first snapshot: its
    layers move, unchanged, into one sealed night for the latest landing date they hold, published as `current`.
    Earlier nights of that history have no snapshot, so a rerun before it stops with SnapshotMissing. `inputs_of`
    gives the landing checksums of a date. Returns the adopted snapshot, or None when there was nothing to adopt."""
    if current(lake_root) is not None or not any((lake_root / layer).is_dir() for layer in LAYERS):
        return None
    dates = sorted({date.fromisoformat(p.name.split("=", 1)[1])
                    for p in (lake_root / "staging").glob("*/landing_date=*")})
    if not dates:
        return None
    path = lake_root / NIGHTS_DIR / f"{BUILDING}{dates[-1].isoformat()}-unversioned"
    path.mkdir(parents=True)
    for layer in LAYERS:
        if (lake_root / layer).is_dir():
            os.replace(lake_root / layer, path / layer)
    final = path.with_name(path.name.removeprefix(BUILDING))
    _write_json(path / MARKER, {"night": dates[-1].isoformat(), "run_id": "unversioned", "inputs": inputs_of(dates[-1]),
                                "nights": {d.isoformat(): (final.name if d == dates[-1] else None) for d in dates}})
    os.replace(path, final)
    adopted = _read(final)
    switch(lake_root, adopted)
    return adopted


def partition_files(root: Path | None, layers: tuple[str, ...] = LAYERS) -> dict[tuple[str, str, str | None], Path]:
    """(layer, table, partition dir or None for a whole table) -> file, for every published file under `root`."""
    files: dict[tuple[str, str, str | None], Path] = {}
    for layer in layers:
        base = root / layer if root else None
        if base is None or not base.exists():
            continue
        for table in sorted(p for p in base.iterdir() if p.is_dir()):
            for path in sorted(table.rglob("*.parquet")):
                part = path.parent.name if path.parent != table else None
                files[(layer, table.name, part)] = path
    return files


def changed_files(old: Path | None, new: Path) -> list[tuple[str, str, str | None, Path | None]]:
    """(layer, table, partition dir, file in `new` or None when gone) for every file `new` holds differently from
    `old`. Hard links make this exact and cheap: an unchanged partition is the same inode in both."""
    before, after = partition_files(old), partition_files(new)
    changed = []
    for key in sorted(before.keys() | after.keys(), key=lambda k: (k[0], k[1], k[2] or "")):
        if key not in after:
            changed.append((*key, None))
        elif key not in before or not os.path.samefile(before[key], after[key]):
            changed.append((*key, after[key]))
    return changed


def _write_json(path: Path, value: dict) -> None:
    write_atomic(path, json.dumps(value, indent=1, sort_keys=True))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_pending(lake_root: Path, pending: dict) -> None:
    """Record, before the warehouse commits a night, which snapshot it is about to publish: a run killed between the
    warehouse's commit and the switch of `current` is completed (or dropped) by the next run from this note."""
    _write_json(lake_root / "publishing.json", pending)


def read_pending(lake_root: Path) -> dict | None:
    path = lake_root / "publishing.json"
    return json.loads(path.read_text()) if path.exists() else None


def clear_pending(lake_root: Path) -> None:
    (lake_root / "publishing.json").unlink(missing_ok=True)
