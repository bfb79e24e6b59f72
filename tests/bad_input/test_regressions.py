"""A bad file publishes nothing (the real flow), and regressions for the product bugs these tests found."""
import hashlib
from pathlib import Path

import duckdb
import pytest

from tests.bad_input.helpers import (
    CONTRACTS,
    DS,
    KEY,
    RAW,
    LandingFileError,
    _assert_only_line_moved,
    _assert_quarantined,
    _check_day,
    _edit_csv,
    _edit_first_record,
    _edit_ndjson,
    _file,
    _only_row,
    _rel,
    _row_numbers,
    _split_one,
    _stage,
    ingest_dataset,
    published_rules,
    scan_raw,
)

pytestmark = pytest.mark.usefixtures("both_ndjson_readers")

# ------------------------------------------------------------------------ flow: a bad file publishes nothing


def _lake_digest(lake: Path) -> dict[str, str]:
    return {str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(lake.rglob("*")) if p.is_file()}


def _warehouse_rows(path: Path) -> dict[str, list]:
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.sql("SELECT table_schema, table_name FROM information_schema.tables ORDER BY ALL").fetchall()
        return {f"{s}.{t}": con.sql(f'SELECT * FROM "{s}"."{t}" ORDER BY ALL').fetchall() for s, t in tables}


def test_flow_with_a_file_missing_a_column_raises_and_leaves_published_outputs_unchanged(prefect_harness, data_dir):
    from influence_pipeline.flows.nightly import nightly

    first = nightly(ds=DS)
    assert first.staged["stg_post_snapshots"] == 5
    lake, warehouse = data_dir / "lake", data_dir / "warehouse.duckdb"
    lake_before, rows_before = _lake_digest(lake), _warehouse_rows(warehouse)
    assert any(k.startswith("staging.") for k in rows_before) and any(k.startswith("quarantine.") for k in rows_before)
    assert rows_before["staging.stg_post_snapshots"]
    warehouse_bytes = hashlib.sha256(warehouse.read_bytes()).hexdigest()

    # a redelivery of the last dataset ingested lacks a column: every other file is unchanged (skipped)
    report = data_dir / "landing" / _rel("youtube_video_report")
    lines = report.read_text().splitlines()
    report.write_text("\n".join(",".join(line.split(",")[:-1]) for line in lines) + "\n")  # drop `shares`

    with pytest.raises(LandingFileError, match=r"youtube/2026-11-02/video_report\.csv: header lacks the column\(s\) "
                                               r"shares"):
        nightly(ds=DS)
    assert _lake_digest(lake) == lake_before  # raw, manifest, staging and quarantine partitions byte-identical
    assert _warehouse_rows(warehouse) == rows_before  # staging, quarantine and audit rows unchanged
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == warehouse_bytes


# ==================================================================== bugs found while writing these tests
# Each test in this section first failed on the product; the bugs are fixed and the tests stay as regressions.


@pytest.mark.parametrize(("bad_line", "reason"), [
    ('{"id":"9001","like_count":' + "9" * 5000 + "}",
     "line 2: malformed JSON: Exceeds the limit (4300 digits) for integer string conversion"),
    ('{"id":"9001","caption":' + "[" * 100_000 + "]" * 100_000 + "}",
     "line 2: malformed JSON: maximum recursion depth exceeded"),
    ('{"id":"9001","caption":' + "[" * 1000 + "]" * 1000 + "}", "line 2: nested 1001 levels deep (at most 64"),
    ('{"id":"9001","junk":' + '{"a":' * 65 + "1" + "}" * 65 + "}", "line 2: nested 66 levels deep (at most 64"),
    ('{"id":"9001","caption":"\\ud800 glow"}', "line 2: malformed JSON: a \\u escape encodes half a UTF-16 pair"),
    ('{"id":"9001","caption":"\\udc80"}', "line 2: malformed JSON: a \\u escape encodes half a UTF-16 pair"),
], ids=["5000-digit-int", "nested-100000-deep", "nested-1000-deep", "objects-66-deep-in-an-unread-key",
        "escaped-high-surrogate", "escaped-low-surrogate"])
