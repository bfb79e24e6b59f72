"""The warehouse loaders: partition replace, and a column added to a contract appearing without losing data."""
from datetime import date

import duckdb
import psycopg
import pyarrow as pa
import pytest
from sqlalchemy.engine import make_url

from sinks.warehouse import connect_warehouse

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


EXPECTED = [("p1", 10, None, D1), ("p2", 20, None, D1), ("p1", 10, 7, D2), ("p2", 20, None, D2)]
QUERY = "SELECT post_id, views, impressions, landing_date FROM staging.stg_evolving ORDER BY landing_date, post_id"


def test_duckdb_adds_a_new_contract_column_and_keeps_old_rows(tmp_path):
    _evolve(f"duckdb:///{tmp_path / 'w.duckdb'}")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute(QUERY).fetchall() == EXPECTED


@pytest.mark.postgres
def test_postgres_adds_a_new_contract_column_and_keeps_old_rows(pg_url):
    _evolve(pg_url)
    parsed = make_url(pg_url)
    with psycopg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username, password=parsed.password,
                         dbname=parsed.database) as conn:
        assert conn.execute(QUERY).fetchall() == EXPECTED
