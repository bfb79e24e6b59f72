"""A night publishes as a unit: readers of the BI copy see one whole night (new connections and held ones), and a
failure at any publish step — a table's load, the audit, the published-night record, the BI copy, a reader holding
the warehouse file, a value PostgreSQL refuses — leaves every sink on the previous night; a rerun then equals an
uninterrupted run."""
import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.published_state import assert_same, bi_rows, published, published_night
from tests.test_order_independence import NIGHTS, landing, use_data_dir  # noqa: F401  (landing is a fixture)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def three_nights(prefect_harness, landing, tmp_path_factory) -> dict:  # noqa: F811
    """Every published table after nightlies for the first three nights, uninterrupted."""
    from influence_pipeline.flows.nightly import nightly

    with pytest.MonkeyPatch.context() as monkeypatch:
        data = use_data_dir(landing, tmp_path_factory.mktemp("three"), monkeypatch)
        for day in NIGHTS[:3]:
            nightly(ds=day)
        return published(data)


def _counts(con) -> dict[str, int]:
    return {name: len(rows) for name, rows in bi_rows(con).items()}


POLLER = """
import json, sys, duckdb
from pathlib import Path
from tests.published_state import bi_rows
copy, stop = sys.argv[1], Path(sys.argv[2])
while True:
    # Decided before connecting: the last read opens after the stop file exists, i.e. after the night was published
    # (on a loaded machine one read can outlast the test's wait, and would otherwise end the poll on the old night).
    last = stop.exists()
    with duckdb.connect(copy, read_only=True) as con:  # a new connection each time, as a BI tool's new session
        print(json.dumps({name: len(rows) for name, rows in bi_rows(con).items()}), flush=True)
    if last:
        break
"""


def test_bi_readers_see_one_whole_night_while_the_next_is_published(prefect_harness, landing, tmp_path,  # noqa: F811
                                                                    monkeypatch):
    from influence_pipeline.flows.nightly import nightly

    data = use_data_dir(landing, tmp_path / "data", monkeypatch)
    copy, stop = data / "bi" / "warehouse.duckdb", tmp_path / "stop"
    for day in NIGHTS[:2]:
        nightly(ds=day)
    # Readers in other processes: DuckDB shares one database instance per file within a process, so connections in
    # this one would all follow the held connection.
    held = duckdb.connect(str(copy), read_only=True)  # a BI pool's connection, open across the night
    before = _counts(held)
    poller = subprocess.Popen([sys.executable, "-c", POLLER, str(copy), str(stop)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        nightly(ds=NIGHTS[2])
        time.sleep(1)
    finally:
        stop.touch()
        out, _ = poller.communicate(timeout=60)
    seen = [json.loads(line) for line in out.splitlines()]
    after = seen[-1]
    assert poller.returncode == 0 and before != after and len(seen) > 5
    assert all(counts in (before, after) for counts in seen), [c for c in seen if c not in (before, after)][:1]
    assert _counts(held) == before  # the held connection still reads the night it opened, whole
    held.close()


def _fail_at(monkeypatch, where: str) -> None:
    """Make one publish step raise, as a refused value or a full disk would."""
    from influence_pipeline.sinks import bi, warehouse

    def refuse(*_args, **_kwargs):  # not an OSError: retrying it would only make the test slower
        raise RuntimeError(f"refused (injected at {where})")

    if where == "bi copy":
        monkeypatch.setattr(bi, "prepare_readonly_copy", refuse)
        monkeypatch.setattr("influence_pipeline.flows.publish_tasks.prepare_readonly_copy", refuse)
        return
    original = warehouse.DuckDBWarehouse._load

    def load(self, target, rows, delete_sql):
        original(self, target, rows, delete_sql)
        if target.name == where:
            refuse()

    monkeypatch.setattr(warehouse.DuckDBWarehouse, "_load", load)


def test_a_failure_at_any_publish_step_leaves_every_sink_on_the_previous_night(three_nights, landing, tmp_path,  # noqa: F811
                                                                               monkeypatch):
    from influence_pipeline.flows.nightly import nightly

    data = use_data_dir(landing, tmp_path / "data", monkeypatch)
    for day in NIGHTS[:2]:
        nightly(ds=day)
    before, night_before = published(data), published_night(data)
    for where in ("stg_campaigns", "fct_visit", "run_sources", "published_night", "bi copy"):
        with monkeypatch.context() as patch:
            _fail_at(patch, where)
            with pytest.raises(RuntimeError, match=f"injected at {where}"):
                nightly(ds=NIGHTS[2])
        assert published_night(data) == night_before, where
        assert_same(published(data), before)
    nightly(ds=NIGHTS[2])
    assert_same(published(data), three_nights)


def test_a_reader_holding_the_warehouse_cannot_cause_a_half_published_night(three_nights, landing, tmp_path,  # noqa: F811
                                                                            monkeypatch):
    from influence_pipeline.flows.nightly import nightly

    data = use_data_dir(landing, tmp_path / "data", monkeypatch)
    for day in NIGHTS[:2]:
        nightly(ds=day)
    before = published(data)
    reader = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time\n"
        f"con = duckdb.connect({str(data / 'warehouse.duckdb')!r}, read_only=True)\n"
        "print('open', flush=True)\ntime.sleep(120)\n")], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "open"
        with pytest.raises(duckdb.IOException):
            nightly(ds=NIGHTS[2])
    finally:
        reader.kill()
        reader.wait(10)
    assert_same(published(data), before)
    nightly(ds=NIGHTS[2])
    assert_same(published(data), three_nights)


