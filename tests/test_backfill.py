"""A backfill equals the nightlies run one after another, table for table, and refuses a reversed range."""
import shutil
from datetime import date, timedelta

import duckdb
import pytest

from flows.backfill import backfill_days
from influence.sample import generate
from tests.conftest import TEST_PII_KEY

pytestmark = pytest.mark.slow
START, DAYS = date(2026, 11, 1), 4


def _tables(warehouse) -> dict[str, list]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.sql("SELECT schema_name, table_name FROM duckdb_tables() "
                         "WHERE schema_name IN ('staging', 'marts', 'quarantine')").fetchall()
        exclude = {"quarantine": " EXCLUDE (_run_id)"}
        return {f"{schema}.{table}": con.sql(
            f'SELECT *{exclude.get(schema, "")} FROM "{schema}"."{table}" ORDER BY ALL').fetchall()
            for schema, table in tables}


def test_a_four_day_backfill_equals_four_sequential_nightlies(prefect_harness, tmp_path, monkeypatch):
    from flows.backfill import backfill
    from flows.nightly import nightly

    landing = tmp_path / "landing"
    generate(landing, START, DAYS, scale=0.03, dirty_rate=0.02)
    monkeypatch.setenv("INFLUENCE_PII_KEY", TEST_PII_KEY)
    monkeypatch.delenv("INFLUENCE_WAREHOUSE_URL", raising=False)
    results = {}
    for name in ("sequential", "backfill"):
        data = tmp_path / name
        shutil.copytree(landing, data / "landing")
        monkeypatch.setenv("INFLUENCE_DATA_DIR", str(data))
        if name == "sequential":
            for i in range(DAYS):
                nightly(ds=START + timedelta(days=i))
        else:
            assert [s.ds for s in backfill(start=START, end=START + timedelta(days=DAYS - 1))] == backfill_days(
                START, START + timedelta(days=DAYS - 1))
        results[name] = _tables(data / "warehouse.duckdb")
    assert results["sequential"].keys() == results["backfill"].keys() and len(results["backfill"]) > 30
    for table, rows in results["sequential"].items():
        assert rows == results["backfill"][table], table
    assert sum(len(rows) for rows in results["backfill"].values()) > 10_000


def test_a_reversed_range_is_refused():
    with pytest.raises(ValueError, match="before its start"):
        backfill_days(date(2026, 11, 5), date(2026, 11, 1))
