"""Nightly benchmark: generate a sample at a profile's scale, run the nightlies before day N untimed (the history a
real night has in place), then time the night of day N stage by stage. Every night runs in a process of its own.

    python -m benchmarks.run --profile S|M|L|XL [--days N] [--also-day M] [--json OUT] [--data-dir DIR]

Stage times come from Prefect's own task runs of that flow run (nothing is re-wired here); peak memory per stage is
the RSS of the process running the night (a fresh one, as a Prefect worker starts) sampled every 20 ms while the
stage's tasks ran. Generation and the history nights are not counted.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import shutil
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

PROFILES = {  # scale 1 ≈ 300 accounts, 52 k web events, ~400 orders a day
    "S": {"scale": 0.02, "days": 3},
    "M": {"scale": 1.0, "days": 14},
    "L": {"scale": 40.0, "days": 30},  # ≈ 12 k accounts, 2 M web events, 16 k orders a day
    "XL": {"scale": 400.0, "days": 2},  # 10× L: ≈ 20 M web events (10 GB of landing files) a day
}
STAGES = (  # task-name prefix → reported stage
    ("ingest-", "ingest"), ("check-warehouse-", "load_warehouse"), ("check-", "validate"),
    ("record-validation-", "validate"), ("stage-", "staging"), ("build-marts-", "engagement"),
    ("build-attribution-", "attribution"),
    ("publish-parquet-", "publish_parquet"), ("publish-artifacts-", "report"), ("publish-", "load_warehouse"),
    ("record-audit-", "load_warehouse"), ("recover-publication", "load_warehouse"),
)


@dataclass
class Stage:
    name: str
    seconds: float
    rows_per_second: float
    peak_rss_mib: float


class RssSampler(threading.Thread):
    """Samples this process's resident set size (from /proc) until stopped."""

    def __init__(self, every: float = 0.02):
        super().__init__(daemon=True)
        self.every, self.samples, self._halt = every, [], threading.Event()

    @staticmethod
    def rss_mib() -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append((datetime.now(timezone.utc), self.rss_mib()))
            time.sleep(self.every)

    def stop(self) -> list[tuple[datetime, float]]:
        self._halt.set()
        self.join()
        return self.samples


def _stage_of(task_name: str) -> str:
    return next((stage for prefix, stage in STAGES if task_name.startswith(prefix)), "other")


def covered_seconds(windows: list[tuple[datetime, datetime]]) -> float:
    """Wall time covered by the union of `windows`: tasks of a stage that ran side by side count once."""
    total, reach = 0.0, None
    for start, end in sorted(windows):
        if reach is None or start > reach:
            total += (end - start).total_seconds()
            reach = end
        elif end > reach:
            total += (end - reach).total_seconds()
            reach = end
    return total


def stage_table(task_runs: list, samples: list[tuple[datetime, float]], rows_in: int) -> list[Stage]:
    """Prefect task runs of one flow run and RSS samples → one row per stage (the wall time its tasks covered)."""
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for run in task_runs:
        if run.start_time and run.end_time:
            spans.setdefault(_stage_of(run.name), []).append((run.start_time, run.end_time))
    stages = []
    for name, windows in spans.items():
        seconds = covered_seconds(windows)
        peak = max((rss for at, rss in samples if any(start <= at <= end for start, end in windows)), default=0.0)
        stages.append(Stage(name, round(seconds, 3), round(rows_in / seconds) if seconds else 0.0, round(peak, 1)))
    order = [stage for _, stage in STAGES]
    return sorted(stages, key=lambda s: order.index(s.name) if s.name in order else len(order))


def slowest_tasks(task_runs: list, count: int = 15) -> list[dict]:
    """The `count` longest task runs (name, wall seconds): which task of a stage to look at first."""
    timed = [(run.name, (run.end_time - run.start_time).total_seconds()) for run in task_runs
             if run.start_time and run.end_time]
    return [{"task": name, "seconds": round(seconds, 3)}
            for name, seconds in sorted(timed, key=lambda t: (-t[1], t[0]))[:count]]


