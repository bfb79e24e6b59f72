"""The nightly flow on the golden landing files: outputs in the lake and the warehouse, identical on a rerun."""
import hashlib
import os
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.conftest import FIXTURE_DATE, FIXTURES
from tests.mart_checks import ATTRIBUTION_MISMATCHES, attribution_mismatches

DS = date.fromisoformat(FIXTURE_DATE)


MARTS = {"fct_post_engagement": "post_id", "fct_account_daily": "account_id", "dim_account": "account_id",
         "dim_influencer": "influencer_id", "mart_tier_benchmark": "platform, tier, niche",
         "fct_visit": "visit_id", "fct_conversion": "conversion_id", "fct_attribution": "conversion_id, model, credited_to",
         "dim_customer": "customer_key", "mart_channel_attribution": "month_start_date, level, credited_to, model",
         "mart_campaign_performance": "campaign_id, influencer_id, model"}


def _mart_csv(warehouse, table: str, key: str) -> str:
    """A mart as CSV text: golden files compare it to the cent (money and rates rounded to 6 places)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frame = pl.from_arrow(con.sql(f"SELECT * FROM marts.{table} ORDER BY {key}").to_arrow_table())
    floats = [c for c, t in frame.schema.items() if t.is_float()]
    return frame.with_columns([frame[c].round(6) for c in floats]).write_csv()


def _matches_golden(name: str, actual: str) -> bool:
    expected = FIXTURES / "expected" / f"{name}.csv"
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(actual)
    return actual == expected.read_text()


def _artifact(key: str, flow_run_id: str) -> str:
    """The artifact `key` of one flow run (other tests of the session run the same date with other data)."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)])))
    return found[-1].data if found else ""


def _assert_report(path: str) -> None:
    """The night's brief: self-contained (no script, no remote resource), five charts, the fixture's numbers."""
    page = Path(path).read_text()
    assert Path(path).name == f"report-{FIXTURE_DATE}.html"
    assert page.count("<svg") == 5 and "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    # CMP-001 × Jane Glow: fee 1 500 + gifted 120.50 + 10 % of the 59.90 code revenue = 1 626.49, ROAS 59.90 / 1 626.49
    assert ("<td class='l'>Jane Glow</td><td class=''>$1,626.49</td><td class=''>$59.90</td><td class=''>$59.90</td>"
            "<td class=''>0.04×</td><td class=''>−96.3 %</td>") in page
    assert "checked)</h3>" in page and "web_events.event_at.future" in page


def _lake_digest(lake) -> dict[str, str]:
    return {str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(lake.rglob("*.parquet"))}


