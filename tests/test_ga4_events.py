"""GA4 BigQuery export (raw ga4_events) → stg_web_events: ingestion with line numbers, a reason for every quarantined
row, the staged rows against golden files, stable derived event ids, and GA4 next to the site tracker on one day.

The fixture (tests/fixtures/ga4/landing/ga4/2026-11-02/events.ndjson) is shaped like a real export: INT64 as JSON
strings (and, on one line, as numbers), event_params with values in string_value, int_value and double_value,
UTMs only in collected_traffic_source on one line, purchases, and the usual defects. Regenerate the golden files
in tests/fixtures/ga4/expected with UPDATE_GOLDEN=1 and review the diff like code.
"""
import json
import os
import shutil
import uuid
from datetime import date

import polars as pl
import pytest

from influence_pipeline.schemas.contract import load_contracts, polars_schema
from influence_pipeline.schemas.raw import BY_NAME as RAW
from influence_pipeline.schemas.row_rules import row_rules
from influence_pipeline.sources.ingest import ingest_dataset, scan_raw
from influence_pipeline.sources.landing import read_landing_file
from influence_pipeline.transforms.quarantine import split_batch
from influence_pipeline.transforms.staging.ga4 import event_id, event_param, stage_ga4_events
from influence_pipeline.transforms.staging.registry import BY_NAME as STAGING
from tests.conftest import FIXTURE_DATE, FIXTURES, TEST_PII_KEY

DS = date.fromisoformat(FIXTURE_DATE)
KEY = TEST_PII_KEY.encode()
GA4 = FIXTURES / "ga4"
REL = f"ga4/{FIXTURE_DATE}/events.ndjson"
LINES = 14


def _matches_golden(name: str, actual: str) -> bool:
    expected = GA4 / "expected" / f"{name}.csv"
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(actual)
    return actual == expected.read_text()


def _split(raw: pl.DataFrame, name: str):
    contract = load_contracts()[name]
    return split_batch(raw, contract, row_rules(contract, DS))


def _empty(name: str) -> pl.LazyFrame:
    return pl.LazyFrame(schema=pl.Schema(RAW[name].arrow_schema))


def _stage(web: pl.LazyFrame, ga4: pl.LazyFrame) -> pl.DataFrame:
    """stg_web_events built the way the night builds it: through the registry, inputs in their declared order."""
    model = STAGING["stg_web_events"]
    frames = {"web_events": web, "ga4_events": ga4}
    return model.build(*[frames[name] for name in model.inputs], landing_date=DS).collect()


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> pl.DataFrame:
    lake = tmp_path_factory.mktemp("lake")
    result = ingest_dataset(RAW["ga4_events"], GA4 / "landing", lake, DS, "ga4-run", KEY)
    assert (result.status, result.rows, result.file) == ("loaded", LINES, REL)
    return scan_raw(lake, RAW["ga4_events"], DS).collect()


@pytest.fixture(scope="module")
def split(raw):
    return _split(raw, "ga4_events")


# ------------------------------------------------------------------------------------------------ ingestion


def test_the_landing_file_is_a_raw_dataset_read_by_the_normal_reader():
    dataset = RAW["ga4_events"]
    assert (dataset.source, dataset.file, dataset.fmt) == ("ga4", "events.ndjson", "ndjson")
    table = read_landing_file(dataset, GA4 / "landing" / REL, REL, "run", KEY)
    assert table.num_rows == LINES and table.schema == dataset.arrow_schema


def test_every_line_lands_with_its_line_number_and_values_as_text(raw):
    assert raw["_row_number"].to_list() == list(range(1, LINES + 1))
    assert set(raw["_source_file"]) == {REL}
    assert raw.filter(pl.col("_parse_error").is_not_null())["_row_number"].to_list() == [9]
    by_line = {row["_row_number"]: row for row in raw.iter_rows(named=True)}
    # INT64 delivered as a JSON string (line 1) and as a JSON number (line 3) land as the same plain digits
    assert by_line[1]["event_timestamp"] == "1793610903123456" and by_line[1]["batch_event_index"] == "1"
    assert by_line[3]["event_timestamp"] == "1793611000500000" and by_line[3]["batch_page_id"] == "2"
    # nested fields: dotted paths become columns, the repeated event_params stays JSON text
    assert by_line[7]["ecommerce_transaction_id"] == "5123456789"
    assert by_line[4]["collected_manual_campaign_name"] == "Black Friday"
    params = json.loads(by_line[7]["event_params"])
    assert {"key": "value", "value": {"string_value": None, "int_value": None, "float_value": None,
                                      "double_value": 59.9}} in params


