"""A night whose batches are too large to hold: every raw batch checked as a streamed query over its Parquet file,
every staging table streamed to a temporary file and handed on as a scan. The golden day is made "large" by
lowering the threshold to nothing; the outputs must be the golden ones, and the temporaries gone afterwards."""
from datetime import date

import duckdb
import polars as pl

from tests.conftest import FIXTURE_DATE
from tests.mart_checks import ATTRIBUTION_MISMATCHES, attribution_mismatches
from tests.test_nightly_flow import MARTS, _mart_csv, _matches_golden

DS = date.fromisoformat(FIXTURE_DATE)


def test_a_night_of_batches_too_large_to_hold_publishes_the_golden_outputs(prefect_harness, data_dir, monkeypatch,
                                                                             caplog):
    from influence_pipeline.atomic import STAGING_DIR, TMP_MARK
    from influence_pipeline.flows import tasks
    from influence_pipeline.flows.nightly import nightly
    from influence_pipeline.schemas.contract import load_contracts

    monkeypatch.setattr(tasks, "STREAM_ABOVE_ROWS", 0)
    summary = nightly(ds=DS)

    assert "stg_web_events: 4 rows (kept on disk)" in caplog.text
    assert summary.staged["stg_web_events"] == 4 and summary.staged["stg_post_snapshots"] == 5
    assert summary.quarantined["web_events"] == 3
    warehouse, lake = data_dir / "warehouse.duckdb", data_dir / "lake" / "current"
    for table, key in MARTS.items():
        assert _matches_golden(table, _mart_csv(warehouse, table, key)), table
    assert attribution_mismatches(str(warehouse)) == dict.fromkeys(ATTRIBUTION_MISMATCHES, 0)

    # the staged web events were published from the temporary file, in line order, with every column
    published = pl.read_parquet(lake / "staging" / "stg_web_events" / f"landing_date={FIXTURE_DATE}" / "part-0.parquet")
    assert published["_row_number"].to_list() == sorted(published["_row_number"].to_list())
    contract = load_contracts()["stg_web_events"]
    assert published.columns == [p.name for p in contract.properties if p.name != "landing_date"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loaded = con.execute("SELECT event_id, _row_number FROM staging.stg_web_events ORDER BY _row_number").fetchall()
    assert loaded == list(published.select("event_id", "_row_number").iter_rows())
    assert not [p.name for p in (data_dir / STAGING_DIR).iterdir() if p.name.startswith(TMP_MARK)]
