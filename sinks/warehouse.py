"""The warehouse writer: DuckDB (embedded default) or PostgreSQL, chosen by the URL.

Loading a partition is one transaction: delete that partition's rows, insert the new ones. A rerun therefore replaces
rather than duplicates, and a crash rolls back to the previous partition whole. Rows travel by each engine's bulk path
(DuckDB's Arrow scan, PostgreSQL's binary COPY encoded from Arrow), never row-by-row inserts.
"""
from __future__ import annotations

import io
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from influence_pipeline.sinks import pg_binary
from influence_pipeline.sinks.ddl import (
    EXISTING_COLUMNS_SQL,
    add_column_sql,
    comment_sql,
    create_schema_sql,
    create_table_sql,
    delete_all_sql,
    delete_partition_sql,
    delete_partitions_sql,
    incompatibilities,
    insert_from_sql,
    sa_table,
)
from influence_pipeline.sinks.lake_files import LakeFiles, duckdb_relation

#: What a load takes: a table, a stream of batches read as the engine takes them, or a table's lake files (whose
#: changed partitions need not fit in memory together).
Rows = pa.Table | pa.RecordBatchReader | LakeFiles


class IncompatibleSchemaError(RuntimeError):
    """A table in the warehouse cannot take the new definition without rewriting its data; nothing was written."""


class Warehouse(Protocol):
    def replace_partition(self, schema: str, table: str, rows: Rows, column: str, value: object) -> None: ...
    def replace_table(self, schema: str, table: str, rows: Rows) -> None: ...
    def replace_partitions(self, schema: str, table: str, rows: Rows, column: str, values: list[object]) -> None: ...
    def check_compatible(self, tables: list[tuple[str, str, pa.Schema]]) -> None: ...
    def run_statements(self, statements: list[str]) -> None: ...
    def transaction(self): ...
    def close(self) -> None: ...


def _definition(table: sa.Table) -> str:
    return f"{table.fullname}({','.join(table.c.keys())})"


class _PartitionLoader:
    """Both engines load the same way — create if missing, delete the slice, bulk-insert, in one transaction — and
    differ only in `_load`, which gets the table and the DELETE statement for the slice it replaces."""

    _prepared: set[str]
    DECLARES_KEYS = True  # PostgreSQL's B-tree keys cost little per load and guard the key at the database too

    def _load(self, target: sa.Table, rows: Rows, delete_sql: str) -> None:
        raise NotImplementedError

    def _existing_columns(self, schema: str, table: str) -> dict[str, str]:
        raise NotImplementedError

    def _preparation(self, target: sa.Table, existing: dict[str, str]) -> list[str]:
        """Once per table and connection: create it if missing, add the columns a contract gained (existing rows
        read them as null), and (re)state the comments BI tools show."""
        if _definition(target) in self._prepared:
            return []
        added = [add_column_sql(target, c.name) for c in target.columns if existing and c.name not in existing]
        return [create_schema_sql(target.schema), create_table_sql(target), *added, *comment_sql(target)]

    def check_compatible(self, tables: list[tuple[str, str, pa.Schema]]) -> None:
        """Raise before any write when a table's new definition would need its existing data rewritten."""
        problems = [f"{schema}.{table}: {problem}" for schema, table, arrow in tables
                    for problem in incompatibilities(sa_table(schema, table, arrow),
                                                     self._existing_columns(schema, table))]
        if problems:
            raise IncompatibleSchemaError(
                "the warehouse has tables the new contracts cannot load into without rewriting data; nothing was "
                "written. Migrate them deliberately (rename or drop the column, or the table to rebuild it): "
                + "; ".join(problems))

    def replace_partition(self, schema: str, table: str, rows: Rows, column: str, value: object) -> None:
        target = sa_table(schema, table, rows.schema, self.DECLARES_KEYS)
        self._load(target, rows, delete_partition_sql(target, column, value))

    def replace_partitions(self, schema: str, table: str, rows: Rows, column: str, values: list[object]) -> None:
        """Replace several partitions in one transaction: a row may move between them (a post re-dated), and a key
        must never be in two of them at once, even for a moment."""
        target = sa_table(schema, table, rows.schema, self.DECLARES_KEYS)
        self._load(target, rows, delete_partitions_sql(target, column, values))

    def replace_table(self, schema: str, table: str, rows: Rows) -> None:
        target = sa_table(schema, table, rows.schema, self.DECLARES_KEYS)
        self._load(target, rows, delete_all_sql(target))


