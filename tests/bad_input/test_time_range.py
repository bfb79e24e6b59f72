"""Dates and timestamps outside the plausible range (rules.yaml's plausible_time): year 0001 was accepted, became
1 BC and a customer's first order. Now the row is quarantined by `<dataset>.<field>.past` (or `.future`), naming the
field and its value, through both NDJSON readers, CSV and Parquet alike; the rest of the file publishes."""
import json
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from influence_pipeline.schemas.row_rules import row_rules
from influence_pipeline.schemas.time_range import PlausibleTime
from influence_pipeline.transforms.quarantine import split_batch
from tests.bad_input.helpers import (
    CSV_CASE,
    DS,
    NDJSON_CASE,
    RAW,
    _assert_only_line_moved,
    _assert_quarantined,
    _by_rule,
    _check_day,
    _edit_csv,
    _edit_ndjson,
    _file,
    _rel,
    _row_numbers,
    _split_one,
)

pytestmark = pytest.mark.usefixtures("both_ndjson_readers")

TOO_EARLY = '{} "{}" is too early (before 2000-01-01 00:00 UTC)'


@pytest.mark.parametrize(NDJSON_CASE, _by_rule(NDJSON_CASE, [
    ("web_events", 1, {"event_at": "0001-01-01T00:00:00+05:00"}, "web_events.event_at.past",
     TOO_EARLY.format("event_at", "0001-01-01T00:00:00+05:00")),
    # 04:00 at +05:00 is still 1999 in UTC: the typed value is compared, not the text
    ("shopify_orders", 1, {"created_at": "2000-01-01T04:00:00+05:00"}, "shopify_orders.created_at.past",
     TOO_EARLY.format("created_at", "2000-01-01T04:00:00+05:00")),
    ("instagram_media", 1, {"timestamp": "1970-01-01T00:00:00+0000"}, "instagram_media.timestamp.past",
     TOO_EARLY.format("timestamp", "1970-01-01T00:00:00+0000")),
]))
def test_an_implausibly_early_ndjson_timestamp_is_quarantined_naming_field_and_value(
        landing, tmp_path, baseline, name, line, change, rule_id, reason):
    _edit_ndjson(_file(landing, name), line, change)
    splits = _check_day(landing, tmp_path / "lake")
    _assert_quarantined(splits[name], name, line, rule_id, reason)
    _assert_only_line_moved(name, splits, baseline, line)


@pytest.mark.parametrize(CSV_CASE, _by_rule(CSV_CASE, [
    ("esp_signups", 2, "created_at", "0001-01-01T00:00:00Z", "esp_signups.created_at.past",
     TOO_EARLY.format("created_at", "0001-01-01T00:00:00Z")),
    ("roster_campaigns", 2, "start_date", "1999-12-31", "roster_campaigns.start_date.past",
     'start_date "1999-12-31" is too early (before 2000-01-01)'),
    # a roster date has no maxDaysAfterLanding in its contract: plausible_time.latest_days_after_landing bounds it
    ("roster_campaigns", 2, "end_date", "9999-12-31", "roster_campaigns.end_date.future",
     'end_date "9999-12-31" is in the future (after 2036-11-09)'),
]))
def test_an_implausible_csv_date_is_quarantined_naming_field_and_value(
        landing, tmp_path, baseline, name, line, column, value, rule_id, reason):
    _edit_csv(_file(landing, name), line, column, value)
    splits = _check_day(landing, tmp_path / "lake")
    _assert_quarantined(splits[name], name, line, rule_id, reason)
    _assert_only_line_moved(name, splits, baseline, line)


def _events_parquet(landing, first_event_at: datetime) -> None:
    """web_events delivered as Parquet (events.parquet, as BigQuery extracts it) with a typed TIMESTAMP column: the
    golden file's well-formed lines, the first one's event_at replaced."""
    ndjson = _file(landing, "web_events")
    records = []
    for line in ndjson.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the golden file's malformed lines: Parquet cannot hold them
    times = [first_event_at] + [datetime.fromisoformat(r["event_at"]) for r in records[1:]]
    table = pa.Table.from_pylist([{k: v for k, v in r.items() if k != "event_at"} for r in records])
    pq.write_table(table.append_column("event_at", pa.array(times, pa.timestamp("us", "UTC"))),
                   ndjson.with_suffix(".parquet"))


def test_a_parquet_timestamp_of_year_0001_is_quarantined_like_its_ndjson_line(landing, tmp_path):
    _events_parquet(landing, datetime(2026, 11, 2, 9, tzinfo=timezone.utc))
    _, good = _split_one(landing / _rel("web_events").replace(".ndjson", ".parquet"), "web_events")
    _events_parquet(landing, datetime(1, 1, 1, tzinfo=timezone.utc))
    _, split = _split_one(landing / _rel("web_events").replace(".ndjson", ".parquet"), "web_events")
    _assert_quarantined(split, "web_events", 1, "web_events.event_at.past",
                        TOO_EARLY.format("event_at", "0001-01-01T00:00:00+00:00"))
    assert 1 in _row_numbers(good.clean)
    assert _row_numbers(split.clean) == [n for n in _row_numbers(good.clean) if n != 1]