@pytest.mark.postgres
def test_a_value_postgres_refuses_mid_publish_leaves_it_on_the_previous_night(prefect_harness, landing, tmp_path,  # noqa: F811
                                                                              monkeypatch, pg_url):
    from influence_pipeline.flows.nightly import nightly
    from tests.test_publishing import LISTING, _pg, _tables

    data = use_data_dir(landing, tmp_path / "data", monkeypatch)
    monkeypatch.setenv("INFLUENCE_WAREHOUSE_URL", pg_url)
    for day in NIGHTS[:2]:
        nightly(ds=day)
    current = (data / "lake" / "current").resolve()
    with _pg(pg_url) as conn:
        before = _tables(lambda sql: conn.execute(sql).fetchall(), LISTING)
        audit = conn.execute("SELECT count(*) FROM audit.run_sources").fetchone()
        # A table late in the load refuses the new night's rows: everything loaded before it must roll back.
        conn.execute(f"ALTER TABLE marts.fct_visit ADD CONSTRAINT refuse_new CHECK (visit_date <= '{NIGHTS[1]}') "
                     "NOT VALID")
    with pytest.raises(Exception, match="refuse_new"):
        nightly(ds=NIGHTS[2])
    with _pg(pg_url) as conn:
        assert _tables(lambda sql: conn.execute(sql).fetchall(), LISTING) == before
        assert conn.execute("SELECT count(*) FROM audit.run_sources").fetchone() == audit
        conn.execute("ALTER TABLE marts.fct_visit DROP CONSTRAINT refuse_new")
    assert (data / "lake" / "current").resolve() == current
    nightly(ds=NIGHTS[2])
    with _pg(pg_url) as conn:
        after = _tables(lambda sql: conn.execute(sql).fetchall(), LISTING)
    assert after != before and (data / "lake" / "current").resolve() != current


def test_a_run_stopped_between_the_warehouse_commit_and_the_lake_switch_is_completed_by_the_next(
        three_nights, landing, tmp_path, monkeypatch):  # noqa: F811
    from influence_pipeline.flows.context import RunContext
    from influence_pipeline.flows.nightly import nightly
    from influence_pipeline.flows.publish_tasks import recover_publication
    from influence_pipeline.settings import load_settings

    data = use_data_dir(landing, tmp_path / "data", monkeypatch)
    for day in NIGHTS[:2]:
        nightly(ds=day)
    with monkeypatch.context() as patch:
        def killed(*_args, **_kwargs):  # the moment after the commit, as a SIGKILL would leave it
            raise RuntimeError("killed after the warehouse commit")

        patch.setattr("influence_pipeline.flows.publish_tasks._switch", killed)
        with pytest.raises(RuntimeError, match="killed after the warehouse commit"):
            nightly(ds=NIGHTS[2])
    current, held = published_night(data)
    assert current != held and (data / "lake" / "publishing.json").exists()

    recover_publication(RunContext.from_settings(load_settings(), "recovery"))  # what every run does first
    assert published_night(data)[0] == held and not (data / "lake" / "publishing.json").exists()
    assert_same(published(data), three_nights)
    nightly(ds=NIGHTS[2])  # and a rerun of the night changes nothing
    assert_same(published(data), three_nights)
