"""Where a run's per-dataset steps execute: threads of the flow's process, or the workers of a Dask cluster.

The runner is chosen from the settings when a run starts (INFLUENCE_DASK_ADDRESS), not when the flow is defined, so
the same deployment runs locally or on a cluster depending only on its worker's environment.
"""
from __future__ import annotations

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
