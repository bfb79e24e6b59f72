"""The GA4 export as Parquet (`bq extract --destination_format PARQUET`): typed columns, nested records as structs,
repeated fields as lists. The same events as the NDJSON fixture give the same raw values and the same stg_web_events
rows; only the lineage (file name, row numbers) differs."""
import json
from datetime import date

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from influence_pipeline.schemas.contract import load_contracts
from influence_pipeline.schemas.raw import BY_NAME as RAW
from influence_pipeline.schemas.row_rules import row_rules
from influence_pipeline.sources.ingest import ingest_dataset, landing_path, scan_raw, unread_forms
from influence_pipeline.sources.landing import LandingFileError, read_landing_file
from influence_pipeline.transforms.quarantine import split_batch
from influence_pipeline.transforms.staging.registry import BY_NAME as STAGING
from tests.conftest import FIXTURE_DATE, FIXTURES, TEST_PII_KEY

DS = date.fromisoformat(FIXTURE_DATE)
KEY = TEST_PII_KEY.encode()
NDJSON = FIXTURES / "ga4" / "landing" / "ga4" / FIXTURE_DATE / "events.ndjson"
INT64 = ("event_timestamp", "batch_page_id", "batch_ordering_id", "batch_event_index")
VALUE = pa.struct([("string_value", pa.string()), ("int_value", pa.int64()), ("float_value", pa.float64()),
                   ("double_value", pa.float64())])
#: The columns of a GA4 export table the pipeline reads, typed as BigQuery writes them to Parquet, plus two it ignores.
SCHEMA = pa.schema([
    ("event_date", pa.string()), ("event_timestamp", pa.int64()), ("event_name", pa.string()),
    ("event_params", pa.list_(pa.struct([("key", pa.string()), ("value", VALUE)]))),
    ("user_id", pa.string()), ("user_pseudo_id", pa.string()),
    ("device", pa.struct([("category", pa.string()), ("operating_system", pa.string())])),
    ("collected_traffic_source", pa.struct([(f, pa.string()) for f in (
        "manual_source", "manual_medium", "manual_campaign_name", "manual_content", "manual_term", "gclid")])),
    ("ecommerce", pa.struct([("transaction_id", pa.string()), ("purchase_revenue", pa.float64())])),
    ("batch_page_id", pa.int64()), ("batch_ordering_id", pa.int64()), ("batch_event_index", pa.int64()),
])


def _typed(record: dict) -> dict:
    """An NDJSON export line as BigQuery's Parquet holds it: INT64 as integers, only the schema's columns."""
    out = {name: record.get(name) for name in SCHEMA.names}
    for name in INT64:
        out[name] = None if out[name] is None else int(out[name])
    for param in out["event_params"] or []:
        value = param["value"]
        value["int_value"] = None if value.get("int_value") is None else int(value["int_value"])
    return out


@pytest.fixture
def landing(tmp_path):
    """A landing dir with the NDJSON fixture's decodable lines as events.parquet (line 9 is not JSON at all)."""
    records = []
    for line in NDJSON.read_text().splitlines():
        try:
            records.append(_typed(json.loads(line)))
        except ValueError:
            continue
    folder = tmp_path / "landing" / "ga4" / FIXTURE_DATE
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(records, schema=SCHEMA), folder / "events.parquet")
    return tmp_path / "landing"


def _staged(raw: pl.DataFrame) -> pl.DataFrame:
    contract = load_contracts()["ga4_events"]
    clean = split_batch(raw, contract, row_rules(contract, DS)).clean
    empty = pl.LazyFrame(schema=pl.Schema(RAW["web_events"].arrow_schema))
    return STAGING["stg_web_events"].build(empty, clean.lazy(), landing_date=DS).collect()


def _without_lineage(frame: pl.DataFrame) -> list[dict]:
    return frame.drop("_source_file", "_row_number", "_run_id", strict=False).sort("event_id").to_dicts()


def test_parquet_rows_read_as_the_ndjson_lines_do(landing):
    rel = f"ga4/{FIXTURE_DATE}/events.parquet"
    parquet = pl.from_arrow(read_landing_file(RAW["ga4_events"], landing / rel, rel, "run", KEY))
    ndjson = pl.from_arrow(read_landing_file(RAW["ga4_events"], NDJSON, "n", "run", KEY)).filter(
        pl.col("_parse_error").is_null())
    assert parquet["_row_number"].to_list() == list(range(1, 14))
    assert parquet["_parse_error"].null_count() == 13
    values = [c for c in RAW["ga4_events"].columns if c != "event_params"]
    assert parquet.select(values).to_dicts() == ndjson.select(values).to_dicts()
    # event_params stays JSON text: the same parameters, int_value typed (NDJSON exports write INT64 as strings)
    assert [_ints_as_text(p) for p in parquet["event_params"]] == [_ints_as_text(p) for p in ndjson["event_params"]]
    assert '"int_value":1793610903,' in parquet["event_params"][0]


