"""The warehouse writer: DuckDB (embedded default) or PostgreSQL, chosen by the URL.

Loading a partition is one transaction: delete that partition's rows, insert the new ones. A rerun therefore replaces
rather than duplicates, and a crash rolls back to the previous partition whole. Rows travel by each engine's bulk path
(DuckDB's Arrow scan, PostgreSQL's COPY), never row-by-row inserts.
"""
from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from sinks.ddl import (
    EXISTING_COLUMNS_SQL, add_column_sql, create_schema_sql, create_table_sql, delete_all_sql, delete_partition_sql,
    insert_from_sql, sa_table,
)


class Warehouse(Protocol):
    def replace_partition(self, schema: str, table: str, rows: pa.Table, column: str, value: object) -> None: ...
    def replace_table(self, schema: str, table: str, rows: pa.Table) -> None: ...
    def close(self) -> None: ...


class _PartitionLoader:
    """Both engines load the same way — create if missing, delete the slice, bulk-insert, in one transaction — and
    differ only in `_load`, which gets the table and the DELETE statement for the slice it replaces."""

    def _load(self, target: sa.Table, rows: pa.Table, delete_sql: str) -> None:
        raise NotImplementedError

    @staticmethod
    def _evolve(target: sa.Table, existing: set[str]) -> list[str]:
        """ALTER statements for the columns the table lacks: a column added to a contract appears on the next run,
        existing rows read it as null."""
        return [add_column_sql(target, c.name) for c in target.columns if existing and c.name not in existing]

    def replace_partition(self, schema: str, table: str, rows: pa.Table, column: str, value: object) -> None:
        target = sa_table(schema, table, rows.schema)
        self._load(target, rows, delete_partition_sql(target, column, value))

    def replace_table(self, schema: str, table: str, rows: pa.Table) -> None:
        target = sa_table(schema, table, rows.schema)
        self._load(target, rows, delete_all_sql(target))


class DuckDBWarehouse(_PartitionLoader):
    def __init__(self, path: Path):
        import duckdb

        path.parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(str(path))

    def _load(self, target: sa.Table, rows: pa.Table, delete_sql: str) -> None:
        self._con.execute(create_schema_sql(target.schema))
        self._con.execute(create_table_sql(target))
        self._con.begin()
        try:
            existing = {r[0] for r in self._con.execute(EXISTING_COLUMNS_SQL.format(param="?"),
                                                        [target.schema, target.name]).fetchall()}
            for statement in self._evolve(target, existing):
                self._con.execute(statement)
            self._con.execute(delete_sql)
            self._con.register("incoming_rows", rows)
            self._con.execute(insert_from_sql(target, "incoming_rows"))
            self._con.unregister("incoming_rows")
            self._con.commit()
        except BaseException:
            self._con.rollback()
            raise

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

    def _load(self, target: sa.Table, rows: pa.Table, delete_sql: str) -> None:
        from psycopg import sql

        copy = sql.SQL("COPY {}.{} ({}) FROM STDIN WITH (FORMAT csv, HEADER false)").format(
            sql.Identifier(target.schema), sql.Identifier(target.name),
            sql.SQL(", ").join(map(sql.Identifier, rows.column_names)))
        buffer = io.BytesIO()
        # pyarrow quotes every string, so "" is an empty string and an unquoted empty field is NULL to COPY.
        pacsv.write_csv(rows, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        with self._conn.transaction():
            with self._conn.cursor() as cur:
                cur.execute(create_schema_sql(target.schema))
                cur.execute(create_table_sql(target))
                cur.execute(EXISTING_COLUMNS_SQL.format(param="%s"), [target.schema, target.name])
                for statement in self._evolve(target, {r[0] for r in cur.fetchall()}):
                    cur.execute(statement)
                cur.execute(delete_sql)
                with cur.copy(copy) as pipe:
                    pipe.write(buffer.getbuffer())

    def close(self) -> None:
        self._conn.close()


def connect_warehouse(url: str) -> Warehouse:
    """Open the warehouse named by a SQLAlchemy-style URL: duckdb:///path or postgresql+psycopg://…"""
    parsed = make_url(url)
    if parsed.get_backend_name() == "duckdb":
        return DuckDBWarehouse(Path(parsed.database))
    if parsed.get_backend_name() == "postgresql":
        return PostgresWarehouse(url)
    raise ValueError(f"unsupported warehouse URL scheme {parsed.drivername!r}: use duckdb:/// or postgresql+psycopg://")
