"""Files and folders a run does not know (`orders/20261003/`, `orders (1).ndjson`, `pinterest/`) were ignored without a
word, and a missing expected file was one WARNING line. Now each is an audit row with status `unexpected` (no rows,
so rows in = published + quarantined still holds), and the run summary names, per source, what was missing."""
import shutil
from datetime import date, datetime, timezone

import duckdb
import pytest
from rich.console import Console

from influence_pipeline.flows.night import RunSummary
from influence_pipeline.schemas.contract import load_contracts
from influence_pipeline.sources.landing_survey import unexpected_landing
from influence_pipeline.summary import landing_notes, print_landing_notes
from influence_pipeline.transforms.audit import AUDIT_SCHEMA, SourceOutcome, build_run_sources
from tests.conftest import FIXTURE_DATE, FIXTURES

DS = date.fromisoformat(FIXTURE_DATE)
STRAYS = ["notes.txt", "orders/20261003/", f"orders/{FIXTURE_DATE}/orders (1).ndjson",
          f"orders/{FIXTURE_DATE}/retry/", "pinterest/", f"web_events/{FIXTURE_DATE}/events.ndjson.bak"]


def _add_strays(landing) -> None:
    (landing / "notes.txt").write_text("see me\n")
    (landing / "orders" / "20261003").mkdir()
    orders = landing / "orders" / FIXTURE_DATE
    shutil.copy(orders / "orders.ndjson", orders / "orders (1).ndjson")
    (orders / "retry").mkdir()
    (landing / "pinterest" / FIXTURE_DATE).mkdir(parents=True)
    shutil.copy(landing / "web_events" / FIXTURE_DATE / "events.ndjson",
                landing / "web_events" / FIXTURE_DATE / "events.ndjson.bak")
    (landing / "orders" / "2026-11-03").mkdir()  # another night's folder: that night's business, not unexpected


def test_the_survey_lists_every_path_no_run_reads(tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES / "landing", landing)
    assert unexpected_landing(landing, DS) == []  # the golden day: every file is expected
    _add_strays(landing)
    assert unexpected_landing(landing, DS) == sorted(STRAYS)
    # the night's own strays are listed only on its night; misnamed folders and unknown sources every night
    assert unexpected_landing(landing, date(2026, 11, 3)) == ["notes.txt", "orders/20261003/", "pinterest/"]
    assert unexpected_landing(tmp_path / "absent", DS) == []


def test_a_symlink_in_landing_is_listed_not_followed(tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES / "landing", landing)
    (tmp_path / "etc").mkdir()
    (landing / "orders" / FIXTURE_DATE / "extra").symlink_to(tmp_path / "etc", target_is_directory=True)
    assert unexpected_landing(landing, DS) == [f"orders/{FIXTURE_DATE}/extra"]


def test_unexpected_paths_are_audit_rows_that_keep_the_invariant():
    now = datetime(2026, 11, 3, tzinfo=timezone.utc)
    outcome = SourceOutcome("shopify_orders", f"orders/{FIXTURE_DATE}/orders.ndjson", "loaded", 5, 4, 1, 1, 0, 0.1, 0.1)
    audit = build_run_sources("run-1", DS, [outcome], now, now, run_failed=False, unexpected=STRAYS)
    assert audit.schema == AUDIT_SCHEMA
    strays = audit.filter(audit["status"] == "unexpected")
    assert strays["landing_file"].to_list() == STRAYS
    assert strays["dataset"].to_list() == [f"unexpected:{p}" for p in STRAYS]
    assert set(strays["ingest_status"]) == {"unexpected"}
    assert (audit["rows_in"] == audit["rows_published"] + audit["rows_quarantined"] + audit["rows_held"]).all()
    assert audit["dataset"].n_unique() == audit.height  # the key (run_id, dataset) holds
    contract = load_contracts()["run_sources"]
    for column in ("status", "ingest_status"):
        allowed = {str(v) for v in contract.prop(column).enum}
        assert set(audit[column]) <= allowed, column


def test_the_run_summary_names_missing_files_per_source_and_the_unexpected_ones():
    ingested = {
        "shopify_orders": {"status": "loaded", "rows": 5, "file": f"orders/{FIXTURE_DATE}/orders.ndjson"},
        "shopify_order_nodes": {"status": "missing", "rows": 0, "file": f"orders/{FIXTURE_DATE}/order_nodes.ndjson"},
        "web_events": {"status": "loaded", "rows": 7, "file": f"web_events/{FIXTURE_DATE}/events.ndjson"},
        "ga4_events": {"status": "missing", "rows": 0, "file": f"ga4/{FIXTURE_DATE}/events.ndjson"},
        "esp_signups": {"status": "missing", "rows": 0, "file": f"signups/{FIXTURE_DATE}/signups.csv"},
    }
    summary = RunSummary(DS, "run-1", ingested, unexpected=["pinterest/"])
    assert landing_notes(summary) == [
        f"{DS} missing in ga4/: ga4/{FIXTURE_DATE}/events.ndjson (web_events delivered instead)",
        f"{DS} missing in orders/: orders/{FIXTURE_DATE}/order_nodes.ndjson (shopify_orders delivered instead)",
        f"{DS} missing in signups/: signups/{FIXTURE_DATE}/signups.csv",
        f"{DS} unexpected (not read): pinterest/",
    ]
    console = Console(record=True, width=200)
    print_landing_notes(console, [summary])
    assert console.export_text().splitlines() == landing_notes(summary)


@pytest.mark.slow
def test_a_night_lists_strays_in_its_audit_and_summary_and_publishes_the_rest(prefect_harness, data_dir):
    from influence_pipeline.flows.nightly import nightly

    _add_strays(data_dir / "landing")
    summary = nightly(ds=DS)
    assert summary.unexpected == sorted(STRAYS)
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT landing_file, ingest_status, rows_in FROM audit.run_sources "
                           "WHERE status = 'unexpected' ORDER BY landing_file").fetchall()
        unbalanced = con.execute("SELECT count(*) FROM audit.run_sources "
                                 "WHERE rows_in <> rows_published + rows_quarantined + rows_held").fetchone()[0]
        orders = con.execute("SELECT rows_in FROM audit.run_sources WHERE dataset = 'shopify_orders'").fetchall()
    assert rows == [(path, "unexpected", 0) for path in sorted(STRAYS)]
    assert unbalanced == 0
    # the copy was not read: the orders file's rows are counted once
    lines = (FIXTURES / "landing" / "orders" / FIXTURE_DATE / "orders.ndjson").read_text().splitlines()
    assert orders == [(sum(1 for line in lines if line.strip()),)]