def test_the_earliest_bound_is_the_configured_one(landing, tmp_path, monkeypatch):
    """plausible_time.earliest from the rules file the settings name; a row_rules caller may also pass its own."""
    rules = tmp_path / "rules.yaml"
    rules.write_text("plausible_time:\n  earliest: 2026-11-02\n")
    monkeypatch.setenv("INFLUENCE_RULES_FILE", str(rules))
    _edit_ndjson(_file(landing, "web_events"), 2, {"event_at": "2026-11-01T23:59:59Z"})
    raw, split = _split_one(_file(landing, "web_events"), "web_events")
    _assert_quarantined(split, "web_events", 2, "web_events.event_at.past",
                        'event_at "2026-11-01T23:59:59Z" is too early (before 2026-11-02 00:00 UTC)')
    from tests.bad_input.helpers import CONTRACTS
    contract = CONTRACTS["web_events"]
    passed = split_batch(raw, contract, row_rules(contract, DS, {}, PlausibleTime(DS.replace(year=2000), 3660)))
    assert 2 in _row_numbers(passed.clean)
    assert RAW["web_events"].fmt == "ndjson"


def test_both_engines_count_the_rows_the_time_range_rules_quarantine(landing, tmp_path, both_ndjson_readers):
    """GX's own pandas engine (which must hold year 0001), the Polars engine and the quarantine agree on every row
    rule of the edited files, the `past` and `future` rules included."""
    if both_ndjson_readers == "native":
        pytest.skip("one reader is enough: the engines see the raw batch, not how it was read")
    from influence_pipeline.schemas.gx import GxValidator
    from influence_pipeline.schemas.polars_engine import evaluate
    from influence_pipeline.transforms.quarantine import check_batch, same_day_references
    from tests.bad_input.helpers import CONTRACTS, DATASETS, ingest_dataset, scan_raw

    # year 0001 in UTC: GX's pandas engine cannot serialize 1 BC (0001-01-01T00:00:00+05:00), see the README
    _edit_ndjson(_file(landing, "web_events"), 1, {"event_at": "0001-01-01T00:00:00Z"})
    _edit_csv(_file(landing, "esp_signups"), 2, "created_at", "1999-12-31T23:59:59Z")
    _edit_csv(_file(landing, "roster_campaigns"), 2, "end_date", "9999-12-31")
    lake = tmp_path / "lake"
    for dataset in DATASETS:
        ingest_dataset(dataset, landing, lake, DS, "run", b"k" * 32)
    raw = {d.name: scan_raw(lake, d, DS).collect() for d in DATASETS}
    validator = GxValidator(tmp_path / "validation")
    caught = {}
    for name in ("web_events", "esp_signups", "roster_campaigns"):
        contract = CONTRACTS[name]
        check = check_batch(raw[name], contract, row_rules(contract, DS, same_day_references(contract, raw)))
        polars = evaluate(check.frame, check.rules)
        for rule, result, outcome in zip(check.rules, validator.validate(name, "raw", check.frame, check.rules,
                                                                          "time-check"), polars):
            assert result.unexpected_count == outcome["unexpected_count"] == check.split.rule_counts[rule.id], rule.id
            if rule.kind in ("past", "future") and result.unexpected_count:
                caught[rule.id] = result.unexpected_count
    assert caught == {"web_events.event_at.past": 1, "esp_signups.created_at.past": 1,
                      "roster_campaigns.end_date.future": 1,
                      "web_events.event_at.future": 1}  # the golden day's own future event


@pytest.mark.slow
def test_a_night_with_a_year_0001_timestamp_publishes_the_rest(prefect_harness, data_dir, both_ndjson_readers):
    """The night runs through (GX records the results), quarantines the row naming field and value, and its audit
    adds up."""
    if both_ndjson_readers == "native":
        pytest.skip("one reader is enough: the readers agree above; this is about the night")
    import duckdb

    from influence_pipeline.flows.nightly import nightly

    _edit_ndjson(_file(data_dir / "landing", "web_events"), 1, {"event_at": "0001-01-01T00:00:00+05:00"})
    _edit_csv(_file(data_dir / "landing", "esp_signups"), 2, "created_at", "0001-01-01T00:00:00+05:00")
    nightly(ds=DS)
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        quarantined = con.execute("SELECT rule_id, reason FROM quarantine.web_events WHERE _row_number = 1").fetchall()
        unbalanced = con.execute("SELECT count(*) FROM audit.run_sources "
                                 "WHERE rows_in <> rows_published + rows_quarantined + rows_held").fetchone()[0]
        years = con.execute("SELECT min(year(event_at)) FROM staging.stg_web_events").fetchone()[0]
    assert quarantined == [("web_events.event_at.past", TOO_EARLY.format("event_at", "0001-01-01T00:00:00+05:00"))]
    assert unbalanced == 0 and years >= 2000