def test_pathological_json_line_is_quarantined_not_raised(landing, tmp_path, bad_line, reason):
    """Was: ValueError / RecursionError / UnicodeEncodeError out of read_landing_file, sinking the whole file (a
    line 1 000 deep decoded, then crashed re-encoding its value: an uncaught RecursionError, no file or line named)."""
    path = _file(landing, "instagram_media")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], bad_line, lines[2]]) + "\n")
    raw, split = _split_one(path, "instagram_media", {})
    row = _only_row(split.quarantined, 2)
    assert row["rule_id"] == "instagram_media.parse"
    assert row["reason"].startswith(reason)
    assert _row_numbers(split.clean) == [1, 3]
    split.quarantined.write_parquet(tmp_path / "q.parquet")  # storable: no lone surrogate reached the frame


def test_escaped_surrogate_pair_is_a_valid_character(landing, tmp_path):
    path = _file(landing, "instagram_media")
    _edit_ndjson(path, 1, {"caption": "glow \U0001f642"})
    lines = path.read_text().splitlines()
    lines[0] = lines[0].replace("\U0001f642", "\\ud83d\\ude42")  # as an ASCII-only exporter writes it
    path.write_text("\n".join(lines) + "\n")
    _, split = _split_one(path, "instagram_media", {})
    assert _only_row(split.clean, 1)["caption"] == "glow \U0001f642"


def test_oversized_csv_cell_is_read(landing, tmp_path):
    """Was: _csv.Error 'field larger than field limit (131072)' — neither quarantined nor a LandingFileError."""
    path = _file(landing, "roster_campaigns")
    lines = path.read_text().splitlines()
    name = "Winter Glow " * 12_000  # ~140 kB, properly quoted
    lines[2] = lines[2].replace("Winter Glow", f'"{name}"')
    path.write_text("\n".join(lines) + "\n")
    raw, split = _split_one(path, "roster_campaigns")
    assert raw.height == 3
    assert _only_row(split.clean, 3)["campaign_name"] == name


@pytest.mark.parametrize(("name", "content", "clear"), [
    ("web_events", b'{"event_id":"d8e196fe-ce12-5e87-a0d2-a2f3e4c4b23d","ip":"2001:db8:85a3::8a2e:370:7334","event_at'
                   b'":"2026-11-02T1\n', "2001:db8:85a3::8a2e:370:7334"),
    ("web_events", b'{"event_id":"d8e196fe-ce12-5e87-a0d2-a2f3e4c4b23d","user_agent":"Mozilla/5.0 (2001:db8::1)",'
                   b'"ip":"::1","email":"Bob@Example.com\n', "2001:db8::1"),
    ("esp_signups", b"signup_id,created_at,email,first_name,list_name,anonymous_id,landing_url,consent\n"
                    b"SU-3,2026-11-02T14:00:00Z,evelyn@example.com,Evelyn,Newsletter,anon-9\n", "Evelyn"),
    ("shopify_orders", b'{"id":5001,"customer":{"id":7001,"email":"alice@example.com","first_name":"Alicia",'
                       b'"last_name":"Ngozi"},"total_price":"59\n', "Ngozi"),
], ids=["ipv6", "ipv6-elsewhere", "csv-first-name", "order-last-name"])
def test_unparseable_line_keeps_no_pii_in_clear(landing, tmp_path, name, content, clear):
    """Was: the line masking only masked e-mails and IPv4 addresses; IPv6 addresses and names reached the raw lake."""
    _file(landing, name).write_bytes(content)
    ingest_dataset(RAW[name], landing, tmp_path / "lake", DS, "run-1", KEY)
    raw = scan_raw(tmp_path / "lake", RAW[name], DS).collect()
    assert raw["_parse_error"].null_count() == 0
    stored = b"".join(p.read_bytes() for p in (tmp_path / "lake").rglob("*.parquet"))
    assert clear.encode() not in stored
    assert all(clear not in line for line in raw["_raw_line"].to_list())


