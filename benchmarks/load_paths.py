"""Warehouse load speed: N rows of a realistic mart (fct_visit's shape) into DuckDB and PostgreSQL through the
pipeline's own loaders (one transaction: delete the partition, bulk insert), against SQLAlchemy executemany on each
engine (issue 18: "at least 10x faster than SQLAlchemy executemany on both engines").

    python -m benchmarks.load_paths [--rows 1000000] [--baseline-rows 50000] [--pg-url postgresql+psycopg://…]
                                    [--json OUT] [--note TEXT]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks.load_baseline import time_executemany
from influence_pipeline.schemas.contract import load_contracts, polars_schema
from influence_pipeline.sinks.warehouse import DuckDBWarehouse, PostgresWarehouse, connect_warehouse

DAY = date(2026, 11, 2)


def visits(n: int) -> pl.DataFrame:
    """n synthetic rows with fct_visit's contract schema (strings, timestamps, integers, booleans)."""
    rng = np.random.default_rng(7)
    start = datetime(2026, 11, 2, tzinfo=timezone.utc)
    at = pl.Series([start + timedelta(seconds=int(s)) for s in rng.integers(0, 86_400, n)])
    frame = pl.DataFrame({
        "visit_id": [f"anon-{i}@{i}" for i in range(n)], "anonymous_id": [f"anon-{i % (n // 3 + 1)}" for i in range(n)],
        "visit_started_at": at, "visit_ended_at": at,
        "channel": rng.choice(["direct", "influencer", "email", "paid_search"], n),
        "events": rng.integers(1, 9, n), "page_views": rng.integers(0, 8, n),
        "has_signup": rng.random(n) < 0.02, "has_checkout": rng.random(n) < 0.01,
        "landing_page_url": "https://shop.example.com/products/x?utm_source=instagram", "visit_date": DAY})
    schema = polars_schema(load_contracts()["fct_visit"])
    return frame.with_columns([pl.lit(None, dtype).alias(c) for c, dtype in schema.items() if c not in frame.columns]
                              ).select([pl.col(c).cast(t) for c, t in schema.items()])


def time_load(url: str, rows: pl.DataFrame) -> float:
    arrow = rows.to_arrow()
    warehouse = connect_warehouse(url)
    try:
        warehouse.replace_partition("marts", "fct_visit", arrow.slice(0, 10), "visit_date", DAY)  # create, warm up
        started = time.perf_counter()
        warehouse.replace_partition("marts", "fct_visit", arrow, "visit_date", DAY)
        return time.perf_counter() - started
    finally:
        warehouse.close()


def measure(engine: str, url: str, rows: pl.DataFrame, baseline_rows: int) -> dict:
    pipeline_seconds = time_load(url, rows)
    # Same table definition as the pipeline's loader on this engine (DuckDB leaves the key undeclared), so the two
    # paths differ only in how the rows travel.
    declare_key = (PostgresWarehouse if engine == "postgresql" else DuckDBWarehouse).DECLARES_KEYS
    baseline_seconds, how = time_executemany(url, rows.head(baseline_rows), declare_key, DAY)
    result = {"pipeline_rows": rows.height, "pipeline_seconds": round(pipeline_seconds, 3),
              "pipeline_rows_per_second": round(rows.height / pipeline_seconds),
              "baseline_rows": min(baseline_rows, rows.height), "baseline_seconds": round(baseline_seconds, 3),
              "baseline_rows_per_second": round(min(baseline_rows, rows.height) / baseline_seconds)}
    result["speedup"] = round(result["pipeline_rows_per_second"] / result["baseline_rows_per_second"], 1)
    for path in ("pipeline", "baseline"):
        print(f"{engine:<11} {path:<9} {result[f'{path}_rows']:>10,} rows  {result[f'{path}_seconds']:8.2f} s  "
              f"{result[f'{path}_rows_per_second']:>12,} rows/s")
    print(f"{engine:<11} speedup   {result['speedup']:.1f}x")
    return result | {"baseline_path": how}


def machine() -> dict:
    versions = {}
    for package in ("duckdb", "sqlalchemy", "duckdb-engine", "psycopg", "polars", "pyarrow"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"cpus": os.cpu_count(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), "platform": platform.platform(), "versions": versions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    # executemany is about two orders of magnitude slower on DuckDB: the full row count would take many minutes
    parser.add_argument("--baseline-rows", type=int, default=50_000)
    parser.add_argument("--pg-url")
    parser.add_argument("--json", type=Path, help="also write the result as JSON here")
    parser.add_argument("--note", help="recorded in the JSON, e.g. what else the machine was doing")
    args = parser.parse_args()
    rows = visits(args.rows)
    result = {"benchmark": shlex.join(["python", "-m", "benchmarks.load_paths", *sys.argv[1:]]), "machine": machine(),
              "load_average_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        result["duckdb"] = measure("duckdb", f"duckdb:///{Path(tmp) / 'bench.duckdb'}", rows, args.baseline_rows)
    if args.pg_url:
        result["postgresql"] = measure("postgresql", args.pg_url, rows, args.baseline_rows)
    result["load_average_after"] = os.getloadavg()
    if args.note:
        result["note"] = args.note
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
