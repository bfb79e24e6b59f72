"""Ingestion: landing files → raw lake partitions, exactly once per file content, nothing dropped, no clear PII."""
import shutil
from datetime import date

import polars as pl
import pytest

from influence_pipeline.schemas.raw import BY_NAME as RAW
from influence_pipeline.sources.ingest import ingest_dataset, scan_raw
from influence_pipeline.sources.landing import LandingFileError
from influence_pipeline.sources.manifest import read_all
from tests.conftest import FIXTURE_DATE, FIXTURES, TEST_PII_KEY

DS = date.fromisoformat(FIXTURE_DATE)
KEY = TEST_PII_KEY.encode()


@pytest.fixture
def landing(tmp_path):
    target = tmp_path / "landing"
    shutil.copytree(FIXTURES / "landing", target)
    return target


def _raw(lake, name):
    return scan_raw(lake, RAW[name], DS).collect()


def test_same_file_twice_is_loaded_once(landing, tmp_path):
    lake = tmp_path / "lake"
    first = ingest_dataset(RAW["web_events"], landing, lake, DS, "run-1", KEY)
    before = _raw(lake, "web_events")
    second = ingest_dataset(RAW["web_events"], landing, lake, DS, "run-2", KEY)
    assert (first.status, second.status) == ("loaded", "skipped")
    assert first.rows == second.rows == before.height == 7
    assert _raw(lake, "web_events").equals(before)
    assert set(_raw(lake, "web_events")["_run_id"]) == {"run-1"}
    assert [e.run_id for e in read_all(lake)] == ["run-1"]


def test_redelivered_file_replaces_its_rows(landing, tmp_path):
    lake = tmp_path / "lake"
    ingest_dataset(RAW["shopify_orders"], landing, lake, DS, "run-1", KEY)
    orders_file = landing / "orders" / FIXTURE_DATE / "orders.ndjson"
    lines = orders_file.read_text().splitlines()
    orders_file.write_text("\n".join(lines[:2]) + "\n")
    result = ingest_dataset(RAW["shopify_orders"], landing, lake, DS, "run-2", KEY)
    raw = _raw(lake, "shopify_orders")
    assert result.status == "replaced"
    assert raw.height == 2
    assert set(raw["_run_id"]) == {"run-2"}
    assert read_all(lake)[0].rows == 2


def test_malformed_lines_are_kept_with_a_reason(landing, tmp_path):
    lake = tmp_path / "lake"
    ingest_dataset(RAW["web_events"], landing, lake, DS, "run-1", KEY)
    bad = _raw(lake, "web_events").filter(pl.col("_parse_error").is_not_null())
    assert bad["_row_number"].to_list() == [7]
    assert bad["_parse_error"][0].startswith("malformed JSON")
    assert bad["_source_file"][0] == f"web_events/{FIXTURE_DATE}/events.ndjson"
    ingest_dataset(RAW["esp_signups"], landing, lake, DS, "run-1", KEY)
    short = _raw(lake, "esp_signups").filter(pl.col("_parse_error").is_not_null())
    assert short["_parse_error"].to_list() == ["expected 8 fields, found 6"]
    assert short["_row_number"].to_list() == [4]


def test_pii_never_reaches_the_raw_lake_in_clear(landing, tmp_path):
    lake = tmp_path / "lake"
    for name in ("web_events", "shopify_orders", "esp_signups", "roster_influencers"):
        ingest_dataset(RAW[name], landing, lake, DS, "run-1", KEY)
    stored = b"".join(p.read_bytes() for p in lake.rglob("*.parquet"))
    for clear in (b"alice@example.com", b"Alice@Example.com", b"203.0.113.7", b"Bob@Example.com", b"Carl", b"Diaz"):
        assert clear not in stored
    orders = _raw(lake, "shopify_orders")
    assert orders["customer_email_hash"][0] == orders["email_hash"][0]  # normalised before hashing


def test_file_missing_a_column_fails_naming_file_and_column(landing, tmp_path):
    path = landing / "roster" / FIXTURE_DATE / "discount_codes.csv"
    path.write_text("code,influencer_id\nJANE15,INF-0001\n")
    with pytest.raises(LandingFileError, match=r"roster/2026-11-02/discount_codes.csv: header lacks .*campaign_id"):
        ingest_dataset(RAW["roster_discount_codes"], landing, tmp_path / "lake", DS, "run-1", KEY)


