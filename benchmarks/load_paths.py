"""Warehouse load speed: N rows of a realistic mart (fct_visit's shape) into DuckDB and PostgreSQL through the
pipeline's own loaders (one transaction: delete the partition, bulk insert).

    python -m benchmarks.load_paths [--rows 1000000] [--pg-url postgresql+psycopg://…]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl

from influence_pipeline.schemas.contract import load_contracts, polars_schema
from influence_pipeline.sinks.warehouse import connect_warehouse

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pg-url")
    args = parser.parse_args()
    rows = visits(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        seconds = time_load(f"duckdb:///{Path(tmp) / 'bench.duckdb'}", rows)
        print(f"duckdb      {args.rows:>10,} rows  {seconds:6.2f} s  {args.rows / seconds:>12,.0f} rows/s")
    if args.pg_url:
        seconds = time_load(args.pg_url, rows)
        print(f"postgresql  {args.rows:>10,} rows  {seconds:6.2f} s  {args.rows / seconds:>12,.0f} rows/s")


if __name__ == "__main__":
    main()
