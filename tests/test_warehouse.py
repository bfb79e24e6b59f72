"""The warehouse loaders: partition replace, and a column added to a contract appearing without losing data."""
from datetime import date, datetime, timezone

import duckdb
import psycopg
import pyarrow as pa
import pytest
from sqlalchemy.engine import make_url

from influence_pipeline.sinks.warehouse import connect_warehouse

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)


def _rows(day: date, with_new_column: bool) -> pa.Table:
    columns = {"post_id": ["p1", "p2"], "views": [10, 20], "landing_date": pa.array([day, day], pa.date32())}
    if with_new_column:
        columns["impressions"] = [7, None]
    return pa.table(columns)


def _evolve(url: str) -> None:
    warehouse = connect_warehouse(url)
    try:
        warehouse.replace_partition("staging", "stg_evolving", _rows(D1, False), "landing_date", D1)
        warehouse.replace_partition("staging", "stg_evolving", _rows(D2, True), "landing_date", D2)
        warehouse.replace_partition("staging", "stg_evolving", _rows(D2, True), "landing_date", D2)
    finally:
        warehouse.close()


def _pg_rows(url: str, query: str) -> list[tuple]:
    parsed = make_url(url)
    with psycopg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username, password=parsed.password,
                         dbname=parsed.database) as conn:
        return conn.execute(query).fetchall()


EXPECTED = [("p1", 10, None, D1), ("p2", 20, None, D1), ("p1", 10, 7, D2), ("p2", 20, None, D2)]
QUERY = "SELECT post_id, views, impressions, landing_date FROM staging.stg_evolving ORDER BY landing_date, post_id"


def test_duckdb_adds_a_new_contract_column_and_keeps_old_rows(tmp_path):
    _evolve(f"duckdb:///{tmp_path / 'w.duckdb'}")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute(QUERY).fetchall() == EXPECTED


@pytest.mark.postgres
def test_postgres_adds_a_new_contract_column_and_keeps_old_rows(pg_url):
    _evolve(pg_url)
    assert _pg_rows(pg_url, QUERY) == EXPECTED



def _post(day: date) -> pa.Table:
    """One fct_post_engagement row (every column filled, so NOT NULL holds) posted on `day`."""
    import polars as pl

    from influence_pipeline.schemas.contract import load_contracts, polars_schema

    filler = {pl.String: "x", pl.Int64: 0, pl.Float64: 0.0, pl.Boolean: False, pl.Date: day}
    schema = polars_schema(load_contracts()["fct_post_engagement"])
    row = {name: filler.get(dtype, None) for name, dtype in schema.items()}
    row |= {"post_id": "p1", "posted_date": day, "posted_at": datetime(day.year, day.month, day.day, tzinfo=timezone.utc)}
    return pl.DataFrame([row], schema=schema).to_arrow()


def _move_a_post(url: str) -> None:
    """fct_post_engagement is keyed by post_id (a primary key in PostgreSQL) and partitioned by posted_date: a
    post re-dated by the platform moves partition between two runs, both partitions owned by the second."""
    warehouse = connect_warehouse(url)
    try:
        warehouse.replace_partitions("marts", "fct_post_engagement", _post(D1), "posted_date", [D1, D2])
        warehouse.replace_partitions("marts", "fct_post_engagement", _post(D2), "posted_date", [D1, D2])
    finally:
        warehouse.close()


MOVED = "SELECT post_id, posted_date FROM marts.fct_post_engagement"


def test_duckdb_a_post_moving_partition_is_never_a_duplicate_key(tmp_path):
    _move_a_post(f"duckdb:///{tmp_path / 'w.duckdb'}")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute(MOVED).fetchall() == [("p1", D2)]
        # No key constraint in DuckDB (its index makes every load pay for the whole history); the comment names it.
        assert con.execute("SELECT count(*) FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
                           ).fetchone() == (0,)
        comment = con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'fct_post_engagement'"
                              ).fetchone()[0]
        assert comment.endswith("Key: post_id.")


@pytest.mark.postgres
def test_postgres_a_post_moving_partition_is_never_a_duplicate_key(pg_url):
    _move_a_post(pg_url)
    assert _pg_rows(pg_url, MOVED) == [("p1", D2)]
