"""What BI tools get besides the tables: readable views over the marts, and a read-only copy of the embedded
warehouse's marts (DuckDB allows one writer; Metabase or Superset holding the file open would block the nightly run)."""
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


def view_statements(schema: str = "marts") -> list[str]:
    """CREATE OR REPLACE VIEW for each file in sinks/views/ (one view per file, named like the file), each followed
    by a COMMENT ON VIEW taken from the file's leading comment lines."""
    statements = []
    for path in sorted(VIEWS_DIR.glob("*.sql")):
        sql = path.read_text()
        name = f"{check_identifier(schema)}.{check_identifier(path.stem)}"
        literal = sa.literal(_comment(sql), sa.String()).compile(dialect=DIALECT, compile_kwargs={"literal_binds": True})
        statements += [sql.strip().rstrip(";"), f"COMMENT ON VIEW {name} IS {literal}"]
    return statements


def _literal(value: str) -> str:
    return sa.literal(value, sa.String()).compile(dialect=DIALECT, compile_kwargs={"literal_binds": True})


def publish_readonly_copy(database: Path, target: Path, schemas: tuple[str, ...] = ("marts",)) -> Path:
    """Build, beside `target`, a DuckDB file holding what BI tools query — the tables of `schemas` with their table
    and column comments, and the views — then rename it over `target`: a BI tool opening it sees the previous copy
    or the new one, never half of one. Staging, quarantine and audit stay in the main file (and the lake): at
    millions of events a day they are most of it, and copying them every night made the night grow with history."""
    import duckdb

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with duckdb.connect(str(tmp)) as con:
            con.execute(f"ATTACH {_literal(str(database))} AS source (READ_ONLY)")
            for schema in map(check_identifier, schemas):
                con.execute(f"CREATE SCHEMA {schema}")
                tables = con.execute("SELECT table_name, comment FROM duckdb_tables() WHERE database_name = 'source' "
                                     "AND schema_name = ? ORDER BY table_name", [schema]).fetchall()
                for table, comment in tables:
                    name = f"{schema}.{check_identifier(table)}"
                    con.execute(f"CREATE TABLE {name} AS SELECT * FROM source.{name}")
                    if comment:
                        con.execute(f"COMMENT ON TABLE {name} IS {_literal(comment)}")
                columns = con.execute("SELECT table_name, column_name, comment FROM duckdb_columns() "
                                      "WHERE database_name = 'source' AND schema_name = ? AND comment IS NOT NULL "
                                      "AND table_name IN (SELECT table_name FROM duckdb_tables() "
                                      "WHERE database_name = 'source')", [schema]).fetchall()
                for table, column, comment in columns:
                    con.execute(f"COMMENT ON COLUMN {schema}.{check_identifier(table)}.{check_identifier(column)} "
                                f"IS {_literal(comment)}")
            con.execute("DETACH source")
            for statement in view_statements():
                con.execute(statement)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