def _ints_as_text(params: str) -> list[dict]:
    decoded = json.loads(params)
    for param in decoded:
        value = param["value"]
        value["int_value"] = None if value["int_value"] is None else str(value["int_value"])
    return decoded


def test_parquet_and_ndjson_stage_to_the_same_web_events(landing):
    rel = f"ga4/{FIXTURE_DATE}/events.parquet"
    parquet = pl.from_arrow(read_landing_file(RAW["ga4_events"], landing / rel, rel, "run", KEY))
    ndjson = pl.from_arrow(read_landing_file(RAW["ga4_events"], NDJSON, "n", "run", KEY))
    from_parquet, from_ndjson = _staged(parquet), _staged(ndjson)
    assert from_parquet.height == from_ndjson.height == 7
    assert _without_lineage(from_parquet) == _without_lineage(from_ndjson)


def test_the_night_ingests_the_parquet_form_and_prefers_ndjson_when_both_arrive(landing, tmp_path):
    dataset = RAW["ga4_events"]
    assert landing_path(landing, dataset, DS)[1] == f"ga4/{FIXTURE_DATE}/events.parquet"
    result = ingest_dataset(dataset, landing, tmp_path / "lake", DS, "run", KEY)
    assert (result.status, result.rows, result.file) == ("loaded", 13, f"ga4/{FIXTURE_DATE}/events.parquet")
    assert scan_raw(tmp_path / "lake", dataset, DS).collect().height == 13
    (landing / "ga4" / FIXTURE_DATE / "events.ndjson").write_bytes(NDJSON.read_bytes())
    assert landing_path(landing, dataset, DS)[1] == f"ga4/{FIXTURE_DATE}/events.ndjson"
    assert unread_forms(landing, dataset, DS) == [f"ga4/{FIXTURE_DATE}/events.parquet"]


def test_a_file_that_is_not_parquet_is_refused_naming_it(tmp_path):
    path = tmp_path / "events.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(LandingFileError, match="ga4/x/events.parquet: not a readable Parquet file"):
        read_landing_file(RAW["ga4_events"], path, "ga4/x/events.parquet", "run", KEY)


def test_csv_datasets_have_no_parquet_form():
    assert unread_forms(FIXTURES / "landing", RAW["esp_signups"], DS) == []


def test_typed_timestamp_and_decimal_columns_land_as_their_text(tmp_path):
    """A Parquet export with a TIMESTAMP column for a timestamp field stages like the NDJSON text of the same
    instant (not as a quoted JSON string the timestamp rule would refuse)."""
    from datetime import datetime, timezone
    from decimal import Decimal

    dataset = RAW["web_events"]
    at = datetime(2026, 11, 2, 10, 22, 3, 123000, tzinfo=timezone.utc)
    table = pa.table({"event_id": ["9f1b7c1e-3a55-4f0e-9d71-2b7a8c1d0e01"],
                      "event_at": pa.array([at], pa.timestamp("us", tz="UTC")),
                      "anonymous_id": ["anon-1"], "event_type": ["page_view"],
                      "page_url": ["https://shop.example.com/p?utm_source=instagram"], "referrer": [""],
                      "user_agent": ["Mozilla/5.0"], "ip": ["203.0.113.9"],
                      "order_id": pa.array([Decimal("5123456789")], pa.decimal128(12, 0))})
    path = tmp_path / "events.parquet"
    pq.write_table(table, path)
    row = read_landing_file(dataset, path, "web_events/x/events.parquet", "run", KEY).to_pylist()[0]
    assert row["event_at"] == "2026-11-02T10:22:03.123000+00:00"
    assert row["order_id"] == "5123456789"
    contract = load_contracts()["web_events"]
    split = split_batch(pl.from_arrow(read_landing_file(dataset, path, "w", "run", KEY)), contract,
                        row_rules(contract, DS))
    assert split.clean.height == 1, split.quarantined.select("reason").to_dicts()
