"""Time and peak memory of publishing a night into the warehouse, alone, on a data dir the nightlies left
(e.g. `python -m benchmarks.run --profile L --data-dir D`, then `python -m benchmarks.warehouse_memory --data-dir D`).

Two loads, each in a fresh process so that neither counts memory the other left behind:
- `incremental`: the warehouse holds the night before and takes only the partitions the last night changed (what a
  nightly does);
- `full`: an empty warehouse takes the whole last snapshot (a new database, or one restored from a backup).
The warehouse the nightlies wrote is left alone: both loads go into scratch files beside it.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import polars as pl


def _snapshots(lake: Path):
    from influence_pipeline.sinks.snapshots import current, snapshot

    new = current(lake)
    earlier = [name for night, name in sorted(new.nights.items()) if name and night < new.night]
    return (snapshot(lake, earlier[-1]) if earlier else None), new


def _load(url: str, lake: Path, incremental: bool, measured: bool) -> dict:
    """Load the last night into the warehouse at `url` (from the night before when `incremental`); measured: the
    seconds and this process's peak RSS."""
    from influence_pipeline.schemas.contract import load_contracts, polars_schema
    from influence_pipeline.sinks.sync import load_snapshot
    from influence_pipeline.sinks.warehouse import connect_warehouse

    old, new = _snapshots(lake)
    audit = pl.DataFrame(schema=polars_schema(load_contracts()["run_sources"]))
    warehouse = connect_warehouse(url)
    try:
        if not measured:  # bring the warehouse to the night before
            load_snapshot(warehouse, None, old, audit, "prepare", [])
            return {}
        started = time.perf_counter()
        files = load_snapshot(warehouse, old if incremental else None, new, audit, "benchmark", [])
        seconds = time.perf_counter() - started
    finally:
        warehouse.close()
    return {"files": files, "seconds": round(seconds, 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _fresh(*args) -> dict:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_load, *args).result()


def measure(data_dir: Path) -> dict:
    lake = data_dir / "lake"
    scratch = data_dir / "warehouse-memory-benchmark"
    scratch.mkdir(exist_ok=True)
    results = {}
    for mode in ("incremental", "full"):
        target = scratch / f"{mode}.duckdb"
        target.unlink(missing_ok=True)
        url = f"duckdb:///{target}"
        if mode == "incremental":
            _fresh(url, lake, False, False)
        results[mode] = _fresh(url, lake, mode == "incremental", True)
        target.unlink(missing_ok=True)
    scratch.rmdir()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="Time and peak RSS of loading the last night into DuckDB.")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = measure(args.data_dir)
    for mode, figures in result.items():
        print(f"{mode:<12} {figures['files']:>5} files {figures['seconds']:>8.2f} s  peak RSS "
              f"{figures['peak_rss_mib']:>9,.1f} MiB")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