class DuckDBWarehouse(_PartitionLoader):
    # DuckDB backs a primary key with an ART index that every load must update: measured on 2 M-row days, an
    # append grew from 3.2 s to 7.6 s over six days of history and replacing a day took 27 s, against 0.5 s flat
    # without it. Keys stay NOT NULL and are named in the table comment; uniqueness is the contracts' error rule,
    # checked before anything is published.
    DECLARES_KEYS = False
    # DuckDB's default memory limit is 80 % of the machine, and a night's load (one transaction) peaked at 6.3 GiB
    # of RSS at profile L (7.4 GiB to reload the whole lake). With these settings the same loads peaked at 1.9 and
    # 3.0 GiB and took 8.7 s instead of 17.3 s (benchmarks/warehouse_memory.py). Rows need no insertion order: SQL
    # gives none without ORDER BY. Set after connecting, as settings of this database: a connection opened with a
    # different config would be refused while another one to the same file is open in the process.
    SETTINGS = ("SET memory_limit = '2GB'", "SET preserve_insertion_order = false")

    def __init__(self, path: Path):
        import duckdb

        path.parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(str(path))
        for statement in self.SETTINGS:
            self._con.execute(statement)
        self._prepared = set()
        self._depth = 0

    @contextmanager
    def transaction(self):
        """One transaction around everything inside, however deeply nested: a night's tables and its audit row
        commit together or not at all."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._con.begin()
        self._depth = 1
        try:
            yield
            self._con.commit()
        except BaseException:
            self._con.rollback()
            self._prepared.clear()  # tables created inside the rolled-back transaction are gone again
            raise
        finally:
            self._depth = 0

    def _existing_columns(self, schema: str, table: str) -> dict[str, str]:
        return dict(self._con.execute(EXISTING_COLUMNS_SQL.format(param="?"), [schema, table]).fetchall())

    def _load(self, target: sa.Table, rows: Rows, delete_sql: str) -> None:
        with self.transaction():
            for statement in self._preparation(target, self._existing_columns(target.schema, target.name)):
                self._con.execute(statement)
            self._con.execute(delete_sql)
            if isinstance(rows, LakeFiles) and rows.readable_by_duckdb:
                if (relation := duckdb_relation(self._con, rows)) is not None:
                    relation.create_view("incoming_rows", replace=True)
                    self._con.execute(insert_from_sql(target, "incoming_rows"))
                    self._con.execute("DROP VIEW incoming_rows")
            else:
                self._con.register("incoming_rows", _arrow(rows))
                self._con.execute(insert_from_sql(target, "incoming_rows"))
                self._con.unregister("incoming_rows")
            self._prepared.add(_definition(target))

    def run_statements(self, statements: list[str]) -> None:
        with self.transaction():
            for statement in statements:
                self._con.execute(statement)

    def fetch(self, sql: str, params: list) -> list[tuple]:
        return self._con.execute(sql.format(param="?"), params).fetchall()

    def close(self) -> None:
        self._con.close()


class PostgresWarehouse(_PartitionLoader):
    def __init__(self, url: str):
        import psycopg

        parsed = make_url(url)
        self._conn = psycopg.connect(
            host=parsed.host or "127.0.0.1", port=parsed.port or 5432, user=parsed.username,
            password=parsed.password, dbname=parsed.database, autocommit=False,
        )
        # The statements carry their values as standard literals (sinks.ddl.sql_literal); a server configured the
        # pre-9.1 way would read a backslash in a comment as an escape. Set per session rather than as a startup
        # option, which connection poolers such as PgBouncer refuse.
        if self._conn.info.parameter_status("standard_conforming_strings") != "on":
            with self._conn.transaction():
                self._conn.execute("SET standard_conforming_strings = on")
        self._prepared = set()

    def _existing_columns(self, schema: str, table: str) -> dict[str, str]:
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute(EXISTING_COLUMNS_SQL.format(param="%s"), [schema, table])
            return dict(cur.fetchall())

    def _load(self, target: sa.Table, rows: Rows, delete_sql: str) -> None:
        with self.transaction():
            with self._conn.cursor() as cur:
                existing = self._columns_in(cur, target)
                preparation = self._preparation(target, existing)
                for statement in preparation:
                    cur.execute(statement)
                if preparation:  # created or gained columns: binary COPY needs the types as they are now
                    existing = self._columns_in(cur, target)
                cur.execute(delete_sql)
                for piece in _pieces(rows):
                    self._copy(cur, target, piece, existing)
            self._prepared.add(_definition(target))

    @staticmethod
    def _columns_in(cur, target: sa.Table) -> dict[str, str]:
        cur.execute(EXISTING_COLUMNS_SQL.format(param="%s"), [target.schema, target.name])
        return dict(cur.fetchall())

    @staticmethod
    def _copy(cur, target: sa.Table, rows: pa.Table, column_types: dict[str, str]) -> None:
        """COPY the rows in, binary when every column casts exactly to its column's type (sinks.pg_binary: nothing
        for the server to parse, and in key order), else CSV, where the server converts or rejects each value as it
        always did."""
        from psycopg import sql

        columns = sql.SQL(", ").join(map(sql.Identifier, rows.column_names))
        name = sql.SQL("{}.{}").format(sql.Identifier(target.schema), sql.Identifier(target.name))
        stream = pg_binary.encode(rows, column_types, [c.name for c in target.primary_key.columns])
        if stream is not None:
            with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT binary)").format(name, columns)) as pipe:
                for piece in stream:
                    pipe.write(piece)
            return
        buffer = io.BytesIO()
        # pyarrow quotes every string, so "" is an empty string and an unquoted empty field is NULL to COPY. Chunks
        # combined first: pyarrow 26's CSV writer emits NUL bytes for a table whose first chunks are empty (measured
        # on a concatenation of empty and filled partitions).
        pacsv.write_csv(rows.combine_chunks(), buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER false)").format(name, columns)) as pipe:
            pipe.write(buffer.getbuffer())

    @contextmanager
    def transaction(self):
        """One transaction around everything inside (psycopg turns the nested ones into savepoints)."""
        try:
            with self._conn.transaction():
                yield
        except BaseException:
            self._prepared.clear()
            raise

    def run_statements(self, statements: list[str]) -> None:
        with self.transaction(), self._conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)

    def fetch(self, sql: str, params: list) -> list[tuple]:
        with self.transaction(), self._conn.cursor() as cur:
            cur.execute(sql.format(param="%s"), params)
            return cur.fetchall()

    def close(self) -> None:
        self._conn.close()


def _pieces(rows: Rows):
    """A stream loads a batch at a time, each by its own COPY in the same transaction: binary or CSV is decided per
    batch, and only one batch is encoded at once."""
    if isinstance(rows, pa.Table):
        yield rows
        return
    for batch in _arrow(rows):
        yield pa.Table.from_batches([batch])


def _arrow(rows: Rows):
    """Rows as Arrow: lake files as a stream of their batches, anything else as it is."""
    return rows.stream() if isinstance(rows, LakeFiles) else rows


def connect_warehouse(url: str) -> Warehouse:
    """Open the warehouse named by a SQLAlchemy-style URL: duckdb:///path or postgresql+psycopg://…"""
    parsed = make_url(url)
    if parsed.get_backend_name() == "duckdb":
        return DuckDBWarehouse(Path(parsed.database))
    if parsed.get_backend_name() == "postgresql":
        return PostgresWarehouse(url)
    raise ValueError(f"unsupported warehouse URL scheme {parsed.drivername!r}: use duckdb:/// or postgresql+psycopg://")