def test_never_delivered_file_reads_as_empty(tmp_path):
    result = ingest_dataset(RAW["web_events"], tmp_path / "landing", tmp_path / "lake", DS, "run-1", KEY)
    assert (result.status, result.rows) == ("missing", 0)
    assert _raw(tmp_path / "lake", "web_events").height == 0


def test_sweep_removes_dead_writers_temporaries_whatever_their_age(tmp_path):
    import os
    import time

    from influence_pipeline.sinks.lake import sweep_temporaries

    stale = tmp_path / "staging" / "t" / "landing_date=2026-11-02" / ".tmp-abc-part-0.parquet"
    fresh = stale.with_name(".tmp-def-part-0.parquet")
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert sweep_temporaries(tmp_path) == 2  # no writer holds them: age no longer matters (tests/test_temporaries.py)
    assert not stale.exists() and not fresh.exists()


def test_a_file_counts_as_late_only_when_its_night_ran_and_its_content_changed(landing, tmp_path):
    import os

    from influence_pipeline.sources.ingest import arrived_late, landing_path

    lake, dataset = tmp_path / "lake", RAW["shopify_orders"]
    path, _ = landing_path(landing, dataset, DS)
    assert not arrived_late(dataset, landing, lake, DS)  # its night never ran: a backfill's job, not a restatement
    held_back = path.read_bytes()
    path.unlink()
    assert ingest_dataset(dataset, landing, lake, DS, "run-1", KEY).status == "missing"
    path.write_bytes(held_back)
    assert arrived_late(dataset, landing, lake, DS)  # delivered after its night
    assert ingest_dataset(dataset, landing, lake, DS, "run-2", KEY).status == "loaded"
    assert not arrived_late(dataset, landing, lake, DS)
    os.utime(path, ns=(0, 0))  # touched, same bytes: the checksum says unchanged
    assert not arrived_late(dataset, landing, lake, DS)
    path.write_bytes(held_back.replace(b'"59.90"', b'"59.80"'))  # same size, other content
    assert arrived_late(dataset, landing, lake, DS)


def test_a_same_length_correction_with_preserved_times_replaces_the_rows(landing, tmp_path):
    """`cp -p` of a corrected export keeps size and modification time: the inode change time still gives it away."""
    import os

    lake = tmp_path / "lake"
    orders = landing / "orders" / FIXTURE_DATE / "orders.ndjson"
    ingest_dataset(RAW["shopify_orders"], landing, lake, DS, "run-1", KEY)
    before = orders.stat()
    text = orders.read_text()
    fixed = text.replace('"total_price":"59.90"', '"total_price":"95.90"', 1)  # a typo fixed: same length
    assert len(fixed) == len(text) and fixed != text
    corrected = tmp_path / "corrected.ndjson"
    corrected.write_text(fixed)
    os.utime(corrected, ns=(before.st_atime_ns, before.st_mtime_ns))
    shutil.copy2(corrected, orders)  # cp -p: same size, same mtime
    assert (orders.stat().st_size, orders.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    result = ingest_dataset(RAW["shopify_orders"], landing, lake, DS, "run-2", KEY)
    assert result.status == "replaced"
    raw = _raw(lake, "shopify_orders")
    assert set(raw["_run_id"]) == {"run-2"} and "95.90" in raw["total_price"].to_list()
    again = ingest_dataset(RAW["shopify_orders"], landing, lake, DS, "run-3", KEY)
    assert again.status == "skipped"


def test_a_file_restored_unchanged_is_rehashed_once_then_known_by_its_stat(landing, tmp_path):
    from influence_pipeline.sources.manifest import read_entry

    lake = tmp_path / "lake"
    ingest_dataset(RAW["web_events"], landing, lake, DS, "run-1", KEY)
    events = landing / "web_events" / FIXTURE_DATE / "events.ndjson"
    old_inode = events.stat().st_ino
    restored = events.with_name("restored")
    shutil.copy2(events, restored)
    restored.replace(events)  # a new inode, same bytes
    assert ingest_dataset(RAW["web_events"], landing, lake, DS, "run-2", KEY).status == "skipped"
    entry = read_entry(lake, "web_events", DS)
    assert entry.inode == events.stat().st_ino != old_inode and entry.run_id == "run-1"
