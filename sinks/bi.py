"""What BI tools get besides the tables: readable views over the marts, and a read-only copy of the embedded
warehouse's marts (DuckDB allows one writer; Metabase or Superset holding the file open would block the nightly run),
its large fact tables as views over the Parquet lake."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import sqlalchemy as sa

from sinks.ddl import DIALECT, check_identifier

VIEWS_DIR = Path(__file__).with_name("views")


def _comment(sql: str) -> str:
    lines = [line.removeprefix("--").strip() for line in sql.splitlines() if line.startswith("--")]
    return " ".join(lines)


def _literal(value: str) -> str:
    return str(sa.literal(value, sa.String()).compile(dialect=DIALECT, compile_kwargs={"literal_binds": True}))


def view_statements(schema: str = "marts") -> list[str]:
    """CREATE OR REPLACE VIEW for each file in sinks/views/ (one view per file, named like the file), each followed
    by a COMMENT ON VIEW taken from the file's leading comment lines."""
    statements = []
    for path in sorted(VIEWS_DIR.glob("*.sql")):
        sql = path.read_text()
        name = f"{check_identifier(schema)}.{check_identifier(path.stem)}"
        statements += [sql.strip().rstrip(";"), f"COMMENT ON VIEW {name} IS {_literal(_comment(sql))}"]
    return statements


def _parquet_view(lake_table: Path, column: str, columns: list[str]) -> str:
    """SELECT over a date-partitioned lake table, its columns in the warehouse's order, the partition column a DATE."""
    files = _literal(str(lake_table / "*" / "*.parquet"))
    hive_types = "{" + _literal(column) + ": 'DATE'}"
    listed = ", ".join(check_identifier(c) for c in columns)
    return f"SELECT {listed} FROM read_parquet({files}, hive_partitioning = true, hive_types = {hive_types})"


def publish_readonly_copy(database: Path, target: Path, lake_marts: Path, partitioned: dict[str, str],
                          schema: str = "marts") -> Path:
    """Build, beside `target`, a DuckDB file holding what BI tools query — the `schema` tables with their table and
    column comments, and the views — then rename it over `target`: a BI tool opening it sees the previous copy or the
    new one, never half of one.

    Tables in `partitioned` (table → partition column) become views over their Parquet partitions under
    `lake_marts`: copying them made every night grow with history (millions of visits a day), a view costs the same
    on day 900 as on day 1 and reads the same rows the warehouse holds. The other tables (dimensions, monthly marts)
    are small and copied. Staging, quarantine and audit stay in the main file and the lake."""
    import duckdb

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    schema = check_identifier(schema)
    try:
        with duckdb.connect(str(tmp)) as con:
            con.execute(f"ATTACH {_literal(str(database))} AS source (READ_ONLY)")
            con.execute(f"CREATE SCHEMA {schema}")
            tables = con.execute("SELECT table_name, comment FROM duckdb_tables() WHERE database_name = 'source' "
                                 "AND schema_name = ? ORDER BY table_name", [schema]).fetchall()
            for table, comment in tables:
                name = f"{schema}.{check_identifier(table)}"
                columns = [c for (c,) in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE database_name = 'source' AND schema_name = ? "
                    "AND table_name = ? ORDER BY column_index", [schema, table]).fetchall()]
                lake_table = lake_marts / table
                if table in partitioned and any(lake_table.glob("*/*.parquet")):
                    con.execute(f"CREATE VIEW {name} AS {_parquet_view(lake_table, partitioned[table], columns)}")
                    kind = "VIEW"
                else:
                    con.execute(f"CREATE TABLE {name} AS SELECT * FROM source.{name}")
                    kind = "TABLE"
                if comment:
                    con.execute(f"COMMENT ON {kind} {name} IS {_literal(comment)}")
            comments = con.execute("SELECT table_name, column_name, comment FROM duckdb_columns() "
                                   "WHERE database_name = 'source' AND schema_name = ? AND comment IS NOT NULL "
                                   "AND table_name IN (SELECT table_name FROM duckdb_tables() "
                                   "WHERE database_name = 'source')", [schema]).fetchall()
            for table, column, comment in comments:
                con.execute(f"COMMENT ON COLUMN {schema}.{check_identifier(table)}.{check_identifier(column)} "
                            f"IS {_literal(comment)}")
            con.execute("DETACH source")
            for statement in view_statements(schema):
                con.execute(statement)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