def _task_runs(flow_run_id: str) -> list:
    """The task runs of a nightly flow run and of its child flow runs (the nights it built)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterParentFlowRunId

    runs: list = []
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])))
        ids = [flow_run_id, *(str(child.id) for child in children)]
        while page := client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)),
                                            limit=200, offset=len(runs)):
            runs += page
    # A child flow run (a night) also appears in its parent as a task run spanning all of it: its own tasks count.
    return [run for run in runs if not run.name.startswith("night")], len(children)


def _timed_night(ds: date) -> dict:
    """Time `nightly(ds)`: a new night, or a rerun of an earlier one (which replays the nights after it)."""
    from prefect.client.orchestration import get_client

    from influence_pipeline.flows.nightly import nightly

    with get_client(sync_client=True) as client:  # connect (or start the local server) before the clock starts
        client.hello()
    sampler = RssSampler()
    sampler.start()
    started = time.perf_counter()
    state = nightly(ds=ds, return_state=True)
    wall = time.perf_counter() - started
    samples = sampler.stop()
    summary = state.result()
    rows_in = sum(info["rows"] or 0 for info in summary.ingested.values())
    runs, nights = _task_runs(str(state.state_details.flow_run_id))
    stages = stage_table(runs, samples, rows_in)
    validate = sum(s.seconds for s in stages if s.name == "validate")
    return {"rows_in": rows_in, "wall_seconds": round(wall, 2), "nights_built": nights,
            "peak_rss_mib": round(max(rss for _, rss in samples), 1),
            "max_rss_mib_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "validation_share": round(validate / wall, 3), "stages": [asdict(s) for s in stages],
            "slowest_tasks": slowest_tasks(runs)}


def _untimed_night(ds: date) -> dict:
    from influence_pipeline.flows.nightly import nightly

    nightly(ds=ds)
    return {}


def _in_fresh_process(night, ds: date) -> dict:
    """Run a night in a new process, as a Prefect worker runs each flow run: memory an earlier night left behind
    (Python and the allocator keep freed pages for reuse) would otherwise count against it — at profile L, nights
    run one after another in one process reached the 24 GB of this machine."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(night, ds).result()


def _landing_files(data_dir: Path, start: date, days: int, scale: float) -> None:
    """Generate the sample, or keep one a previous run left in `data_dir` at the same scale and for at least as many
    days (generation is deterministic and, at profile L, takes minutes); everything the nightlies wrote is removed."""
    from influence_pipeline.sample import generate

    landing = data_dir / "landing"
    kept = [int(m.name.rsplit("-", 2)[1]) for m in landing.glob(f".generated-{start}-*-{scale}")]
    for path in data_dir.glob("*") if data_dir.exists() else []:
        if path.is_dir() and path.name != "landing":
            shutil.rmtree(path)
        elif path.is_file():
            path.unlink()
    if not kept or max(kept) < days:
        shutil.rmtree(landing, ignore_errors=True)
        generate(landing, start, days, scale=scale, dirty_rate=0.01)
        (landing / f".generated-{start}-{days}-{scale}").touch()


def _forget_ingestion(data_dir: Path, day: date) -> None:
    """Make the next run of `day` ingest its landing files again, as its first run did: drop that day's entries
    from the raw lake's manifest (what tells ingestion a delivery was already read)."""
    from influence_pipeline.sources.manifest import MANIFEST_DIR

    for entry in (data_dir / "lake" / "raw" / MANIFEST_DIR).glob(f"*/landing_date={day.isoformat()}.json"):
        entry.unlink()


