"""What BI tools get besides the tables: readable views over the marts, and a read-only copy of the embedded
warehouse's marts (DuckDB allows one writer; Metabase or Superset holding the file open would block the nightly run),
its large fact tables as views over the Parquet lake."""
from __future__ import annotations

import os
import shutil
from importlib.resources import files
from pathlib import Path

from influence_pipeline.atomic import stage, sweep_staged, unstage
from influence_pipeline.sinks.ddl import check_identifier, sql_literal

VIEWS_DIR = files("influence_pipeline.sinks").joinpath("views")


def _comment(sql: str) -> str:
    lines = [line.removeprefix("--").strip() for line in sql.splitlines() if line.startswith("--")]
    return " ".join(lines)


def view_statements(schema: str = "marts") -> list[str]:
    """CREATE OR REPLACE VIEW for each file in sinks/views/ (one view per file, named like the file), each followed
    by a COMMENT ON VIEW taken from the file's leading comment lines."""
    statements = []
    for path in sorted((p for p in VIEWS_DIR.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name):
        sql = path.read_text(encoding="utf-8")
        name = f"{check_identifier(schema)}.{check_identifier(path.name.removesuffix('.sql'))}"
        statements += [sql.strip().rstrip(";"), f"COMMENT ON VIEW {name} IS {sql_literal(_comment(sql))}"]
    return statements


def _parquet_view(lake_table: Path, column: str, columns: list[str]) -> str:
    """SELECT over a date-partitioned lake table, its columns in the warehouse's order, the partition column a DATE."""
    files = sql_literal(str(lake_table.resolve() / "*" / "*.parquet"))
    hive_types = "{" + sql_literal(column) + ": 'DATE'}"
    listed = ", ".join(check_identifier(c) for c in columns)
    return f"SELECT {listed} FROM read_parquet({files}, hive_partitioning = true, hive_types = {hive_types})"


def prepare_readonly_copy(snapshot_marts: Path, target: Path, schema: str = "marts") -> Path:
    """Build, as a temporary of `target` (influence_pipeline.atomic: in the data dir's staging directory), a DuckDB file holding what BI tools query of one lake snapshot:
    every marts table of the contracts with its table and column comments, and the readable views. Returns the
    temporary file; `install_readonly_copy` renames it over `target`, `discard_readonly_copy` drops it.

    Date-partitioned facts become views over the snapshot's Parquet files (a view costs the same on day 900 as on
    day 1; copying millions of visits a night grew with history). A snapshot's files never change, so a connection
    held open keeps reading one whole night while later ones are published. Dimensions and monthly marts are small
    and copied. It is built from the snapshot alone, before the warehouse commits the night, so nothing is left to
    fail after the commit but a rename."""
    import duckdb

    from influence_pipeline.schemas.contract import contracts_in
    from influence_pipeline.sinks.ddl import comment_sql, contract_table, create_schema_sql, create_table_sql

    tmp = stage(target)
    schema = check_identifier(schema)
    try:
        with duckdb.connect(str(tmp)) as con:
            con.execute(create_schema_sql(schema))
            for contract in sorted(contracts_in("marts"), key=lambda c: c.name):
                table = contract_table(schema, contract, declare_key=False)
                lake_table = snapshot_marts / contract.name
                columns = [c.name for c in table.columns]
                if contract.partition_column and any(lake_table.glob("*/*.parquet")):
                    con.execute(f"CREATE VIEW {table.fullname} AS "
                                f"{_parquet_view(lake_table, contract.partition_column, columns)}")
                    statements = comment_sql(table, kind="VIEW")
                else:
                    con.execute(create_table_sql(table))
                    if (lake_table / "part-0.parquet").exists():
                        listed = ", ".join(check_identifier(c) for c in columns)
                        con.execute(f"INSERT INTO {table.fullname} SELECT {listed} "
                                    f"FROM read_parquet({sql_literal(str(lake_table / 'part-0.parquet'))})")
                    statements = comment_sql(table)
                for statement in statements:
                    con.execute(statement)
            for statement in view_statements(schema):
                con.execute(statement)
    except BaseException:
        unstage(tmp)
        raise
    return tmp


def install_readonly_copy(prepared: Path, target: Path) -> Path:
    """Rename a prepared copy over `target`: a BI tool opening it sees the previous copy or the new one whole."""
    try:
        os.replace(prepared, target)
    finally:
        unstage(prepared)
    return target


def discard_readonly_copy(prepared: Path) -> None:
    """Drop a prepared copy that will not be installed (its publication failed), with DuckDB's companions."""
    unstage(prepared)


def sweep_readonly_copy_leftovers(target: Path) -> int:
    """Delete the temporaries of `target` that dead runs left in its folder (built there when no staging directory
    is on its file system), their `.wal` included, whatever their age; returns how many."""
    legacy = list(target.parent.glob(f".{target.name}.*.tmp*"))  # named so before influence_pipeline.atomic staged them
    for path in legacy:
        if path.is_dir():  # DuckDB's spill folder
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return sweep_staged(target.parent) + len(legacy)
