"""Ingest of one landing file side by side with plain native readers, each in a fresh process (time and peak RSS):

- the pipeline's ingest (`ingest_dataset`: read, PII hashing, raw Parquet partition, manifest), native decoding;
- the same with the per-line reader forced (what every file took before the native reader);
- DuckDB `read_json` → Parquet and Polars `scan_ndjson` → `sink_parquet`: no PII, no quarantine, no line numbers.

    python -m benchmarks.ingest_compare [--scale 40] [--data-dir DIR] [--dataset web_events] [--json OUT]
                                        [--readers pipeline_native,duckdb_read_json] [--repeat 1]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

DAY = date(2026, 11, 2)
KEY = b"benchmark-pii-key-32-bytes-long!"


def _pipeline(path: Path, dataset_name: str, lake: Path, native: bool) -> int:
    from influence_pipeline.schemas.raw import BY_NAME
    from influence_pipeline.sources import ndjson_native
    from influence_pipeline.sources.ingest import ingest_dataset

    if not native:
        ndjson_native.NATIVE_MIN_BYTES = 1 << 62
    dataset = BY_NAME[dataset_name]
    landing = path.parents[2]
    return ingest_dataset(dataset, landing, lake, DAY, "benchmark", KEY).rows


def _duckdb(path: Path, out: Path) -> int:
    import duckdb

    with duckdb.connect() as con:
        con.execute("COPY (SELECT * FROM read_json(?, ignore_errors = true)) TO ? (FORMAT parquet)",
                    [str(path), str(out / "duckdb.parquet")])
        return con.execute("SELECT count(*) FROM read_parquet(?)", [str(out / "duckdb.parquet")]).fetchone()[0]


def _polars(path: Path, out: Path) -> int:
    import polars as pl

    pl.scan_ndjson(path, ignore_errors=True, infer_schema_length=10_000).sink_parquet(out / "polars.parquet")
    return pl.scan_parquet(out / "polars.parquet").select(pl.len()).collect().item()


#: label → (runner, extra arguments of the pipeline runner)
READERS = {"pipeline_native": ("pipeline", (True,)), "duckdb_read_json": ("duckdb", ()),
           "polars_scan_ndjson": ("polars", ()), "pipeline_per_line": ("pipeline", (False,))}


def _timed(queue, name: str, args: tuple) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    rows = {"pipeline": _pipeline, "duckdb": _duckdb, "polars": _polars}[name](*args)
    # CPU seconds (all threads) beside the wall time: on a shared machine they vary less with the others' load
    queue.put({"seconds": round(time.perf_counter() - started, 2), "cpu_seconds": round(time.process_time() - cpu, 2),
               "rows": rows, "peak_rss_mib": _peak_rss_mib()})


def _peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM: getrusage's maxrss would carry over the parent's peak into a spawned child)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def measure(name: str, *args) -> dict:
    context = multiprocessing.get_context("spawn")  # a fresh process: no memory a previous variant kept
    queue = context.Queue()
    child = context.Process(target=_timed, args=(queue, name, args))
    child.start()
    result = queue.get()
    child.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=40.0)
    parser.add_argument("--data-dir", type=Path, help="keep (or reuse) the generated landing day here")
    parser.add_argument("--dataset", default="web_events")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--readers", default=",".join(READERS),
                        help="comma-separated subset of " + ", ".join(READERS))
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each reader, interleaved; the fastest is kept (a shared machine's load varies)")
    args = parser.parse_args()
    from influence_pipeline.sample import generate
    from influence_pipeline.schemas.raw import BY_NAME

    root = args.data_dir or Path(tempfile.mkdtemp(prefix="ingest-compare-"))
    dataset = BY_NAME[args.dataset]
    path = root / "landing" / dataset.source / DAY.isoformat() / dataset.file
    if not path.exists():
        generate(root / "landing", DAY, 1, scale=args.scale)
    size = path.stat().st_size
    labels = args.readers.split(",")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for run in range(args.repeat):
            for label in labels:
                name, extra = READERS[label]
                out = Path(scratch) / f"{label}-{run}"
                out.mkdir()
                call = (path, args.dataset, out / "lake", *extra) if name == "pipeline" else (path, out)
                got = measure(name, *call)
                print(f"{label:22} {got['seconds']:7.2f} s  {got['cpu_seconds']:7.2f} s CPU  "
                      f"{got['peak_rss_mib']:8.1f} MiB  {got['rows']} rows")
                if label not in results or got["seconds"] < results[label]["seconds"]:
                    results[label] = got
    ratio = None
    if {"pipeline_native", "duckdb_read_json"} <= results.keys():
        base = results["duckdb_read_json"]
        ratio = {name: round(results["pipeline_native"][key] / base[key], 2)
                 for name, key in (("time", "seconds"), ("cpu", "cpu_seconds"), ("memory", "peak_rss_mib"))}
        print(f"pipeline (native) ÷ DuckDB read_json: {ratio['time']}× time, {ratio['cpu']}× CPU, "
              f"{ratio['memory']}× memory")
    if args.json:
        args.json.write_text(json.dumps({
            "benchmark": "ingest_compare", "date": date.today().isoformat(), "scale": args.scale,
            "dataset": args.dataset, "file_bytes": size, "repeat": args.repeat, "results": results,
            "native_vs_duckdb": ratio,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg": os.getloadavg()},
        }, indent=2) + "\n")


if __name__ == "__main__":
    main()