# ------------------------------------------------------------------------------------------------ quarantine


def test_every_row_is_published_or_quarantined_with_a_reason(raw, split):
    assert split.clean.height + split.quarantined.height == raw.height
    assert not set(split.clean["_row_number"]) & set(split.quarantined["_row_number"])
    assert split.quarantined["reason"].null_count() == 0
    # staging publishes every clean row: nothing is dropped between the contract and the table
    assert _stage(_empty("web_events"), split.clean.lazy()).height == split.clean.height


def test_quarantine_reasons(split):
    reasons = dict(zip(split.quarantined["_row_number"], split.quarantined["reason"]))
    rules = dict(zip(split.quarantined["_row_number"], split.quarantined["rule_id"]))
    assert rules == {
        1: "ga4_events.duplicate_key",  # exported twice (line 14): the later line is kept
        2: "ga4_events.event_name.enum",  # session_start: not a web event of the pipeline
        9: "ga4_events.parse",
        10: "ga4_events.user_pseudo_id.required",  # analytics cookies refused
        11: "ga4_events.event_name.enum",  # begin_checkout: no order placed
        12: "ga4_events.ecommerce_transaction_id.pattern",  # an order name, not the Shopify order id
        13: "ga4_events.event_timestamp.range",  # milliseconds, not microseconds
    }
    assert reasons[2] == 'event_name "session_start" is not an allowed value'
    assert reasons[9].startswith("line 9: malformed JSON")
    assert reasons[10] == "user_pseudo_id is missing"
    assert reasons[1].startswith("superseded by line 14 (same user_pseudo_id, event_timestamp, event_name")
    assert _matches_golden("quarantine_ga4_events", split.quarantined.select(
        "_source_file", "_row_number", "rule_id", "failed_rules", "reason").write_csv())


# ------------------------------------------------------------------------------------------------ staging


def test_staged_rows_match_the_golden_file(split):
    staged = _stage(_empty("web_events"), split.clean.lazy())
    assert staged.schema == polars_schema(load_contracts()["stg_web_events"])
    assert _matches_golden("stg_web_events", staged.write_csv())


def test_mapping_decisions(split):
    staged = {row["_row_number"]: row for row in _stage(_empty("web_events"), split.clean.lazy()).iter_rows(named=True)}
    assert {n: r["event_type"] for n, r in staged.items()} == {
        3: "page_view", 4: "page_view", 5: "signup", 6: "signup", 7: "checkout", 8: "checkout", 14: "page_view"}
    # microseconds kept; user_pseudo_id is the visitor
    assert str(staged[14]["event_at"]) == "2026-11-02 09:15:03.123456+00:00"
    assert staged[14]["anonymous_id"] == "1234567890.1762070000"
    # UTMs of the URL; UTMs only in collected_traffic_source fill the columns, the URL stays as sent
    assert (staged[14]["utm_source"], staged[14]["utm_content"]) == ("instagram", "anna.style")
    assert staged[4]["page_url"] == "https://shop.example.com/"
    assert [staged[4][f"utm_{p}"] for p in ("source", "medium", "campaign", "content", "term")] == [
        "newsletter", "email", "black friday", None, None]  # "(not set)" is no value
    # purchase: order id from ecommerce, customer id from a numeric user_id; "(not set)" and "cust_abc" are null
    assert (staged[7]["order_id"], staged[7]["customer_id"]) == ("5123456789", "7001234")
    assert (staged[8]["order_id"], staged[8]["customer_id"]) == (None, None)
    # GA4 exports no user agent, IP address or email
    assert all(r["user_agent"] is None and r["ip_hash"] is None and r["email_hash"] is None for r in staged.values())
    assert staged[4]["referrer"] is None and staged[6]["referrer_host"] == "www.google.com"


def _one(**values) -> pl.LazyFrame:
    row = {c: None for c in RAW["ga4_events"].arrow_schema.names} | {"_row_number": 1, "_source_file": "x"} | values
    return pl.LazyFrame([row], schema=pl.Schema(RAW["ga4_events"].arrow_schema))


