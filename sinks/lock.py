"""One writer at a time per data dir: an exclusive `flock` on `<data_dir>/.writer.lock`.

A flock belongs to the open file, and the kernel closes a process's files when it dies however it dies, so a lock a
killed or crashed run left behind is released the moment that process is gone: there is no stale lock to detect,
expire or clean up by hand. The JSON inside the file only tells a waiting run whom it waits for; the lock is the flock.
On NFS, Linux maps flock onto the server's byte-range locks, so runs on different hosts exclude each other as well;
a crashed host's lock then lasts until the server reclaims it (NFSv4: when the host's lease expires).
"""
from __future__ import annotations

import contextvars
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

LOCK_FILE = ".writer.lock"
POLL_SECONDS = 0.2


class DataDirBusy(RuntimeError):
    """Another run kept the data dir's writer lock for longer than this run was willing to wait."""


# The owner is the run, not the process: a backfill holding the lock runs nightly subflows in its own context (they
# must not wait for their parent), while two runs started in one process from different threads exclude each other
# like two processes do — flock treats each open() of the file as its own lock.
_owned: contextvars.ContextVar[frozenset[Path]] = contextvars.ContextVar("influence_data_dir_locks",
                                                                         default=frozenset())
_fds: set[int] = set()


def _forget_after_fork() -> None:
    # A forked child shares the parent's open lock files; closing its copies keeps each lock tied to its owner's
    # life, so a long-lived child (a multiprocessing or Dask worker) cannot keep it after the parent died.
    for fd in list(_fds):
        os.close(fd)
    _fds.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def _try_acquire(key: Path, holder: str) -> int | None:
    """Take the flock without blocking and record who holds it; None if another run has it."""
    fd = os.open(key / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)  # no O_TRUNC: holder's details
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        details = {"holder": holder, "pid": os.getpid(), "hostname": socket.gethostname(),
                   "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(details).encode(), 0)
        os.fsync(fd)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:  # closing also drops a flock taken before the failure
        os.close(fd)
        raise
    _fds.add(fd)
    return fd


def _release(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)  # while still locked: once unlocked the content may be the next holder's
    finally:
        _fds.discard(fd)
        os.close(fd)  # drops the flock; the file stays, since unlinking it would race a waiter's open


def _busy(key: Path, wait_seconds: float) -> DataDirBusy:
    try:
        details = json.loads((key / LOCK_FILE).read_text() or "{}")
    except (OSError, ValueError):
        details = {}
    if not isinstance(details, dict) or "holder" not in details:
        who = "another run (it has not recorded who it is yet)"
    else:
        who = (f"{details['holder']} (pid {details.get('pid', '?')} on {details.get('hostname', '?')}, "
               f"since {details.get('started_at', '?')})")
    return DataDirBusy(
        f"data dir {key} is being written by {who}; waited {wait_seconds:g} s for it. Wait for that run to finish "
        "and start this one again, or raise INFLUENCE_LOCK_WAIT_SECONDS to let runs wait longer for each other."
    )


@contextmanager
def data_dir_lock(data_dir: Path, holder: str, wait_seconds: float) -> Iterator[None]:
    """Hold the data dir's writer lock for the block, waiting up to `wait_seconds` for another run to let go;
    raises DataDirBusy naming the holder when it does not. Re-entrant within a run (nested calls in the context that
    took it, e.g. a backfill's nightly subflows); any other run — another process or another thread — waits.
    `holder` describes this run to whoever has to wait for it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    key = data_dir.resolve()
    if key in _owned.get():
        yield
        return
    deadline = time.monotonic() + wait_seconds
    while (fd := _try_acquire(key, holder)) is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _busy(key, wait_seconds)
        time.sleep(min(POLL_SECONDS, remaining))
    token = _owned.set(_owned.get() | {key})
    try:
        yield
    finally:
        _owned.reset(token)
        _release(fd)
