"""Late data through whole nightly runs: a refund delivered two days after its order restates that day's revenue,
and an orders file delivered after its night ran is picked up by the next nightly as if it had come on time."""
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.conftest import FIXTURE_DATE, FIXTURES, TEST_PII_KEY
from tests.test_backfill import _tables

pytestmark = pytest.mark.slow
DAY = date.fromisoformat(FIXTURE_DATE)
LATER = [DAY + timedelta(days=1), DAY + timedelta(days=2)]
ORDERS = Path("orders") / FIXTURE_DATE / "orders.ndjson"


def _refund_of_order_5001() -> str:
    """Order 5001 (placed on the fixture day, 59.90 USD) as the shop exports it two days later, refunded 20.00."""
    line = next(json.loads(x) for x in (FIXTURES / "landing" / ORDERS).read_text().splitlines() if '"id":5001' in x)
    line.update(updated_at="2026-11-04T08:00:00-05:00", financial_status="partially_refunded",
                refunds=[{"id": "r9", "created_at": "2026-11-04T08:00:00-05:00",
                          "transactions": [{"amount": "20.00", "kind": "refund"}]}])
    return json.dumps(line) + "\n"


def _landing(root: Path) -> Path:
    """The fixture day, the roster again on the next two days, and the refund in the orders export of the last."""
    landing = root / "landing"
    shutil.copytree(FIXTURES / "landing", landing)
    for day in LATER:
        shutil.copytree(FIXTURES / "landing" / "roster" / FIXTURE_DATE, landing / "roster" / day.isoformat())
    refund = landing / "orders" / LATER[-1].isoformat() / "orders.ndjson"
    refund.parent.mkdir(parents=True)
    refund.write_text(_refund_of_order_5001())
    return landing


def _use(data: Path, monkeypatch) -> None:
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(data))
    monkeypatch.setenv("INFLUENCE_PII_KEY", TEST_PII_KEY)
    monkeypatch.delenv("INFLUENCE_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("INFLUENCE_RULES_FILE", raising=False)


@pytest.fixture(scope="module")
def on_time(prefect_harness, tmp_path_factory) -> Path:
    """Every file delivered on its day; nightlies for the fixture day and the two after it."""
    from influence_pipeline.flows.nightly import nightly

    data = tmp_path_factory.mktemp("on-time")
    _landing(data)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _use(data, monkeypatch)
        for day in [DAY, *LATER]:
            nightly(ds=day)
    return data


def test_a_refund_two_days_late_restates_the_order_day(on_time):
    with duckdb.connect(str(on_time / "warehouse.duckdb"), read_only=True) as con:
        gross, refunded, net, status = con.execute(
            "SELECT gross_revenue, refunded_revenue, net_revenue, financial_status FROM marts.fct_conversion "
            "WHERE order_id = '5001'").fetchone()
        credited = con.execute("SELECT model, sum(attributed_revenue) FROM marts.fct_attribution "
                               "WHERE conversion_id = 'order:5001' GROUP BY model").fetchall()
        campaign = con.execute("SELECT sum(net_revenue) FROM marts.mart_campaign_performance "
                               "WHERE campaign_id = 'CMP-001' AND model = 'code'").fetchone()[0]
        lake = con.execute("SELECT net_revenue FROM read_parquet(?) WHERE order_id = '5001'",
                           [str(on_time / "lake/current/marts/fct_conversion/converted_date=2026-11-02/part-0.parquet")]
                           ).fetchone()[0]
    assert (float(gross), float(refunded), float(net), status) == (59.90, 20.00, 39.90, "partially_refunded")
    assert float(lake) == 39.90
    assert len(credited) == 6 and {float(total) for _, total in credited} == {39.90}
    assert float(campaign) == 39.90


def test_an_orders_file_delivered_after_its_night_is_picked_up_as_if_on_time(prefect_harness, on_time, tmp_path,
                                                                             monkeypatch):
    from influence_pipeline.flows.nightly import nightly

    data = tmp_path / "late"
    landing = _landing(data)
    held_back = tmp_path / "held-back.ndjson"
    shutil.move(landing / ORDERS, held_back)
    _use(data, monkeypatch)
    nightly(ds=DAY)
    nightly(ds=LATER[0])
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.fct_conversion WHERE conversion_type = 'order'").fetchone() == (0,)

    shutil.move(held_back, landing / ORDERS)  # the shop's export of the fixture day finally lands
    nightly(ds=LATER[1])

    late, expected = _tables(data / "warehouse.duckdb"), _tables(on_time / "warehouse.duckdb")
    assert late.keys() == expected.keys()
    for table, rows in expected.items():
        assert late[table] == rows, table
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        statuses = con.execute("SELECT landing_date, ingest_status FROM audit.run_sources WHERE dataset = 'shopify_orders' "
                               "ORDER BY run_finished_at").fetchall()
    assert (DAY, "loaded") in statuses and statuses[:2] == [(DAY, "missing"), (LATER[0], "missing")]