def run_benchmark(profile: str, days: int, data_dir: Path, also: tuple[int, ...] = (), rerun_back: int = 0,
                  again: bool = False) -> dict:
    """Generate `days` days at the profile's scale and run every nightly in order; time the last night and the
    nights of the days in `also` (the same history, so day 30 and day 90 compare like with like). With
    `rerun_back`, then time a rerun of the night that many days before the last (it replays the nights after it).
    With `again`, `data_dir` holds a previous run's nightlies through day `days`: only that night is run and timed
    again, its landing files ingested anew (what a code change needs measured, without rebuilding the history)."""
    scale = PROFILES[profile]["scale"]
    start = date(2026, 11, 1)
    os.environ.update(INFLUENCE_DATA_DIR=str(data_dir), PREFECT_LOGGING_LEVEL="WARNING")
    os.environ.setdefault("INFLUENCE_PII_KEY", "benchmark-3f9a1c7e52d04b86a9e1f2c7d5b3a08e6c4f1d29b7e5a3c0")
    if again:
        _forget_ingestion(data_dir, start + timedelta(days=days - 1))
    else:
        _landing_files(data_dir, start, days, scale)

    earlier = {}
    for i in range(0 if again else days - 1):
        if i + 1 in also:
            earlier[i + 1] = {"day": i + 1, **_in_fresh_process(_timed_night, start + timedelta(days=i))}
        else:
            _in_fresh_process(_untimed_night, start + timedelta(days=i))
    result = {"profile": profile, "scale": scale, "day": days,
              **_in_fresh_process(_timed_night, start + timedelta(days=days - 1)),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}}
    if earlier:
        result["earlier_nights"] = list(earlier.values())
        result["growth_vs_earlier"] = {str(day): round(result["wall_seconds"] / night["wall_seconds"], 3)
                                       for day, night in earlier.items()}
    if rerun_back:
        rerun = _in_fresh_process(_timed_night, start + timedelta(days=days - 1 - rerun_back))
        result["rerun"] = {"days_back": rerun_back, **rerun,
                           "vs_nightly": round(rerun["wall_seconds"] / result["wall_seconds"], 2)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="Time a nightly run stage by stage at a profile's scale.")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="S")
    parser.add_argument("--days", type=int, help="measure the night of this day (default: the profile's)")
    parser.add_argument("--json", type=Path, help="also write the result as JSON here")
    parser.add_argument("--data-dir", type=Path, help="keep the data here (default: a temporary folder)")
    parser.add_argument("--also-day", type=int, action="append", default=[],
                        help="also time the night of this earlier day, to compare (e.g. --days 90 --also-day 30)")
    parser.add_argument("--rerun-back", type=int, default=0,
                        help="then time a rerun of the night this many days before the last (e.g. 7)")
    parser.add_argument("--again", action="store_true",
                        help="--data-dir holds a previous run's nights through --days: time that night again only")
    args = parser.parse_args()
    if args.again and not args.data_dir:
        parser.error("--again needs the --data-dir of a previous run")
    for name, value in (("DO_NOT_TRACK", "1"), ("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
                        ("GX_ANALYTICS_ENABLED", "false")):
        os.environ.setdefault(name, value)
    days = args.days or PROFILES[args.profile]["days"]
    with tempfile.TemporaryDirectory() as tmp:
        result = run_benchmark(args.profile, days, args.data_dir or Path(tmp) / "data", tuple(args.also_day),
                               args.rerun_back, args.again)
    print(f"profile {result['profile']} (scale {result['scale']}), night of day {result['day']}: "
          f"{result['rows_in']:,} raw rows in, {result['wall_seconds']} s wall, peak RSS {result['peak_rss_mib']} MiB, "
          f"validation {result['validation_share']:.0%} of wall")
    print(f"{'stage':<16}{'seconds':>9}{'rows/s':>12}{'peak RSS MiB':>14}")
    for stage in result["stages"]:
        print(f"{stage['name']:<16}{stage['seconds']:>9.2f}{stage['rows_per_second']:>12,.0f}"
              f"{stage['peak_rss_mib']:>14,.1f}")
    for night in result.get("earlier_nights", []):
        print(f"night of day {night['day']}: {night['wall_seconds']} s wall, peak RSS {night['peak_rss_mib']} MiB; "
              f"day {result['day']} / day {night['day']} = {result['growth_vs_earlier'][str(night['day'])]:.2f}×")
    if rerun := result.get("rerun"):
        print(f"rerun of the night {rerun['days_back']} days back: {rerun['nights_built']} nights built and published "
              f"once, {rerun['wall_seconds']} s wall ({rerun['vs_nightly']}× a nightly), peak RSS "
              f"{rerun['peak_rss_mib']} MiB")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