@pytest.mark.parametrize(("name", "column", "value", "reason", "model"), [
    ("shopify_orders", "created_at", "2026-02-30T05:09:30-05:00",
     'created_at "2026-02-30T05:09:30-05:00" is not a timestamp', "stg_orders"),
    ("shopify_orders", "created_at", "2026-11-02T25:09:30-05:00",
     'created_at "2026-11-02T25:09:30-05:00" is not a timestamp', "stg_orders"),
    ("shopify_orders", "created_at", "2026-11-02T05:09:30+99:99",
     'created_at "2026-11-02T05:09:30+99:99" is not a timestamp', "stg_orders"),
    ("youtube_channel_report", "date", "2026-02-30", 'date "2026-02-30" is not a date', "stg_account_daily"),
], ids=["feb-30", "hour-25", "offset-99", "csv-date-feb-30"])
def test_impossible_calendar_value_is_quarantined_not_failing_the_run(landing, tmp_path, baseline, name, column, value,
                                                                      reason, model):
    """Was: the type rule was a regex, so '2026-02-30' passed, staged as null, and the error-severity published rule
    stg_orders.created_at.not_null (stg_account_daily.snapshot_date.not_null) failed the whole night."""
    from influence_pipeline.schemas.gx import GxValidator

    line = _edit_first_record(landing, name, column, value)
    splits = _check_day(landing, tmp_path / "lake")
    _assert_only_line_moved(name, splits, baseline, line)
    _assert_quarantined(splits[name], name, line, f"{name}.{column}.type", reason)
    staged = _stage(splits, model)
    results = GxValidator(tmp_path / "validation").validate(model, "published", staged,
                                                            published_rules(CONTRACTS[model]), "calendar")
    assert [r.rule_id for r in results if r.severity == "error" and not r.success] == []  # what the flow gates on


def test_unknown_platform_is_quarantined_not_failing_the_run(landing, tmp_path, baseline):
    """Was: no rule on the platform value; 'Facebook' staged as a null platform and account_id, failing the
    error-severity rules stg_social_accounts.account_id/platform.not_null and with them the whole night."""
    _edit_csv(_file(landing, "roster_social_accounts"), 2, "platform", "Facebook")
    splits = _check_day(landing, tmp_path / "lake")
    _assert_only_line_moved("roster_social_accounts", splits, baseline, 2)
    row = _only_row(splits["roster_social_accounts"].quarantined, 2)
    assert row["rule_id"] == "roster_social_accounts.platform.pattern"
    assert row["reason"].startswith('platform "Facebook" does not match ')
    staged = _stage(splits, "stg_social_accounts")
    assert staged["account_id"].null_count() == 0 and staged["platform"].null_count() == 0


@pytest.mark.parametrize(("name", "column", "value", "limit"), [
    ("tiktok_videos", "create_time", 4_070_908_800, "2026-11-03 23:59 UTC"),
    ("youtube_channel_report", "date", "2099-11-02", "2026-11-02"),
    ("youtube_video_report", "date", "2026-11-03", "2026-11-02"),
], ids=["tiktok-create_time", "youtube-channel-date", "youtube-video-date"])
def test_future_time_in_other_columns_is_quarantined(landing, tmp_path, baseline, name, column, value, limit):
    """Was: only date/timestamp properties had a future rule; TikTok's Unix-seconds create_time and the YouTube
    report dates (which `influence sample` dirties with 2099) were staged as clean."""
    line = _edit_first_record(landing, name, column, value)
    splits = _check_day(landing, tmp_path / "lake")
    _assert_only_line_moved(name, splits, baseline, line)
    _assert_quarantined(splits[name], name, line, f"{name}.{column}.future",
                        f'{column} "{value}" is in the future (after {limit})')


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"], ids=["U+2028", "U+2029", "U+0085"])
def test_valid_record_with_a_unicode_line_separator_in_a_value_stays_one_clean_row(landing, tmp_path, separator):
    """Was: str.splitlines() also broke lines at U+2028, U+2029 and U+0085, which JSON allows raw inside strings:
    the record became two 'malformed JSON' rows and every later _row_number was off by one."""
    path = _file(landing, "instagram_media")
    _edit_ndjson(path, 1, {"caption": f"Winter glow{separator}with @lumiskin #ad"})
    raw, split = _split_one(path, "instagram_media", {})
    assert raw.height == 5  # one row per line of the file
    assert _only_row(raw, 1)["caption"] == f"Winter glow{separator}with @lumiskin #ad"
    assert 1 in _row_numbers(split.clean)
    assert _row_numbers(raw) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(("name", "content", "clear"), [
    ("shopify_orders", b'{"id":5001,"customer":{"id":7001,"email":"alice@example.com","first_name":"Alicia",'
                       b'"last_name":"Ngozi\n', "Ngozi"),
    ("shopify_orders", b'{"id":5001,"name":"#1001","email":"alice.ngozi@examp\n', "alice.ngozi"),
    ("web_events", b'{"event_id":"d8e196fe-ce12-5e87-a0d2-a2f3e4c4b23d","ip":"203.0.113\n', "203.0.113"),
], ids=["last-name", "email", "ipv4"])
def test_line_truncated_inside_a_pii_value_keeps_no_pii_in_clear(landing, tmp_path, name, content, clear):
    """Was: a PII key's value was masked only when its JSON string was terminated, e-mails and IPs only when complete,
    so a line truncated inside one kept its start in clear."""
    _file(landing, name).write_bytes(content)
    _, split = _split_one(_file(landing, name), name)
    row = _only_row(split.quarantined, 1)
    assert row["rule_id"] == f"{name}.parse"
    assert clear not in row["_raw_line"]


