"""The data dir's writer lock, between real processes: busy, waiting, a killed holder, re-entrancy."""
from __future__ import annotations

import contextvars
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from influence_pipeline.sinks.lock import LOCK_FILE, DataDirBusy, data_dir_lock

ROOT = Path(__file__).resolve().parent.parent
HOLDER = "nightly 2026-11-14 (flow run 5f1c)"


def start_holder(data_dir: Path, hold_seconds: float, then_sleep: float = 0.0) -> subprocess.Popen[str]:
    """A process that takes the lock, says so, holds it `hold_seconds`, releases it and lives `then_sleep` more."""
    code = (
        "import sys, time\nfrom pathlib import Path\nfrom influence_pipeline.sinks.lock import data_dir_lock\n"
        f"with data_dir_lock(Path({str(data_dir)!r}), {HOLDER!r}, 0):\n"
        f"    print('held', flush=True)\n    time.sleep({hold_seconds})\n"
        f"print('released', flush=True)\ntime.sleep({then_sleep})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def flock_is_free(data_dir: Path) -> bool:
    """Ask the kernel directly, through a fresh open file (which conflicts even with this process's own hold)."""
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def recorded(data_dir: Path) -> dict:
    text = (data_dir / LOCK_FILE).read_text()
    return json.loads(text) if text else {}


def stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait(timeout=5)


def test_a_second_run_gives_up_naming_the_holder(tmp_path):
    holder = start_holder(tmp_path, hold_seconds=30)
    try:
        started = time.monotonic()
        with pytest.raises(DataDirBusy) as busy:
            with data_dir_lock(tmp_path, "backfill", 0.5):
                pytest.fail("took a lock another process holds")
        assert 0.5 <= time.monotonic() - started < 2
        message = str(busy.value)
        for part in (str(tmp_path.resolve()), HOLDER, f"pid {holder.pid}", socket.gethostname(),
                     "INFLUENCE_LOCK_WAIT_SECONDS"):
            assert part in message
        assert recorded(tmp_path)["holder"] == HOLDER  # the waiting run did not touch the holder's details
    finally:
        stop(holder)


def test_a_waiting_run_goes_ahead_once_the_holder_releases(tmp_path):
    holder = start_holder(tmp_path, hold_seconds=0.6, then_sleep=30)
    try:
        started = time.monotonic()
        with data_dir_lock(tmp_path, "backfill 2026-11-01 … 2026-11-14", 5):
            assert 0.3 < time.monotonic() - started < 3
            assert holder.poll() is None  # released by leaving its block, not by dying
            details = recorded(tmp_path)
            assert details["holder"] == "backfill 2026-11-01 … 2026-11-14" and details["pid"] == os.getpid()
            assert details["hostname"] == socket.gethostname() and details["started_at"].endswith("+00:00")
        assert (tmp_path / LOCK_FILE).read_text() == "" and flock_is_free(tmp_path)
    finally:
        stop(holder)


def test_two_runs_in_one_process_exclude_each_other(tmp_path):
    first_in, first_out, outcome = threading.Event(), threading.Event(), {}

    def first_run() -> None:
        with data_dir_lock(tmp_path, "nightly 2026-11-14", 0):
            first_in.set()
            first_out.wait(5)

    thread = threading.Thread(target=first_run)
    thread.start()
    assert first_in.wait(5)
    try:
        with pytest.raises(DataDirBusy, match="nightly 2026-11-14"):
            with data_dir_lock(tmp_path, "backfill", 0.3):
                pass
    finally:
        first_out.set()
        thread.join(5)
    with data_dir_lock(tmp_path, "backfill", 1):
        outcome["holder"] = recorded(tmp_path)["holder"]
    assert outcome == {"holder": "backfill"} and flock_is_free(tmp_path)


def test_a_killed_holder_leaves_the_lock_free_at_once(tmp_path):
    holder = start_holder(tmp_path, hold_seconds=60)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=5)
    assert recorded(tmp_path)["pid"] == holder.pid  # its details are still there; nobody holds the lock though
    with data_dir_lock(tmp_path, "nightly 2026-11-15", 0):
        assert recorded(tmp_path)["holder"] == "nightly 2026-11-15"


def test_the_lock_is_reentrant_within_a_run_its_nested_calls_and_the_threads_it_hands_its_context(tmp_path):
    thread_in, main_out, errors = threading.Event(), threading.Event(), []

    def subflow_in_another_thread() -> None:
        try:
            with data_dir_lock(tmp_path, "nightly subflow", 0):
                thread_in.set()
                main_out.wait(5)
                assert not flock_is_free(tmp_path)  # the outer call has left: the run's file is still open
        except BaseException as error:  # surfaced by the main thread
            errors.append(error)
            thread_in.set()

    with data_dir_lock(tmp_path, "backfill", 0):
        with data_dir_lock(tmp_path, "nightly 2026-11-01", 0):
            assert recorded(tmp_path)["holder"] == "backfill"  # the outermost holder stays on record
        assert not flock_is_free(tmp_path)
        context = contextvars.copy_context()  # as Prefect hands a flow's context to the threads it runs work in
        thread = threading.Thread(target=context.run, args=(subflow_in_another_thread,))
        thread.start()
        assert thread_in.wait(5)
        main_out.set()
        thread.join(5)
    assert not thread.is_alive() and not errors
    assert flock_is_free(tmp_path) and (tmp_path / LOCK_FILE).read_text() == ""


def test_a_forked_child_does_not_keep_a_dead_parents_lock(tmp_path):
    code = (
        "import os, time\nfrom pathlib import Path\nfrom influence_pipeline.sinks.lock import data_dir_lock\n"
        f"with data_dir_lock(Path({str(tmp_path)!r}), {HOLDER!r}, 0):\n"
        "    child = os.fork()\n"
        "    if child == 0:\n        time.sleep(30)\n        os._exit(0)\n"
        "    print(child, flush=True)\n    time.sleep(30)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        assert not flock_is_free(tmp_path)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=5)
        os.kill(child, 0)  # the child (say a multiprocessing worker) lives on, its copy of the lock file closed
        # The child closes its copy in an after-fork hook; on a loaded machine the parent can be killed before the
        # child has been scheduled to run it, so allow it a moment.
        deadline = time.monotonic() + 10
        while not flock_is_free(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flock_is_free(tmp_path)
    finally:
        os.kill(child, signal.SIGKILL)
        stop(parent)