def _warehouse_rows(path) -> dict[str, list]:
    """Every staging, mart and quarantine table (run ids aside, which differ by design)."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.sql("SELECT schema_name, table_name FROM duckdb_tables() "
                         "WHERE schema_name IN ('staging', 'marts', 'quarantine')").fetchall()
        return {table if schema == "staging" else f"{schema}.{table}":
                con.sql(f'SELECT * EXCLUDE (_run_id) FROM "{schema}"."{table}" ORDER BY ALL').fetchall()
                if schema == "quarantine" else con.sql(f'SELECT * FROM "{schema}"."{table}" ORDER BY ALL').fetchall()
                for schema, table in tables}


def _assert_bi_copy(copy: Path, warehouse: Path) -> None:
    """The BI copy holds every marts table with the same rows, column order and comments — the date-partitioned
    facts as views over the lake, the rest as tables — plus the readable views, and nothing else."""
    catalog = ("SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'marts' UNION ALL "
               "SELECT view_name, comment FROM duckdb_views() WHERE schema_name = 'marts' AND NOT internal "
               "ORDER BY 1")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        expected = con.execute(catalog).fetchall()
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'")
                  .fetchall()]
        rows = {t: con.execute(f'SELECT * FROM marts."{t}" ORDER BY ALL').fetchall() for t in tables}
    with duckdb.connect(str(copy), read_only=True) as con:
        assert con.execute(catalog).fetchall() == expected and len(tables) == 12
        assert {t: con.execute(f'SELECT * FROM marts."{t}" ORDER BY ALL').fetchall() for t in tables} == rows
        views = {v for (v,) in con.execute("SELECT view_name FROM duckdb_views() WHERE schema_name = 'marts'")
                 .fetchall()}
        assert {"fct_visit", "fct_conversion", "fct_attribution", "fct_post_engagement"} <= views
        assert {s for (s,) in con.execute("SELECT DISTINCT schema_name FROM duckdb_tables()").fetchall()} == {"marts"}
        assert con.execute("SELECT comment FROM duckdb_columns() WHERE table_name = 'fct_conversion' "
                           "AND column_name = 'net_revenue'").fetchone()[0].startswith("gross_revenue minus")
        assert con.execute("SELECT count(*) FROM marts.campaign_scorecard").fetchone()[0] > 0


def test_nightly_writes_lake_and_duckdb_and_a_rerun_changes_nothing(prefect_harness, data_dir, caplog):
    from influence_pipeline.flows.nightly import nightly

    summary = nightly(ds=DS)
    # The fixture shop sends the tracker's file and no GA4 export: its alternative, so no warning about GA4.
    assert summary.ingested["ga4_events"]["status"] == "missing"
    assert "ga4_events: no landing file ga4/2026-11-02/events.ndjson (web_events delivered instead)" in caplog.text
    assert not [r for r in caplog.records if r.levelname == "WARNING" and "ga4_events" in r.getMessage()]
    # likewise its orders arrive in the REST shape, not as the pull's GraphQL nodes: no warning about those either
    assert summary.ingested["shopify_order_nodes"]["status"] == "missing"
    assert "(shopify_orders delivered instead)" in caplog.text
    assert not [r for r in caplog.records if r.levelname == "WARNING" and "shopify_order_nodes" in r.getMessage()]
    assert summary.ingested["web_events"] == {"status": "loaded", "rows": 7,
                                              "file": f"web_events/{FIXTURE_DATE}/events.ndjson"}
    assert summary.staged["stg_web_events"] == 4  # 7 lines: 1 malformed, 1 duplicate, 1 dated 2099
    assert summary.staged["stg_post_snapshots"] == 5
    assert summary.quarantined["web_events"] == 3
    lake, warehouse = data_dir / "lake" / "current", data_dir / "warehouse.duckdb"
    first_lake, first_rows = _lake_digest(lake), _warehouse_rows(warehouse)
    assert {name: len(rows) for name, rows in first_rows.items() if name.startswith("stg_")} == {
        t: n for t, n in summary.staged.items() if t.startswith("stg_")}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        posts = con.execute("SELECT count(*), count(DISTINCT posted_date) FROM marts.fct_post_engagement").fetchone()
    assert posts == (summary.staged["fct_post_engagement"], 2)

    with duckdb.connect() as con:
        read_back = con.sql(
            "SELECT landing_date, count(*) FROM read_parquet(?, hive_partitioning = true) GROUP BY ALL",
            params=[str(lake / "staging" / "stg_post_snapshots" / "*" / "*.parquet")]).fetchall()
    assert read_back == [(DS, 5)]

    for table, key in MARTS.items():
        assert _matches_golden(table, _mart_csv(warehouse, table, key)), table
    assert attribution_mismatches(str(warehouse)) == dict.fromkeys(ATTRIBUTION_MISMATCHES, 0)
    _assert_report(summary.report)
    from influence_pipeline.report.data import read_report_data
    from influence_pipeline.report.metrics import period_totals
    from influence_pipeline.rules_file import load_rules
    data = read_report_data(lake, data_dir / "validation", DS, load_rules())
    month = period_totals(data.visits_daily, data.conversions, data.attribution, data.campaigns, DS.replace(day=1), DS)
    assert (month.visits, month.signups, month.orders) == (2, 2, 1)  # order 4990 converted in October
    artifact = _artifact(f"nightly-{FIXTURE_DATE}", summary.run_id)
    assert "# Nightly 2026-11-02" in artifact and "| web_events | loaded | 7 | 4 | 3 |" in artifact
    _assert_bi_copy(data_dir / "bi" / "warehouse.duckdb", warehouse)

    again = nightly(ds=DS)
    # every delivered file is skipped; the fixtures are a tracker shop, so the GA4 export stays missing
    assert {info["status"] for name, info in again.ingested.items()
            if name not in ("ga4_events", "shopify_order_nodes")} == {"skipped"}
    assert again.ingested["ga4_events"]["status"] == summary.ingested["ga4_events"]["status"] == "missing"
    assert _lake_digest(lake) == first_lake
    assert _warehouse_rows(warehouse) == first_rows


def test_production_warehouse_without_pii_key_fails_before_any_work(prefect_harness, data_dir, monkeypatch):
    from influence_pipeline.flows.nightly import nightly
    from influence_pipeline.settings import SettingsError

    monkeypatch.delenv("INFLUENCE_PII_KEY")
    monkeypatch.setenv("INFLUENCE_WAREHOUSE_URL", "postgresql+psycopg://u:secret@127.0.0.1:5432/db")
    with pytest.raises(SettingsError, match="INFLUENCE_PII_KEY must be set") as failure:
        nightly(ds=DS)
    assert "secret" not in str(failure.value)
    assert not (data_dir / "lake").exists()
