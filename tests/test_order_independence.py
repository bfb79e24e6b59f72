"""Reruns and backfills in any order leave every published table — warehouse, lake, BI copy — exactly as in-order
nightlies would; a changed landing file equals in-order nightlies over the new files; two runs on one data dir never
interleave."""
import json
import random
import shutil
import threading
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from influence_pipeline.sample import generate
from tests.published_state import assert_same, published, published_night, use_data_dir

pytestmark = pytest.mark.slow
START, DAYS = date(2026, 10, 1), 6
NIGHTS = [START + timedelta(days=i) for i in range(DAYS)]


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("order-landing")
    generate(root, START, DAYS, scale=0.02, seed=5, dirty_rate=0.02)
    return root


def in_order(data: Path) -> dict:
    from influence_pipeline.flows.nightly import nightly

    for day in NIGHTS:
        nightly(ds=day)
    return published(data)


@pytest.fixture(scope="module")
def in_order_dir(prefect_harness, landing, tmp_path_factory) -> Path:
    """A data dir after the six nightlies in date order."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        data = use_data_dir(landing, tmp_path_factory.mktemp("in-order"), monkeypatch)
        in_order(data)
    return data


@pytest.fixture(scope="module")
def expected(in_order_dir) -> dict:
    """Every published table after the six nightlies in date order."""
    state = published(in_order_dir)
    assert len(state["warehouse"]) > 30 and len(state["lake"]) > 30 and len(state["bi"]) >= 12
    assert sum(len(rows) for rows in state["warehouse"].values()) > 5_000
    return state


def random_runs(seed: int) -> list[tuple[str, int, int]]:
    """A few runs, reruns and backfills in random order, then every night not yet run, one by one, in random order."""
    rng = random.Random(seed)
    ops = []
    for _ in range(rng.randint(3, 5)):
        first = rng.randrange(DAYS)
        last = rng.randrange(first, min(DAYS, first + 3)) if rng.random() < 0.4 else first
        ops.append(("backfill" if last > first else "run", first, last))
    done = {day for _, first, last in ops for day in range(first, last + 1)}
    rest = [day for day in range(DAYS) if day not in done]
    rng.shuffle(rest)
    return ops + [("run", day, day) for day in rest]


@pytest.mark.parametrize("seed", [3, 8])
def test_random_runs_reruns_and_backfills_equal_in_order_nightlies(expected, landing, tmp_path, monkeypatch, seed):
    from influence_pipeline.flows.backfill import backfill
    from influence_pipeline.flows.nightly import nightly

    data = use_data_dir(landing, tmp_path / "data", monkeypatch)
    ops = random_runs(seed)
    for kind, first, last in ops:
        if kind == "run":
            nightly(ds=NIGHTS[first])
        else:
            backfill(start=NIGHTS[first], end=NIGHTS[last])
    assert_same(published(data), expected)
    current, held = published_night(data)
    assert current == held, ops


@pytest.mark.postgres
def test_random_runs_on_postgres_equal_in_order_nightlies(in_order_dir, expected, landing, tmp_path, monkeypatch,
                                                         pg_url):
    from influence_pipeline.flows.backfill import backfill
    from influence_pipeline.flows.nightly import nightly
    from tests.published_state import lake_tables
    from tests.test_publishing import LISTING, _pg, _tables

    data = use_data_dir(landing, tmp_path / "data", monkeypatch)
    monkeypatch.setenv("INFLUENCE_WAREHOUSE_URL", pg_url)
    for kind, first, last in random_runs(5):
        if kind == "run":
            nightly(ds=NIGHTS[first])
        else:
            backfill(start=NIGHTS[first], end=NIGHTS[last])
    with _pg(pg_url) as conn:
        in_postgres = _tables(lambda sql: conn.execute(sql).fetchall(), LISTING)
    with duckdb.connect(str(in_order_dir / "warehouse.duckdb"), read_only=True) as con:
        in_duckdb = _tables(lambda sql: con.execute(sql).fetchall(), LISTING)
    assert in_postgres.keys() == in_duckdb.keys()
    for table, rows in in_duckdb.items():
        assert in_postgres[table] == rows, table
    assert lake_tables(data / "lake") == expected["lake"]


def test_a_rerun_three_nights_back_with_unchanged_files_changes_nothing(expected, landing, tmp_path, monkeypatch):
    from influence_pipeline.flows.nightly import nightly

    data = use_data_dir(landing, tmp_path / "data", monkeypatch)
    assert_same(in_order(data), expected)
    summary = nightly(ds=NIGHTS[2])
    assert summary.ds == NIGHTS[2] and {i["status"] for i in summary.ingested.values()} <= {"skipped", "missing"}
    assert_same(published(data), expected)


def _change_one_order(landing: Path, day: date) -> str:
    """Re-deliver `day`'s orders export with one order's total changed; returns that order's id."""
    path = landing / "orders" / day.isoformat() / "orders.ndjson"
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        try:
            order = json.loads(line)
        except ValueError:
            continue
        if isinstance(order, dict) and order.get("total_price") and order.get("currency") == "USD":
            order["total_price"] = f"{float(order['total_price']) + 100:.2f}"
            lines[i] = json.dumps(order)
            path.write_text("\n".join(lines) + "\n")
            return str(order["id"])
    raise AssertionError("no USD order to change")


def test_a_redelivered_file_rerun_equals_in_order_nightlies_over_the_new_files(prefect_harness, landing, tmp_path,
                                                                               monkeypatch):
    from influence_pipeline.flows.nightly import nightly

    changed = tmp_path / "changed-landing"
    shutil.copytree(landing, changed)
    _change_one_order(changed, NIGHTS[1])
    with pytest.MonkeyPatch.context() as patch:
        new_files = in_order(use_data_dir(changed, tmp_path / "in-order-new", patch))

    data = use_data_dir(landing, tmp_path / "rerun", monkeypatch)
    for day in NIGHTS:
        nightly(ds=day)
    before = published(data)
    order_id = _change_one_order(data / "landing", NIGHTS[1])
    summary = nightly(ds=NIGHTS[1])
    assert summary.ingested["shopify_orders"]["status"] == "replaced"
    after = published(data)
    assert after["warehouse"]["marts.fct_conversion"] != before["warehouse"]["marts.fct_conversion"], order_id
    assert_same(after, new_files)


def test_a_nightly_and_a_backfill_started_together_take_turns_and_end_in_order(expected, landing, tmp_path,
                                                                                monkeypatch):
    from influence_pipeline.flows.backfill import backfill
    from influence_pipeline.flows.nightly import nightly
    from influence_pipeline.sinks.lock import DataDirBusy, data_dir_lock

    data = use_data_dir(landing, tmp_path / "data", monkeypatch)
    errors: list[BaseException] = []

    def in_thread(run):
        def target():
            try:
                run()
            except BaseException as error:  # surfaced by the test thread
                errors.append(error)
        return threading.Thread(target=target)

    runs = [in_thread(lambda: backfill(start=NIGHTS[0], end=NIGHTS[3])),
            in_thread(lambda: [nightly(ds=day) for day in NIGHTS[4:]])]
    for run in runs:
        run.start()
    lock_file = data / ".writer.lock"
    while runs[0].is_alive() and not (lock_file.exists() and lock_file.read_text()):
        runs[0].join(0.05)
    with pytest.raises(DataDirBusy, match=r"is being written by (backfill|nightly) 2026-10-0\d.* \(flow run "):
        with data_dir_lock(data, "a third run that will not wait", 0):
            pass
    for run in runs:
        run.join(600)
    assert not errors and not any(run.is_alive() for run in runs)
    assert_same(published(data), expected)