def test_event_id_is_a_uuid5_stable_across_re_exports(tmp_path):
    ids = lambda frame: frame.select(event_id()).collect().to_series().to_list()  # noqa: E731
    # the same export line with its INT64 values as JSON strings, then as JSON numbers (another extract of the table)
    line = json.loads((GA4 / "landing" / REL).read_text().splitlines()[0])
    as_numbers = line | {k: int(line[k]) for k in ("event_timestamp", "batch_page_id", "batch_ordering_id",
                                                     "batch_event_index")}
    path = tmp_path / "events.ndjson"
    path.write_text(f"{json.dumps(line)}\n{json.dumps(as_numbers)}\n")
    both = pl.from_arrow(read_landing_file(RAW["ga4_events"], path, REL, "r", KEY)).lazy()
    first, again = ids(both)
    assert first == again and uuid.UUID(first).version == 5
    assert first == _stage(_empty("web_events"), both).filter(pl.col("_row_number") == 1)["event_id"].item()
    # padding does not change the key; another event of the same request, or a missing batch id, is another id
    key = dict(user_pseudo_id="1.2", event_timestamp="1793610903123456", event_name="page_view",
               batch_page_id="1", batch_ordering_id="2", batch_event_index="3")
    one = ids(_one(**key))
    assert ids(_one(**key | dict(user_pseudo_id=" 1.2 "))) == one
    assert ids(_one(**key | dict(batch_event_index="4"))) != one
    assert ids(_one(**key | dict(batch_page_id=None))) != one


def test_url_utms_and_collected_utms_are_never_mixed():
    tagged_url = json.dumps([{"key": "page_location", "value": {"string_value": "https://s.example/?utm_source=ig"}}])
    frame = _one(user_pseudo_id="1.2", event_timestamp="1793610903123456", event_name="page_view",
                 event_params=tagged_url, collected_manual_source="other", collected_manual_campaign_name="fall")
    row = stage_ga4_events(frame).collect().row(0, named=True)
    assert (row["utm_source"], row["utm_campaign"]) == ("ig", None)


def test_an_event_parameter_is_read_from_whichever_typed_field_holds_it():
    params = [{"key": "a", "value": {"int_value": 1793610903}}, {"key": "b", "value": {"int_value": "42"}},
              {"key": "c", "value": {"double_value": 59.9}}, {"key": "d", "value": {"float_value": 1.5}},
              {"key": "e", "value": {"string_value": "x", "int_value": None}}]
    dtype = pl.List(pl.Struct({"key": pl.String, "value": pl.Struct(
        {f: pl.String for f in ("string_value", "int_value", "float_value", "double_value")})}))
    frame = pl.DataFrame({"p": [json.dumps(params)]}).select(pl.col("p").str.json_decode(dtype))
    got = frame.select(*[event_param(pl.col("p"), k).alias(k) for k in "abcdef"]).row(0)
    assert got == ("1793610903", "42", "59.9", "1.5", "x", None)


def test_an_oddly_shaped_event_params_row_loses_only_its_own_parameters():
    good = json.dumps([{"key": "page_location", "value": {"string_value": "https://s.example/a"}}])
    rows = [_one(user_pseudo_id="1.2", event_timestamp=str(1793610903123456 + n), event_name="page_view",
                 event_params=params, _row_number=n) for n, params in enumerate([good, '{"key":"x"}', "[1,2]", good], 1)]
    staged = stage_ga4_events(pl.concat(rows)).collect()
    assert staged["page_url"].to_list() == ["https://s.example/a", None, None, "https://s.example/a"]


# ------------------------------------------------------------------------------------------------ with the tracker


def test_a_tracker_file_and_a_ga4_file_on_the_same_day_both_reach_stg_web_events(tmp_path, split):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    shutil.copytree(FIXTURES / "landing" / "web_events", landing / "web_events")
    shutil.copytree(GA4 / "landing" / "ga4", landing / "ga4")
    clean = {}
    for name in ("web_events", "ga4_events"):
        assert ingest_dataset(RAW[name], landing, lake, DS, "both-run", KEY).status == "loaded"
        clean[name] = _split(scan_raw(lake, RAW[name], DS).collect(), name).clean
    staged = _stage(clean["web_events"].lazy(), clean["ga4_events"].lazy())
    sources = staged["_source_file"].str.extract(r"^([^/]+)/").value_counts(sort=True, name="n")
    assert dict(zip(*sources)) == {"ga4": clean["ga4_events"].height, "web_events": clean["web_events"].height}
    assert staged.select(pl.col("event_id").is_unique().all()).item()
    # each source's rows are exactly what it stages alone: the tracker's golden rows, then GA4's
    tracker_only = _stage(clean["web_events"].lazy(), _empty("ga4_events"))
    assert tracker_only.write_csv() == (FIXTURES / "expected" / "stg_web_events.csv").read_text()
    assert staged.head(tracker_only.height).equals(tracker_only)
    assert staged.tail(clean["ga4_events"].height).equals(_stage(_empty("web_events"), split.clean.lazy()))
