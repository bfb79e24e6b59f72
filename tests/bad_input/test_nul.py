"""A NUL character in a value: DuckDB and Parquet store it, PostgreSQL's text cannot (COPY refused the whole table
at load time, and every rerun failed the same way). The `<dataset>.<field>.nul` row rule quarantines the row, naming
the field; the quarantined copy holds the visible escape \\x00 instead, so every warehouse can load it."""
import os
import uuid
from pathlib import Path

import polars as pl
import pytest

from tests.bad_input.helpers import (
    CONTRACTS,
    DS,
    STAGING_MODELS,
    _check_day,
    _edit_csv,
    _edit_ndjson,
    _file,
    _only_row,
    _rel,
    _row_numbers,
    _split_one,
    _stage,
)

pytestmark = pytest.mark.usefixtures("both_ndjson_readers")

NUL = "\x00"
REASON = "{} contains a NUL character (shown as \\x00), which PostgreSQL text cannot store"


def _nul_day(landing: Path) -> None:
    """The golden day with a NUL in one value of four files, CSV and NDJSON (written by json.dumps as \\u0000),
    and a raw NUL byte inside one NDJSON line (not valid JSON: a control character in a string)."""
    _edit_csv(_file(landing, "esp_signups"), 2, "list_name", f"News{NUL}letter")
    _edit_csv(_file(landing, "roster_campaigns"), 3, "campaign_name", f"Winter{NUL}Glow")
    _edit_ndjson(_file(landing, "web_events"), 2, {"user_agent": f"Mozilla/5.0{NUL}"})
    _edit_ndjson(_file(landing, "shopify_orders"), 1, {"discount_codes": [
        {"code": f"jane15{NUL}", "amount": "9.00", "type": "percentage"}]})
    events = _file(landing, "web_events")
    lines = events.read_bytes().split(b"\n")
    lines[4] = lines[4].replace(b'"event_type":"signup"', b'"event_type":"sign\x00up"')
    events.write_bytes(b"\n".join(lines))


NUL_CASES = [  # (dataset, line, field whose value holds the NUL)
    ("esp_signups", 2, "list_name"),
    ("roster_campaigns", 3, "campaign_name"),
    ("web_events", 2, "user_agent"),
    ("shopify_orders", 1, "discount_codes"),
]


@pytest.mark.parametrize(("name", "line", "field"), NUL_CASES, ids=[f"{n}.{f}" for n, _, f in NUL_CASES])
def test_a_nul_in_a_value_quarantines_that_row_naming_the_field(landing, tmp_path, baseline, name, line, field):
    _nul_day(landing)
    splits = _check_day(landing, tmp_path / "lake")
    rule_id = f"{name}.{field}.nul"
    row = _only_row(splits[name].quarantined, line)
    assert (row["rule_id"], row["failed_rules"], row["reason"]) == (rule_id, rule_id, REASON.format(field))
    assert row["_source_file"] == _rel(name)
    assert splits[name].rule_counts[rule_id] == 1
    # The quarantined copy shows where the NUL was, as the visible escape (JSON text keeps its own, \u0000), and
    # holds no NUL anywhere.
    assert ("\\u0000" if field == "discount_codes" else "\\x00") in row[field] and NUL not in row[field]
    assert not any(NUL in str(v) for v in row.values())
    # Only that line moved (web_events also loses line 5, unparseable for its raw NUL byte).
    moved = {line, 5} if name == "web_events" else {line}
    assert _row_numbers(splits[name].clean) == [n for n in _row_numbers(baseline[name].clean) if n not in moved]
    for other, split in splits.items():
        for column, dtype in split.clean.schema.items():
            if dtype == pl.String:
                assert not split.clean[column].str.contains(NUL, literal=True).any(), (other, column)


def test_a_nul_in_an_identifier_is_reported_first_by_its_nul_rule(landing, tmp_path):
    _edit_csv(_file(landing, "roster_campaigns"), 2, "campaign_id", f"CMP-001{NUL}")
    _, split = _split_one(_file(landing, "roster_campaigns"), "roster_campaigns")
    row = _only_row(split.quarantined, 2)
    assert row["rule_id"] == "roster_campaigns.campaign_id.nul"
    assert row["failed_rules"] == "roster_campaigns.campaign_id.nul,roster_campaigns.campaign_id.pattern"
    assert row["reason"] == (REASON.format("campaign_id") + '; campaign_id "CMP-001\\x00" does not match '
                             + CONTRACTS["roster_campaigns"].prop("campaign_id").pattern)
    assert row["campaign_id"] == "CMP-001\\x00"


