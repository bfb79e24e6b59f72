"""The README's main job, end to end at a small scale: CLI demo → lake + DuckDB warehouse + summary."""
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from influence_pipeline.cli import app
from influence_pipeline.transforms.staging.registry import STAGING_MODELS
from tests.conftest import run_demo
from tests.mart_checks import MISMATCHES, coverage, mart_mismatches

pytestmark = pytest.mark.slow


def test_demo_end_to_end(prefect_harness, tmp_path, monkeypatch):
    data, result = run_demo(tmp_path, monkeypatch, "--days", "3", "--scale", "0.05", "--dirty-rate", "0.02")
    assert "created a random dev key" in result.output
    assert "3 nightly runs" in result.output and "read_parquet(" in result.output

    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        days = con.execute("SELECT count(DISTINCT landing_date) FROM staging.stg_web_events").fetchone()[0]
        counts = {m.name: con.execute(f"SELECT count(*) FROM staging.{m.name}").fetchone()[0] for m in STAGING_MODELS}
        lake_events = con.execute("SELECT count(*) FROM read_parquet(?, hive_partitioning = true)", [
            str(data / "lake" / "current" / "staging" / "stg_web_events" / "*" / "*.parquet")]).fetchone()[0]
        leaked = con.execute("SELECT count(*) FROM staging.stg_orders WHERE customer_email_hash LIKE '%@%'").fetchone()[0]
        account_days = con.execute("SELECT count(*) FROM marts.fct_account_daily").fetchone()[0]
    assert days == 3
    assert mart_mismatches(str(data / "warehouse.duckdb")) == dict.fromkeys(MISMATCHES, 0)
    assert coverage(str(data / "warehouse.duckdb"))["tiers"] >= 3 and account_days > 10
    assert all(rows > 0 for rows in counts.values()), counts
    assert lake_events == counts["stg_web_events"]
    assert leaked == 0


def test_sample_cli_writes_to_the_landing_dir_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["sample", "--start", "2026-11-01", "--days", "1", "--scale", "0.05"])
    assert result.exit_code == 0, result.output
    written = sorted(str(p.relative_to(tmp_path / "data" / "landing")) for p in (tmp_path / "data" / "landing").rglob("*.*"))
    assert "web_events/2026-11-01/events.ndjson" in written
    assert len(written) == 16
    assert Path(tmp_path / "data" / "landing" / "roster" / "2026-11-01" / "campaigns.csv").read_text().startswith("campaign_id,")


@pytest.mark.parametrize("command", ["sample", "run", "demo", "query"])
def test_every_command_has_help(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_validate_command_prints_rules_and_publishes_nothing(prefect_harness, data_dir):
    result = CliRunner().invoke(app, ["validate", "--date", "2026-11-02"])
    assert result.exit_code == 0, result.output
    assert "web_events" in result.output and "warning web_events.event_at.future: 1" in result.output
    assert "data docs:" in result.output
    assert (data_dir / "validation" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").exists()
    assert not (data_dir / "lake" / "current").exists()
    assert not (data_dir / "warehouse.duckdb").exists()


def test_run_with_a_broken_landing_file_fails_with_a_clear_message(prefect_harness, data_dir):
    (data_dir / "landing" / "roster" / "2026-11-02" / "campaigns.csv").write_text("campaign_id,brand\nCMP-1,X\n")
    result = CliRunner().invoke(app, ["run", "--date", "2026-11-02"])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "error: roster/2026-11-02/campaigns.csv: header lacks the column(s) campaign_name" in said
    assert "Traceback" not in said, said
