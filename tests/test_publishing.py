"""Publishing: crash safety (SIGKILL mid-load and mid-write), DuckDB and PostgreSQL holding the same rows, comments
from the contracts in both, and an incompatible schema change refused before anything is written."""
import hashlib
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest
from sqlalchemy.engine import make_url

from influence_pipeline.schemas.contract import contracts_in
from influence_pipeline.sinks.lake import sweep_temporaries, write_partition
from influence_pipeline.sinks.warehouse import IncompatibleSchemaError, connect_warehouse
from tests.conftest import FIXTURE_DATE
from tests.crash_helper import DAY, rows

ROOT = Path(__file__).resolve().parents[1]
DS = date.fromisoformat(FIXTURE_DATE)


def _child(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.crash_helper", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)


def _kill(child: subprocess.Popen) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)


def _pg(url: str):
    parsed = make_url(url)
    return psycopg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username, password=parsed.password,
                           dbname=parsed.database, autocommit=True)


def _kill_between_delete_and_insert(url: str) -> None:
    warehouse = connect_warehouse(url)
    warehouse.replace_partition("staging", "stg_crash", rows("old", 5), "landing_date", DAY)
    warehouse.close()
    child = _child("warehouse", url)
    assert child.stdout.readline().strip() == "deleted"
    _kill(child)


def test_duckdb_killed_between_delete_and_insert_keeps_the_previous_partition(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    _kill_between_delete_and_insert(url)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        assert con.execute("SELECT post_id FROM staging.stg_crash ORDER BY views").fetchall() == [
            (f"old{i}",) for i in range(5)]


@pytest.mark.postgres
def test_postgres_killed_between_delete_and_insert_keeps_the_previous_partition(pg_url):
    _kill_between_delete_and_insert(pg_url)
    with _pg(pg_url) as conn:
        assert conn.execute("SELECT post_id FROM staging.stg_crash ORDER BY views").fetchall() == [
            (f"old{i}",) for i in range(5)]


def test_killed_mid_parquet_write_leaves_the_previous_partition_whole_and_the_temporary_is_swept(tmp_path):
    lake = tmp_path / "lake"
    path = write_partition(rows("old", 5), lake, "staging", "stg_crash", "landing_date", DAY)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    child = _child("parquet", str(lake))
    assert child.stdout.readline().strip() == "writing"
    deadline = time.monotonic() + 60
    while not list(path.parent.glob(".tmp-*")) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert list(path.parent.glob(".tmp-*")), "the child never started its temporary file"
    _kill(child)

    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    with duckdb.connect() as con:
        assert con.execute("SELECT count(*) FROM read_parquet(?, hive_partitioning = true)",
                           [str(lake / "staging" / "stg_crash" / "*" / "*.parquet")]).fetchone()[0] == 5
    assert sweep_temporaries(lake) == 1
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def _normalised(value):
    if isinstance(value, datetime):
        return value.astimezone().isoformat()
    if isinstance(value, (float, Decimal)):
        return round(float(value), 9)
    return value


def _tables(fetch, listing_sql: str) -> dict[str, list[tuple]]:
    out = {}
    for schema, table in fetch(listing_sql):
        columns = [c for (c,) in fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = '%s' AND table_name = '%s' "
            "ORDER BY ordinal_position" % (schema, table)) if c != "_run_id"]  # names from the catalog itself
        select = ", ".join(f'"{c}"' for c in columns)
        out[f"{schema}.{table}"] = sorted((tuple(map(_normalised, r)) for r in fetch(
            f'SELECT {select} FROM "{schema}"."{table}"')), key=repr)
    return out


LISTING = ("SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
           "AND table_schema IN ('staging', 'marts', 'quarantine') ORDER BY 1, 2")


@pytest.mark.postgres
def test_duckdb_and_postgres_hold_the_same_rows_and_the_same_comments(prefect_harness, data_dir, pg_url,
                                                                      monkeypatch):
    from influence_pipeline.flows.nightly import nightly

    nightly(ds=DS)
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        in_duckdb = _tables(lambda sql: con.execute(sql).fetchall(), LISTING)
        duck_comments = con.execute("""
            SELECT c.table_name, c.column_name FROM duckdb_columns() c JOIN duckdb_tables() t USING (table_oid)
            WHERE c.schema_name = 'marts' AND (c.comment IS NULL OR t.comment IS NULL)""").fetchall()
    monkeypatch.setenv("INFLUENCE_WAREHOUSE_URL", pg_url)
    (data_dir / "lake").rename(data_dir / "lake-duckdb")  # the PostgreSQL run ingests afresh, as a new deployment
    nightly(ds=DS)
    with _pg(pg_url) as conn:
        in_postgres = _tables(lambda sql: conn.execute(sql).fetchall(), LISTING)
        pg_comments = conn.execute("""
            SELECT c.table_name, c.column_name FROM information_schema.columns c
            JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.table_schema = 'marts' AND t.table_type = 'BASE TABLE' AND (
                col_description((quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass,
                                c.ordinal_position) IS NULL
                OR obj_description((quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass,
                                   'pg_class') IS NULL)
            """).fetchall()
    assert in_duckdb.keys() == in_postgres.keys() and len(in_duckdb) > 30
    for table, duck_rows in in_duckdb.items():
        assert duck_rows == in_postgres[table], table
    assert duck_comments == [] and pg_comments == []
    assert {c.name for c in contracts_in("marts")} <= {t.split(".")[1] for t in in_duckdb}


def test_an_incompatible_schema_change_is_refused_before_anything_is_written(prefect_harness, data_dir):
    from influence_pipeline.flows.nightly import nightly

    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.dim_date (date_day VARCHAR, retired_column INTEGER)")
    with pytest.raises(IncompatibleSchemaError) as refused:
        nightly(ds=DS)
    message = str(refused.value)
    assert "marts.dim_date: column date_day is VARCHAR in the warehouse but DATE in the definition" in message
    assert "column retired_column (INTEGER) is in the warehouse but no longer in the definition" in message
    assert not (data_dir / "lake" / "current").exists() and not list((data_dir / "lake").glob("nights/*"))
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name <> 'marts'").fetchone()[0] == 0
