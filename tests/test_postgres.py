"""The nightly flow loading the real PostgreSQL warehouse through COPY, idempotent per partition."""
from datetime import date
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import FIXTURE_DATE

DS = date.fromisoformat(FIXTURE_DATE)
pytestmark = pytest.mark.postgres


def _connect(url: str) -> psycopg.Connection:
    parsed = make_url(url)
    return psycopg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                           password=parsed.password, dbname=parsed.database)


def _snapshot(url: str) -> dict[str, list]:
    with _connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging' ORDER BY 1")]
        return {t: conn.execute(psycopg.sql.SQL("SELECT * FROM staging.{} ORDER BY 1, 2").format(
            psycopg.sql.Identifier(t))).fetchall() for t in tables}


def test_nightly_loads_postgres_and_a_rerun_replaces_not_duplicates(prefect_harness, data_dir, pg_url, monkeypatch):
    from influence_pipeline.flows.nightly import nightly

    monkeypatch.setenv("INFLUENCE_WAREHOUSE_URL", pg_url)
    summary = nightly(ds=DS)
    first = _snapshot(pg_url)
    assert {t: len(rows) for t, rows in first.items()} == {t: n for t, n in summary.staged.items() if t.startswith("stg_")}
    with _connect(pg_url) as conn:
        refunded, total, currency = conn.execute(
            "SELECT refunded_amount, total_price, currency FROM staging.stg_orders WHERE order_id = '4990'").fetchone()
        empty_referrers = conn.execute(
            "SELECT count(*) FROM staging.stg_web_events WHERE referrer = ''").fetchone()[0]
    assert (refunded, total, currency) == (Decimal("35.00"), Decimal("120.00"), "EUR")
    assert empty_referrers == 0

    nightly(ds=DS)
    assert _snapshot(pg_url) == first


def test_a_failed_load_leaves_the_previous_partition_whole(data_dir, pg_url):
    import pyarrow as pa

    from influence_pipeline.sinks.warehouse import connect_warehouse

    warehouse = connect_warehouse(pg_url)
    good = pa.table({"k": ["a", "b"], "n": [1, 2], "landing_date": pa.array([DS, DS], pa.date32())})
    warehouse.replace_partition("staging", "stg_probe", good, "landing_date", DS)
    # The DELETE of the partition succeeds, then COPY hits a value the column cannot hold: all of it must roll back.
    bad = pa.table({"k": ["c"], "n": ["not a number"], "landing_date": pa.array([DS], pa.date32())})
    with pytest.raises(psycopg.Error):
        warehouse.replace_partition("staging", "stg_probe", bad, "landing_date", DS)
    warehouse.close()
    with _connect(pg_url) as conn:
        assert conn.execute("SELECT k FROM staging.stg_probe ORDER BY k").fetchall() == [("a",), ("b",)]
