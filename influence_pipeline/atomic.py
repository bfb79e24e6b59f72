"""The one way a file is written: to a temporary, then renamed over its target, so a reader sees the old file or the
new one, never half of one.

A temporary lives in the data dir's staging directory (`<data_dir>/.staging/`, made at a run's start) whenever the
target is below it on the same file system, so no reader's glob over the lake, the reports or the BI copy's folder
can reach it (DuckDB's `**` enters hidden folders and counts a complete temporary Parquet file as data). Elsewhere it
lies beside its target. Either way its writer holds a flock on a lock file of the same token while it lives: the
kernel drops it when the writer dies however it dies, so a run's start sweeps every dead writer's temporary whatever
its age (`sweep_staged`) and never one still being written (an `ingest` deployment run does not take the run lock).
"""
from __future__ import annotations

import fcntl
import os
import shutil
import stat
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: Every temporary, its lock file and a writer's companions (DuckDB's `.wal`) start with this and a 32-hex token.
TMP_MARK = ".tmp-"
TOKEN_LENGTH = len(TMP_MARK) + 32
LOCK_SUFFIX = ".lock"
STAGING_DIR = ".staging"

_held: dict[Path, int] = {}  # temporary -> open, flocked descriptor of its lock file
_guard = threading.Lock()


def _forget_after_fork() -> None:
    # A forked child's copies of the lock descriptors would keep a dead parent's temporaries "alive" while it lives.
    for fd in _held.values():
        os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def prepare_staging(data_dir: Path) -> Path:
    """Create the data dir's staging directory (owner-only) if missing; returns it."""
    staging = data_dir / STAGING_DIR
    staging.mkdir(mode=0o700, parents=True, exist_ok=True)
    return staging


def staging_dir_for(path: Path) -> Path:
    """Where a temporary of `path` goes: the nearest ancestor's staging directory on the same file system (a rename
    across file systems is no rename), else `path`'s own directory."""
    parent = path.absolute().parent
    device = os.stat(parent).st_dev
    for ancestor in (parent, *parent.parents):
        try:
            found = os.stat(ancestor / STAGING_DIR)
        except OSError:
            continue
        if stat.S_ISDIR(found.st_mode) and found.st_dev == device:
            return ancestor / STAGING_DIR
    return parent


def _token(name: str) -> str:
    """What a temporary shares with its lock file and companions (a shorter, foreign name is its own group)."""
    return name[:TOKEN_LENGTH]


def stage(path: Path) -> Path:
    """A new temporary path for `path`, held for this process until `unstage`. The writer creates the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    where = staging_dir_for(path)
    while True:
        token = f"{TMP_MARK}{uuid.uuid4().hex}"
        lock = where / f"{token}{LOCK_SUFFIX}"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            ours = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            ours = False
        if ours:
            break
        os.close(fd)  # a sweep took the lock file for a dead writer's between its creation and our flock
    tmp = where / f"{token}-{path.name}.partial"
    with _guard:
        _held[tmp] = fd
    return tmp


def unstage(tmp: Path) -> None:
    """Delete what is left of temporary `tmp` (nothing after its rename) and its companions, then let go of it."""
    for leftover in (tmp, tmp.with_name(f"{tmp.name}.wal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(tmp.with_name(f"{tmp.name}.tmp"), ignore_errors=True)  # DuckDB's spill folder
    (tmp.parent / f"{_token(tmp.name)}{LOCK_SUFFIX}").unlink(missing_ok=True)  # unlinked while still held
    with _guard:
        fd = _held.pop(tmp, None)
    if fd is not None:
        os.close(fd)


@contextmanager
def held_temporaries(near: Path, names: Iterable[str]) -> Iterator[dict[str, Path]]:
    """name -> a held temporary (see `stage`) beside `near`'s staging directory, for a run's scratch file `<name>`;
    all deleted on leaving. Swept like any temporary if the process dies holding them."""
    held: dict[str, Path] = {}
    try:
        for name in names:
            held[name] = stage(near / f"{name}.parquet")
        yield held
    finally:
        for tmp in held.values():
            unstage(tmp)


def _alive(lock: Path) -> bool:
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def remove_leftover(path: Path) -> None:
    """Delete what a dead writer left at `path`: a folder with its contents, or a file or link (never what a link
    points to)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def sweep_staged(directory: Path) -> int:
    """Delete, in `directory` (not below), every temporary whose writer is gone — lock file free or missing — with
    its lock file and companions; returns how many temporaries went."""
    groups: dict[str, list[Path]] = {}
    if directory.is_dir():
        for entry in directory.iterdir():
            if entry.name.startswith(TMP_MARK):
                groups.setdefault(_token(entry.name), []).append(entry)
    swept = 0
    for token, entries in groups.items():
        if _alive(directory / f"{token}{LOCK_SUFFIX}"):
            continue
        for entry in entries:
            remove_leftover(entry)
        swept += 1
    return swept


def write_atomic(path: Path, content: str | bytes | Callable[[Path], None], *, fsync: bool = True) -> Path:
    """Replace `path` with `content`: text (UTF-8, newlines as given), bytes, or a writer called with the temporary
    path. With `fsync` the data reaches the disk before the rename, so a power cut cannot leave the new name on an
    empty file; generated sample files skip it (thousands of them, and a rerun regenerates them)."""
    tmp = stage(path)
    try:
        if callable(content):
            content(tmp)
        else:
            tmp.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        if fsync:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        unstage(tmp)
    return path
