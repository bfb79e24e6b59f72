"""Where a run's per-dataset steps execute: threads of the flow's process, or the workers of a Dask cluster.

The runner is chosen from the settings when a run starts (INFLUENCE_DASK_ADDRESS), not when the flow is defined, so
the same deployment runs locally or on a cluster depending only on its worker's environment.
"""
from __future__ import annotations

import atexit
import os
import subprocess
import sys
from typing import Any

from prefect import Task
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from influence_pipeline.settings import Settings

LOCAL_THREADS = 4  # ingest and checks are Polars and file I/O: they release the GIL


def task_runner(settings: Settings, max_workers: int = LOCAL_THREADS) -> TaskRunner:
    """A DaskTaskRunner on the configured scheduler, else a thread pool of `max_workers`."""
    if settings.dask_address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=settings.dask_address)
    return ThreadPoolTaskRunner(max_workers=max_workers)


def run_all(runner: TaskRunner, step: Task, calls: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Submit `step` once per keyword set in `calls` on an entered `runner`; wait for all, return results by key. The
    first failure is raised, after every call has finished (none is left running behind the error)."""
    futures = {key: runner.submit(step, parameters=kwargs) for key, kwargs in calls.items()}
    for future in futures.values():
        future.wait()
    return {key: future.result() for key, future in futures.items()}


# A process of its own (a few lines, no imports beyond the standard library) that reads a pipe whose writing end only
# the run holds: the kernel closes it when the run dies however it dies (SIGKILL included, which skips atexit), and
# the EOF makes it stop the server. A run ending normally first writes one byte: Prefect's own atexit stops the
# server, and the watchdog must not signal a pid that may have been reused by then.
_WATCHDOG = """
import os, signal, sys, time
fd, pid = int(sys.argv[1]), int(sys.argv[2])
signal.signal(signal.SIGINT, signal.SIG_IGN)
if os.read(fd, 1):
    sys.exit(0)
try:
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        if b"prefect.server.api.server" not in cmdline.read():
            sys.exit(0)
except FileNotFoundError:
    if os.path.isdir("/proc"):
        sys.exit(0)
try:
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        time.sleep(0.1)
        os.kill(pid, 0)
    os.kill(pid, signal.SIGKILL)
except ProcessLookupError:
    pass
"""
_tied: set[int] = set()


def _stand_down(write_fd: int) -> None:
    try:
        os.write(write_fd, b"x")
    finally:
        os.close(write_fd)


def tie_temporary_server() -> list[int]:
    """Make the temporary Prefect API server this process started (none when PREFECT_API_URL names a served API)
    end with this process, however it ends; Prefect stops it only at a normal exit, so a killed run left it
    listening. Returns the pids of the servers newly tied (idempotent)."""
    try:
        from prefect.server.api.server import SubprocessASGIServer
    except ImportError:
        return []
    tied = []
    for server in list(getattr(SubprocessASGIServer, "_instances", {}).values()):
        process = getattr(server, "server_process", None)
        if process is None or process.pid in _tied or process.poll() is not None:
            continue
        read_fd, write_fd = os.pipe()  # both ends close-on-exec: only the watchdog gets the reading end
        try:
            subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(read_fd), str(process.pid)], pass_fds=(read_fd,),
                             stdin=subprocess.DEVNULL)
        finally:
            os.close(read_fd)
        atexit.register(_stand_down, write_fd)  # after Prefect's stop was registered, so it runs before it
        _tied.add(process.pid)
        tied.append(process.pid)
    return tied