@pytest.mark.parametrize(("cell", "raw_rows"), [
    ('"Winter Glow', 2),  # stray quote: lines 3-4 become one record with 2 fields
    ('"Winter\nGlow"', 3),  # a legitimate multi-line cell: still one record, starting on line 3
], ids=["stray-quote", "quoted-newline"])
def test_csv_record_spanning_lines_is_numbered_by_its_first_line(landing, tmp_path, cell, raw_rows):
    """Was: _row_number was csv.reader.line_num, the LAST line of a record: a stray quote on line 3 was reported at
    the last line of the file."""
    path = _file(landing, "roster_campaigns")
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("Winter Glow", cell)
    path.write_text("\n".join(lines) + "\n")
    raw, split = _split_one(path, "roster_campaigns")
    assert raw.height == raw_rows
    assert 3 in _row_numbers(raw)
    if cell.count('"') == 1:
        row = _only_row(split.quarantined, 3)
        assert row["reason"].startswith("line 3: ")
    else:
        assert _only_row(split.clean, 3)["campaign_name"] == "Winter\nGlow"
        assert _row_numbers(raw) == [2, 3, 5]


def test_masking_a_truncated_line_keeps_its_non_pii_numbers(landing, tmp_path):
    orders = _file(landing, "shopify_orders")
    order = orders.read_text().splitlines()[0]
    orders.write_text(order[: order.index('"refunds"')] + "\n")
    events = _file(landing, "web_events")
    event = events.read_text().splitlines()[1]
    events.write_text(event[:-3] + "\n")
    order_line = _only_row(_split_one(orders, "shopify_orders")[1].quarantined, 1)["_raw_line"]
    event_line = _only_row(_split_one(events, "web_events")[1].quarantined, 1)["_raw_line"]
    assert "Alice" not in order_line and "203.0.113.7" not in order_line and "203.0.113.7" not in event_line
    assert '"total_price":"59.90"' in order_line and '"amount":"9.00"' in order_line
    assert '"event_at":"2026-11-02T10:03:10.500Z"' in event_line and "Mozilla/5.0" in event_line


def test_long_unparseable_line_is_masked_in_linear_time(landing, tmp_path):
    import time

    path = _file(landing, "web_events")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], '{"user_agent":"' + "Mozilla" * 4_300, lines[1]]) + "\n")  # 30 kB, truncated
    started = time.perf_counter()
    raw, split = _split_one(path, "web_events")
    elapsed = time.perf_counter() - started
    assert _only_row(split.quarantined, 2)["rule_id"] == "web_events.parse"
    assert elapsed < 1.0, f"reading a file with one 30 kB unparseable line took {elapsed:.1f} s"
