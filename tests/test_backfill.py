"""A backfill equals the nightlies run one after another, table for table, and refuses a reversed range."""
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from influence_pipeline.sample import generate
from influence_pipeline.schemas.raw import DATASETS
from influence_pipeline.transforms.staging.registry import STAGING_MODELS
from influence_pipeline.transforms.windows import days_between as backfill_days
from tests.conftest import TEST_PII_KEY

pytestmark = pytest.mark.slow
START, DAYS = date(2026, 11, 1), 4
END = START + timedelta(days=DAYS - 1)


def _tables(warehouse) -> dict[str, list]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.sql("SELECT schema_name, table_name FROM duckdb_tables() "
                         "WHERE schema_name IN ('staging', 'marts', 'quarantine')").fetchall()
        exclude = {"quarantine": " EXCLUDE (_run_id)"}
        return {f"{schema}.{table}": con.sql(
            f'SELECT *{exclude.get(schema, "")} FROM "{schema}"."{table}" ORDER BY ALL').fetchall()
            for schema, table in tables}


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("backfill-landing")
    generate(root, START, DAYS, scale=0.03, dirty_rate=0.02)
    return root


def _run(landing: Path, data: Path, monkeypatch, run) -> dict[str, list]:
    shutil.copytree(landing, data / "landing")
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(data))
    monkeypatch.setenv("INFLUENCE_PII_KEY", TEST_PII_KEY)
    monkeypatch.delenv("INFLUENCE_WAREHOUSE_URL", raising=False)
    run()
    return _tables(data / "warehouse.duckdb")


@pytest.fixture(scope="module")
def sequential(prefect_harness, landing, tmp_path_factory) -> dict[str, list]:
    """Every staging, mart and quarantine table after the four nightlies run one after another."""
    from influence_pipeline.flows.nightly import nightly

    with pytest.MonkeyPatch.context() as monkeypatch:
        tables = _run(landing, tmp_path_factory.mktemp("sequential"), monkeypatch,
                      lambda: [nightly(ds=day) for day in backfill_days(START, END)])
    assert len(tables) > 30 and sum(len(rows) for rows in tables.values()) > 10_000
    return tables


def _assert_same(tables: dict[str, list], expected: dict[str, list]) -> None:
    assert tables.keys() == expected.keys()
    for table, rows in expected.items():
        assert tables[table] == rows, table


def test_a_four_day_backfill_equals_four_sequential_nightlies(sequential, landing, tmp_path, monkeypatch):
    from influence_pipeline.flows.backfill import backfill

    def run():
        assert [s.ds for s in backfill(start=START, end=END, concurrency=3)] == backfill_days(START, END)

    _assert_same(_run(landing, tmp_path / "backfill", monkeypatch, run), sequential)


def test_a_backfill_on_a_multi_process_dask_cluster_equals_the_sequential_run(sequential, landing, tmp_path,
                                                                              monkeypatch):
    from distributed import Client, LocalCluster

    from influence_pipeline.flows.backfill import backfill

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        monkeypatch.setenv("INFLUENCE_DASK_ADDRESS", cluster.scheduler_address)
        tables = _run(landing, tmp_path / "dask", monkeypatch,
                      lambda: backfill(start=START, end=END, concurrency=2))
        with Client(cluster) as client:
            executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    per_day = 2 * len(DATASETS) + len(STAGING_MODELS)  # ingest and check per dataset, one task per staging model
    assert len(executed) == 2 and all(executed.values()), executed  # both worker processes did work
    assert sum(executed.values()) >= DAYS * per_day
    _assert_same(tables, sequential)


def test_a_reversed_range_is_refused():
    with pytest.raises(ValueError, match="before its start"):
        backfill_days(date(2026, 11, 5), date(2026, 11, 1))