def test_a_raw_nul_byte_in_an_ndjson_line_is_a_parse_error_kept_without_the_nul(landing, tmp_path):
    _nul_day(landing)
    _, split = _split_one(_file(landing, "web_events"), "web_events")
    row = _only_row(split.quarantined, 5)
    assert row["rule_id"] == "web_events.parse"
    assert row["reason"].startswith("line 5: malformed JSON: Invalid control character")
    assert '"event_type":"sign\\x00up"' in row["_raw_line"] and NUL not in row["_raw_line"]


def test_an_escaped_backslash_before_u0000_is_not_a_nul(landing, tmp_path, baseline):
    # The JSON text {"code": "jane\\u0000"} is a backslash followed by "u0000", which PostgreSQL stores.
    _edit_ndjson(_file(landing, "shopify_orders"), 1, {"discount_codes": [
        {"code": "jane15\\u0000", "amount": "9.00", "type": "percentage"}]})
    _, split = _split_one(_file(landing, "shopify_orders"), "shopify_orders")
    assert split.rule_counts["shopify_orders.discount_codes.nul"] == 0
    assert 1 in _row_numbers(split.clean)


def _pg_url() -> str:
    url = os.environ.get("INFLUENCE_TEST_PG_URL")
    if not url:
        pytest.fail("INFLUENCE_TEST_PG_URL is not set: run the tests through scripts/test.sh (make test)")
    return url


@pytest.mark.postgres
def test_postgres_loads_the_staged_and_quarantined_frames_of_a_day_with_nuls(landing, tmp_path, baseline):
    """As the nightly loads them (staging and quarantine partitions by landing date), into schemas of this test's
    own, so a concurrent run of the suite on the same database is not disturbed."""
    import psycopg
    from psycopg import sql

    from influence_pipeline.sinks.warehouse import connect_warehouse

    _nul_day(landing)
    splits = _check_day(landing, tmp_path / "lake")
    staged = {model.name: _stage(splits, model.name) for model in STAGING_MODELS}
    tag = uuid.uuid4().hex[:8]
    staging, quarantine = f"test_nul_staging_{tag}", f"test_nul_quarantine_{tag}"
    url = _pg_url()
    warehouse = connect_warehouse(url)
    try:
        # The control: the raw value itself is what PostgreSQL refuses.
        raw_value = pl.DataFrame({"list_name": [f"News{NUL}letter"], "landing_date": [DS]})
        with pytest.raises(psycopg.Error, match="0x00"):
            warehouse.replace_partition(quarantine, "control", raw_value.to_arrow(), "landing_date", DS)
        for table, rows in staged.items():
            warehouse.replace_partition(staging, table, rows.to_arrow(), "landing_date", DS)
        for dataset, split in splits.items():
            rows = split.quarantined.with_columns(landing_date=pl.lit(DS))
            warehouse.replace_partition(quarantine, dataset, rows.to_arrow(), "landing_date", DS)
    finally:
        warehouse.close()
    conninfo = psycopg.conninfo.make_conninfo(url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        with psycopg.connect(conninfo) as conn:
            def rows_of(schema: str, table: str, columns: str = "count(*)", where: str = "TRUE") -> list[tuple]:
                return conn.execute(sql.SQL(f"SELECT {columns} FROM {{}}.{{}} WHERE {where}").format(
                    sql.Identifier(schema), sql.Identifier(table))).fetchall()

            assert rows_of(quarantine, "esp_signups", "rule_id, reason, list_name", "_row_number = 2") == [
                ("esp_signups.list_name.nul", REASON.format("list_name"), "News\\x00letter")]
            assert rows_of(quarantine, "roster_campaigns", "rule_id, campaign_name", "_row_number = 3") == [
                ("roster_campaigns.campaign_name.nul", "Winter\\x00Glow")]
            assert rows_of(quarantine, "web_events", "_row_number, rule_id, strpos(_raw_line, '\\x00') > 0",
                           "_row_number IN (2, 5) ORDER BY 1") == [(2, "web_events.user_agent.nul", None),
                                                                  (5, "web_events.parse", True)]
            assert rows_of(quarantine, "shopify_orders", "rule_id", "_row_number = 1") == [
                ("shopify_orders.discount_codes.nul",)]
            # The other rows published: each staging table holds what staging built from the clean rows.
            for table, rows in staged.items():
                assert rows_of(staging, table) == [(rows.height,)], table
            assert staged["stg_signups"].height == baseline["esp_signups"].clean.height - 1
            assert staged["stg_web_events"].height == baseline["web_events"].clean.height - 2
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for schema in (staging, quarantine):
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
