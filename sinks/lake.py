"""The Parquet lake: Hive-partitioned tables under <lake>/<layer>/<table>/<column>=<value>/part-0.parquet.

One file per partition, written as a temporary (influence_pipeline.atomic: in the data dir's staging directory, out of
any glob over the lake) and moved into place with os.replace, so a reader (or a crash) sees either the previous
partition whole or the new one whole, never half of one.
"""
from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from influence_pipeline.atomic import TMP_MARK, sweep_staged, write_atomic

PART_FILE = "part-0.parquet"


def table_dir(lake_dir: Path, layer: str, table: str) -> Path:
    return lake_dir / layer / table


def partition_file(lake_dir: Path, layer: str, table: str, column: str, value: date) -> Path:
    return table_dir(lake_dir, layer, table) / f"{column}={value.isoformat()}" / PART_FILE


def _atomic_write(table: pa.Table, path: Path) -> None:
    write_atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd", write_statistics=True))


def write_partition(frame: pl.DataFrame | pa.Table, lake_dir: Path, layer: str, table: str, column: str,
                    value: date) -> Path:
    """Replace one date partition of a table. The partition column lives in the path, not in the file."""
    arrow = frame.to_arrow() if isinstance(frame, pl.DataFrame) else frame
    if column in arrow.column_names:
        arrow = arrow.drop_columns([column])
    path = partition_file(lake_dir, layer, table, column, value)
    _atomic_write(arrow, path)
    return path


def write_partition_query(query: pl.LazyFrame, lake_dir: Path, layer: str, table: str, column: str,
                          value: date) -> Path:
    """Replace one date partition with the rows of `query`, in its order, streamed to the file: a table too large
    to hold (a staged table kept on disk by its run) is never collected. Atomic like write_partition."""
    names = [name for name in query.collect_schema().names() if name != column]
    path = partition_file(lake_dir, layer, table, column, value)
    write_atomic(path, lambda tmp: query.select(names).sink_parquet(tmp, compression="zstd", statistics=True))
    return path


def write_partition_tables(tables: Iterable[pa.Table], schema: pa.Schema, lake_dir: Path, layer: str, table: str,
                           column: str, value: date) -> int:
    """Replace one date partition with `tables` (of `schema`, without the partition column) written one after
    another: memory holds one of them, not the partition. Returns the rows written. Atomic like write_partition: an
    error while the tables are produced leaves the previous partition in place."""
    pieces = iter(tables)
    first = next(pieces, None)  # a file unreadable from its start leaves no trace, not even a folder
    rows = 0

    def write(tmp: Path) -> None:
        nonlocal rows
        with pq.ParquetWriter(tmp, schema, compression="zstd", write_statistics=True) as writer:
            for piece in itertools.chain([first] if first is not None else [], pieces):
                writer.write_table(piece)
                rows += piece.num_rows

    write_atomic(partition_file(lake_dir, layer, table, column, value), write)
    return rows


def write_whole(frame: pl.DataFrame | pa.Table, lake_dir: Path, layer: str, table: str) -> Path:
    """Replace a non-partitioned table (a dimension) as a whole."""
    arrow = frame.to_arrow() if isinstance(frame, pl.DataFrame) else frame
    path = table_dir(lake_dir, layer, table) / PART_FILE
    _atomic_write(arrow, path)
    return path


def scan_partition(lake_dir: Path, layer: str, table: str, column: str, value: date,
                   schema: pa.Schema) -> pl.LazyFrame:
    """Lazily read one partition; a partition never written reads as an empty frame of `schema`."""
    path = partition_file(lake_dir, layer, table, column, value)
    if not path.exists():
        return pl.LazyFrame(schema=pl.Schema(schema))
    return pl.scan_parquet(path)


def sweep_temporaries(root: Path, skip: tuple[Path, ...] = ()) -> int:
    """Delete, anywhere under `root` but in the folders of `skip`, every temporary a dead writer left (its staging
    directory included), whatever its age; returns how many. Live writers' temporaries stay (influence_pipeline.atomic)."""
    swept = 0
    skipped = {str(path.absolute()) for path in skip}
    for directory, folders, names in os.walk(root):
        folders[:] = [f for f in folders if str(Path(directory, f).absolute()) not in skipped]
        if any(name.startswith(TMP_MARK) for name in (*folders, *names)):
            swept += sweep_staged(Path(directory))
            folders[:] = [f for f in folders if not f.startswith(TMP_MARK)]  # swept with their temporary
    return swept


def _conformed(frame: pl.LazyFrame, schema: pl.Schema) -> pl.LazyFrame:
    """`frame` with the columns of `schema`: one its file predates (added to the contract later) reads as null."""
    present = set(frame.collect_schema().names())
    missing = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in schema.items() if name not in present]
    return frame.with_columns(missing).select(schema.names())


def scan_history(lake_dir: Path, layer: str, table: str, column: str, start: date, end: date,
                 schema: pl.Schema) -> pl.LazyFrame:
    """The partitions of `table` from `start` to `end` (inclusive), with the partition column restored. Only those
    files are opened, so a nightly's cost does not grow with the table's history."""
    frames = []
    day = start
    while day <= end:
        path = partition_file(lake_dir, layer, table, column, day)
        if path.exists():
            frames.append(pl.scan_parquet(path).with_columns(pl.lit(day, dtype=pl.Date).alias(column)))
        day += timedelta(days=1)
    if not frames:
        return pl.LazyFrame(schema=schema)
    return _conformed(pl.concat(frames, how="diagonal_relaxed"), schema)


def scan_whole(lake_dir: Path, layer: str, table: str, schema: pl.Schema) -> pl.LazyFrame:
    """Lazily read a non-partitioned table; one never written reads as an empty frame of `schema`."""
    path = table_dir(lake_dir, layer, table) / PART_FILE
    if not path.exists():
        return pl.LazyFrame(schema=schema)
    return _conformed(pl.scan_parquet(path), schema)
