"""The baseline issue 18 measures the warehouse loaders against: SQLAlchemy executemany,
`conn.execute(table.insert(), list_of_dicts)`, which is what a loader written without the engines' bulk paths would do.

The DuckDB side needs duckdb-engine (SQLAlchemy's duckdb:/// dialect), which is not a project dependency: install it
next to the project to run the baseline there.
"""
from __future__ import annotations

import time
from datetime import date

import polars as pl
import sqlalchemy as sa
from sqlalchemy.schema import DropTable

from influence_pipeline.schemas.contract import load_contracts
from influence_pipeline.sinks.ddl import contract_table, create_schema_sql, create_table_sql, render

SCHEMA = "marts"  # the schema the pipeline's own load already created, so the scratch table adds no schema
SCRATCH = "fct_visit_executemany"


def scratch_table(declare_key: bool) -> sa.Table:
    """fct_visit's columns, types, NOT NULLs and (with `declare_key`) key, under the scratch name. Built from the
    contract rather than reflected: duckdb-engine cannot reflect tables under SQLAlchemy 2.1."""
    return contract_table(SCHEMA, load_contracts()["fct_visit"], declare_key).to_metadata(sa.MetaData(), name=SCRATCH)


def dialect_info(engine: sa.Engine) -> dict:
    """How SQLAlchemy actually sends an executemany on this dialect: duckdb-engine batches the rows into multi-row
    INSERT … VALUES statements ("insertmanyvalues"), psycopg's dialect hands them to cursor.executemany."""
    dialect = engine.dialect
    batched = bool(dialect.use_insertmanyvalues and dialect.use_insertmanyvalues_wo_returning)
    return {"sqlalchemy_dialect": f"{dialect.name}+{dialect.driver}",
            "sqlalchemy_executemany_mode": "insertmanyvalues" if batched else "cursor.executemany",
            **({"insertmanyvalues_page_size": dialect.insertmanyvalues_page_size} if batched else {})}


def time_executemany(url: str, rows: pl.DataFrame, declare_key: bool, day: date) -> tuple[float, dict]:
    """Seconds for one transaction that deletes the day's partition and inserts `rows` by executemany — the same
    work the pipeline's replace_partition does — plus how the dialect sent it."""
    if url.startswith("duckdb"):
        try:
            import duckdb_engine  # noqa: F401  (registers the duckdb:// dialect)
        except ImportError as error:
            raise SystemExit("the DuckDB baseline needs duckdb-engine: pip install duckdb-engine") from error
    engine = sa.create_engine(url)
    table = scratch_table(declare_key)
    # Converted before the clock starts: the pipeline is handed Arrow, this path would need Python dicts, and leaving
    # the conversion out can only flatter the baseline.
    records = rows.to_dicts()
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(render(DropTable(table, if_exists=True)))  # a crashed earlier run's leftovers
            conn.exec_driver_sql(create_schema_sql(SCHEMA))
            conn.exec_driver_sql(create_table_sql(table))
        # warms the pool's connection and SQLAlchemy's compiled-statement cache, as the pipeline's timing does its own
        with engine.begin() as conn:
            conn.execute(table.insert(), records[:10])
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(sa.delete(table).where(table.c.visit_date == day))
            conn.execute(table.insert(), records)
        seconds = time.perf_counter() - started
        with engine.connect() as conn:
            loaded = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        if loaded != len(records):
            raise RuntimeError(f"executemany left {loaded} rows in {SCHEMA}.{SCRATCH}, expected {len(records)}")
        return seconds, dialect_info(engine)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(render(DropTable(table, if_exists=True)))
        engine.dispose()
