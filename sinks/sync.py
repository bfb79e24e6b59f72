"""The warehouse follows the lake: publishing a night loads exactly the partitions its snapshot holds differently
from the snapshot the warehouse holds, plus the night's audit rows and the published-night record, in one
transaction. The lake is the source of truth; a warehouse that lost track (a new database, a restored backup) is
reloaded whole from the snapshot rather than patched."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from influence_pipeline.schemas.contract import load_contracts, polars_schema
from influence_pipeline.sinks.ddl import render
from influence_pipeline.sinks.lake_files import LakeFile, LakeFiles
from influence_pipeline.sinks.snapshots import Snapshot, changed_files, partition_files
from influence_pipeline.sinks.warehouse import Warehouse

RECORD_TABLE = ("audit", "published_night")


#: Rows per batch streamed from the lake into the warehouse: a table's changed partitions are never all in memory
#: at once (a profile-L day of raw web events is 2 M rows).
BATCH_ROWS = 256 * 1024


def _partition_value(part: str | None) -> tuple[str, date] | None:
    if part is None:
        return None
    column, value = part.split("=", 1)
    return column, date.fromisoformat(value)


def _published_schema(table: str, part: str | None, file_schema: pa.Schema) -> pa.Schema:
    """A lake file's schema as the warehouse table holds it: the partition column (kept in the path) restored, in
    the contract's column order (quarantine tables, without a contract of their own, keep it last)."""
    schema = file_schema.remove_metadata()
    if (partition := _partition_value(part)) is not None:
        schema = schema.append(pa.field(partition[0], pa.date32()))
    contract = load_contracts().get(table)
    if contract is not None and contract.layer != "raw":
        schema = pa.schema([schema.field(p.name) for p in contract.properties])
    return schema


def _conformed(batch: pa.RecordBatch, part: str | None, schema: pa.Schema) -> pa.RecordBatch:
    """`batch` with its partition column restored and every column of `schema`, in its order and type (a column an
    older file lacks reads null)."""
    if (partition := _partition_value(part)) is not None:
        batch = batch.append_column(pa.field(partition[0], pa.date32()),
                                    pa.array([partition[1]] * batch.num_rows, pa.date32()))
    names = batch.schema.names
    columns = []
    for field in schema:
        if field.name not in names:
            columns.append(pa.nulls(batch.num_rows, field.type))
        else:
            column = batch.column(field.name)
            columns.append(column if column.type == field.type else column.cast(field.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def published_files(table: str, files: list[tuple[str | None, Path]]) -> LakeFiles | None:
    """A table's lake `files` ((partition dir or None, path)) as the warehouse loads them; None without files. The
    columns are those of the files with rows, types widened where files differ (an all-null column takes its type
    from the others); all empty: the first one's. Each footer is read once."""
    if not files:
        return None
    opened = []
    for part, path in files:
        with pq.ParquetFile(path) as parquet:
            opened.append((part, path, parquet.schema_arrow, parquet.metadata.num_rows))
    schemas = [(_published_schema(table, part, schema), rows) for part, _, schema, rows in opened]
    schema = pa.unify_schemas([s for s, rows in schemas if rows] or [schemas[0][0]], promote_options="permissive")

    def batches():
        for part, path in files:
            with pq.ParquetFile(path) as parquet:
                for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
                    yield _conformed(batch, part, schema)

    return LakeFiles(schema, tuple(LakeFile(path, _partition_value(part), frozenset(file_schema.names), rows)
                                   for part, path, file_schema, rows in opened),
                     lambda: pa.RecordBatchReader.from_batches(schema, batches()))


def published_rows(table: str, files: list[tuple[str | None, Path]]) -> pa.RecordBatchReader | None:
    """The rows of a table's lake `files` as one stream of batches (see published_files), read a batch at a time as
    the warehouse takes them; None without files."""
    lake = published_files(table, files)
    return None if lake is None else lake.stream()


def warehouse_snapshot(warehouse: Warehouse) -> str | None:
    """The snapshot id the warehouse last committed, or None for a warehouse that never published one."""
    schema, table = RECORD_TABLE
    if not warehouse.fetch("SELECT column_name FROM information_schema.columns WHERE table_schema = {param} "
                           "AND table_name = {param}", [schema, table]):
        return None
    rows = warehouse.fetch(render(sa.select(sa.column("snapshot_id")).select_from(sa.table(table, schema=schema))), [])
    return rows[0][0] if rows else None


def _record(snapshot: Snapshot, run_id: str) -> pa.Table:
    contract = load_contracts()[RECORD_TABLE[1]]
    return pl.DataFrame([{"snapshot_id": snapshot.id, "night_date": snapshot.night, "run_id": run_id,
                          "published_at": datetime.now(timezone.utc)}], schema=polars_schema(contract)).to_arrow()


def load_snapshot(warehouse: Warehouse, old: Snapshot | None, new: Snapshot, audit: pl.DataFrame, run_id: str,
                  statements: list[str]) -> int:
    """Make the warehouse equal `new` in one transaction: the partitions changed since `old` (every table, whole,
    when the warehouse does not hold `old`), `audit` (rows of each run id replaced), the views in `statements`, and
    the published-night record. Returns how many files were loaded."""
    held = warehouse_snapshot(warehouse)
    incremental = old is not None and held == old.id
    if incremental:
        changed = changed_files(old.path, new.path)
    else:
        changed = [(*key, path) for key, path in partition_files(new.path).items()]
    by_table: dict[tuple[str, str], list[tuple[str | None, Path | None]]] = defaultdict(list)
    for layer, table, part, path in changed:
        by_table[(layer, table)].append((part, path))
    with warehouse.transaction():
        for (layer, table), parts in by_table.items():
            rows = published_files(table, [(part, path) for part, path in parts if path is not None])
            whole = parts[0][0] is None
            if whole or not incremental:
                if rows is not None:
                    warehouse.replace_table(layer, table, rows)
                continue
            column = parts[0][0].split("=", 1)[0]
            values = [date.fromisoformat(part.split("=", 1)[1]) for part, _ in parts]
            if rows is None:  # nightlies rewrite partitions but never remove one: nothing to load
                continue
            warehouse.replace_partitions(layer, table, rows, column, values)
        for run in audit["run_id"].unique(maintain_order=True).to_list():
            warehouse.replace_partition("audit", "run_sources", audit.filter(pl.col("run_id") == run).to_arrow(),
                                        "run_id", run)
        warehouse.run_statements(statements)
        warehouse.replace_table(*RECORD_TABLE, _record(new, run_id))
    return sum(1 for *_, path in changed if path is not None)
