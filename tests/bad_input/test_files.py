"""Bad files and lines: malformed lines, a missing column, wrong types, bytes that are not UTF-8, empty files, gzip.
Each yields quarantined rows with a reason, or a LandingFileError naming the file — never a traceback."""
import gzip

import polars as pl
import pytest

from tests.bad_input.helpers import (
    CONTRACTS,
    CSV_CASE,
    DROP,
    DS,
    KEY,
    NDJSON_CASE,
    RAW,
    STAGING_MODELS,
    LandingFileError,
    _assert_only_line_moved,
    _assert_quarantined,
    _by_rule,
    _check_day,
    _edit_csv,
    _edit_ndjson,
    _file,
    _only_row,
    _rel,
    _row_numbers,
    _split_both_ways,
    _split_one,
    _stage,
    ingest_dataset,
    read_entry,
    read_landing_file,
    row_rules,
    scan_raw,
)

pytestmark = pytest.mark.usefixtures("both_ndjson_readers")

# ------------------------------------------------------------------------------------------------ malformed lines


@pytest.mark.parametrize(("bad_line", "reason"), [
    ('{"event_id":"6f1c1b2e-0000-5000-8000-000000000001","event_at":"2026-11-02T1',
     "line 2: malformed JSON: Unterminated string starting at at column 63"),
    ('{"event_id":"6f1c1b2e-0000-5000-8000-000000000001",}', "line 2: malformed JSON: Expecting property name "
                                                             "enclosed in double quotes at column 52"),
    ("{'event_id': 'x'}", "line 2: malformed JSON: Expecting property name enclosed in double quotes at column 2"),
    ('["6f1c1b2e-0000-5000-8000-000000000001", "page_view"]', "line 2: expected a JSON object, found list"),
    ("null", "line 2: expected a JSON object, found NoneType"),
    ("<html>502 Bad Gateway</html>", "line 2: malformed JSON: Expecting value at column 1"),
], ids=["truncated", "trailing-comma", "single-quotes", "array", "null", "html"])
def test_malformed_ndjson_line_is_quarantined_with_line_and_column(landing, tmp_path, bad_line, reason):
    path = _file(landing, "web_events")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], bad_line, lines[1]]) + "\n")
    raw, split = _split_one(path, "web_events")
    assert raw.height == 3
    row = _assert_quarantined(split, "web_events", 2, "web_events.parse", reason)
    assert row["_raw_line"] == bad_line  # kept for the quarantine (nothing PII-looking to mask here)
    assert all(row[c] is None for c in RAW["web_events"].columns)  # an unparsed line has no field values
    assert _row_numbers(split.clean) == [1, 3]


def test_malformed_line_keeps_its_text_with_pii_masked(landing, tmp_path):
    path = _file(landing, "web_events")
    signup = path.read_text().splitlines()[4]  # carries an e-mail and an IPv4 address
    truncated = signup[: signup.rindex("}")]  # the whole record but its closing brace
    path.write_text(truncated + "\n")
    _, split = _split_one(path, "web_events")
    row = _only_row(split.quarantined, 1)
    assert row["rule_id"] == "web_events.parse"
    assert row["reason"] == f"line 1: malformed JSON: Expecting ',' delimiter at column {len(truncated) + 1}"
    assert row["_raw_line"].startswith('{"event_id":"7a25d370-b060-503e-b283-f6a4a019a021"')
    for clear in ("198.51.100.9", "Bob@Example.com", "bob@example.com"):  # PII masked ...
        assert clear not in row["_raw_line"]
    assert '"ip":"<' in row["_raw_line"] and '"email":"<' in row["_raw_line"]
    assert '"anonymous_id":"anon-2"' in row["_raw_line"]  # ... the rest kept


def test_csv_row_with_the_wrong_number_of_fields_is_quarantined(landing, tmp_path, baseline):
    path = _file(landing, "roster_campaigns")
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("Winter Glow", "Winter, Glow")  # an unquoted comma: one field too many
    path.write_text("\n".join(lines) + "\n")
    splits = _check_day(landing, tmp_path / "lake")
    _assert_only_line_moved("roster_campaigns", splits, baseline, 3)
    row = _assert_quarantined(splits["roster_campaigns"], "roster_campaigns", 3, "roster_campaigns.parse",
                              "line 3: expected 10 fields, found 11")
    assert row["_raw_line"] == lines[2]


# ------------------------------------------------------------------------------------------ CSV missing a column


def test_csv_missing_a_column_raises_naming_file_and_column(landing, tmp_path):
    path = _file(landing, "roster_campaigns")
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    drop = header.index("fee")
    path.write_text("\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != drop) for line in lines) + "\n")
    lake = tmp_path / "lake"
    with pytest.raises(LandingFileError) as failure:
        ingest_dataset(RAW["roster_campaigns"], landing, lake, DS, "run-1", KEY)
    message = str(failure.value)
    assert message.startswith(f"{_rel('roster_campaigns')}: header lacks the column(s) fee ")
    assert "(found: campaign_id, campaign_name, brand, influencer_id, start_date, end_date, currency," in message
    # nothing half-loaded: no raw partition, no manifest entry
    assert not (lake / "raw" / "roster_campaigns").exists()
    assert read_entry(lake, "roster_campaigns", DS) is None


def test_csv_header_in_another_order_with_extra_columns_is_fine(landing, tmp_path, baseline):
    path = _file(landing, "youtube_channel_report")
    frame = pl.read_csv(path, infer_schema=False)
    reordered = frame.select(reversed(frame.columns)).with_columns(pl.lit("x").alias("new_column"))
    reordered.write_csv(path)
    splits = _check_day(landing, tmp_path / "lake")
    assert splits["youtube_channel_report"].clean.drop("_run_id").equals(
        baseline["youtube_channel_report"].clean.drop("_run_id"))


# --------------------------------------------------------------------------------------------------- wrong types


@pytest.mark.parametrize(NDJSON_CASE, _by_rule(NDJSON_CASE, [
    ("instagram_media", 1, {"like_count": "12x"}, "instagram_media.like_count.type",
     'like_count "12x" is not an integer'),
    ("shopify_orders", 1, {"total_price": "abc"}, "shopify_orders.total_price.type",
     'total_price "abc" is not a number'),
    ("shopify_orders", 1, {"subtotal_price": "68,90"}, "shopify_orders.subtotal_price.type",
     'subtotal_price "68,90" is not a number'),
    ("instagram_users", 2, {"followers_count": True}, "instagram_users.followers_count.type",
     'followers_count "true" is not an integer'),
    ("tiktok_videos", 1, {"likes": {"count": 300}}, "tiktok_videos.likes.type",
     'likes "{"count":300}" is not an integer'),
    ("tiktok_videos", 1, {"reach": [5000]}, "tiktok_videos.reach.type", 'reach "[5000]" is not an integer'),
    ("tiktok_videos", 1, {"video_duration": 31.5}, "tiktok_videos.video_duration.type",
     'video_duration "31.5" is not an integer'),
    ("web_events", 2, {"event_at": 1793534400}, "web_events.event_at.type",
     'event_at "1793534400" is not a timestamp'),
    ("instagram_media", 1, {"fetched_at": "02/11/2026 02:00"}, "instagram_media.fetched_at.type",
     'fetched_at "02/11/2026 02:00" is not a timestamp'),
    ("shopify_orders", 1, {"test": "maybe"}, "shopify_orders.test.type", 'test "maybe" is not a boolean'),
]))
def test_wrong_type_in_ndjson_is_quarantined_naming_field_and_value(landing, tmp_path, baseline, name, line, change,
                                                                    rule_id, reason):
    _edit_ndjson(_file(landing, name), line, change)
    splits = _check_day(landing, tmp_path / "lake")
    _assert_only_line_moved(name, splits, baseline, line)
    _assert_quarantined(splits[name], name, line, rule_id, reason)


@pytest.mark.parametrize(CSV_CASE, _by_rule(CSV_CASE, [
    ("roster_campaigns", 2, "fee", "1500 EUR", "roster_campaigns.fee.type", 'fee "1500 EUR" is not a number'),
    ("roster_campaigns", 2, "start_date", "20/10/2026", "roster_campaigns.start_date.type",
     'start_date "20/10/2026" is not a date'),
    ("youtube_channel_report", 2, "subscriber_count", "1.2M", "youtube_channel_report.subscriber_count.type",
     'subscriber_count "1.2M" is not an integer'),
    ("youtube_video_report", 2, "is_short", "nope", "youtube_video_report.is_short.type",
     'is_short "nope" is not a boolean'),
    # (a bad roster follower count no longer quarantines its row: informational, see test_roster_typed_values.py)
]))
def test_wrong_type_in_csv_is_quarantined_naming_field_and_value(landing, tmp_path, baseline, name, line, column,
                                                                 value, rule_id, reason):
    _edit_csv(_file(landing, name), line, column, value)
    splits = _check_day(landing, tmp_path / "lake")
    _assert_only_line_moved(name, splits, baseline, line)
    _assert_quarantined(splits[name], name, line, rule_id, reason)


def test_long_bad_value_is_shown_shortened_in_the_reason(landing, tmp_path):
    _edit_ndjson(_file(landing, "instagram_media"), 1, {"like_count": "9" * 50 + "x" * 100})
    _, split = _split_one(_file(landing, "instagram_media"), "instagram_media")
    row = _only_row(split.quarantined, 1)
    assert row["rule_id"] == "instagram_media.like_count.type"
    assert row["reason"] == f'like_count "{"9" * 50 + "x" * 30}" is not an integer'


@pytest.mark.parametrize(NDJSON_CASE, _by_rule(NDJSON_CASE, [
    ("shopify_orders", 1, {"created_at": DROP}, "shopify_orders.created_at.required", "created_at is missing"),
    ("shopify_orders", 1, {"currency": "  "}, "shopify_orders.currency.required", "currency is missing"),
    ("instagram_media", 1, {"owner": {}}, "instagram_media.owner_id.required", "owner_id is missing"),
    ("web_events", 2, {"anonymous_id": None}, "web_events.anonymous_id.required", "anonymous_id is missing"),
]))
def test_missing_required_field_is_quarantined_naming_the_field(landing, tmp_path, baseline, name, line, change,
                                                                rule_id, reason):
    _edit_ndjson(_file(landing, name), line, change)
    splits = _check_day(landing, tmp_path / "lake")
    _assert_only_line_moved(name, splits, baseline, line)
    _assert_quarantined(splits[name], name, line, rule_id, reason)


def test_empty_csv_cell_of_a_required_column_is_quarantined(landing, tmp_path, baseline):
    _edit_csv(_file(landing, "roster_influencers"), 3, "influencer_id", "")
    splits = _check_day(landing, tmp_path / "lake")
    _assert_only_line_moved("roster_influencers", splits, baseline, 3)
    _assert_quarantined(splits["roster_influencers"], "roster_influencers", 3,
                        "roster_influencers.influencer_id.required", "influencer_id is missing")


def test_a_row_breaking_several_rules_lists_them_all(landing, tmp_path):
    _edit_ndjson(_file(landing, "shopify_orders"), 1, {"total_price": "-1x", "currency": "dollars", "id": "A-1"})
    _, split = _split_one(_file(landing, "shopify_orders"), "shopify_orders")
    row = _only_row(split.quarantined, 1)
    assert row["rule_id"] == "shopify_orders.id.pattern"
    assert row["failed_rules"] == ("shopify_orders.id.pattern,shopify_orders.total_price.type,"
                                   "shopify_orders.currency.pattern")
    assert row["reason"] == ('id "A-1" does not match ^[0-9]+$; total_price "-1x" is not a number; '
                             'currency "dollars" does not match ^[A-Z]{3}$')


# ------------------------------------------------------------------------------------------ latin-1 inside UTF-8


def test_latin1_bytes_in_ndjson_quarantine_that_line_only(landing, tmp_path):
    path = _file(landing, "web_events")
    lines = path.read_bytes().splitlines()
    bad = lines[1].replace(b'"user_agent":"Mozilla/5.0"', b'"user_agent":"Mozilla/5.0 (Caf\xe9 Wi-Fi)"')
    assert bad != lines[1]
    path.write_bytes(b"\n".join([lines[0], bad, lines[4]]) + b"\n")
    raw, split = _split_one(path, "web_events")
    column = bad.index(b"\xe9") + 1
    row = _assert_quarantined(split, "web_events", 2, "web_events.parse",
                              f"line 2: not valid UTF-8 (byte at column {column})")
    assert "Caf\ufffd Wi-Fi" in row["_raw_line"]  # kept, shown with a replacement character
    assert "\udce9" not in row["_raw_line"]
    assert _row_numbers(split.clean) == [1, 3]
    assert split.clean["user_agent"].to_list() == ["Mozilla/5.0", "Mozilla/5.0"]
    # the quarantine can be written (Parquet needs valid UTF-8)
    split.quarantined.write_parquet(tmp_path / "q.parquet")


def test_latin1_bytes_in_csv_quarantine_that_row_naming_the_field(landing, tmp_path):
    path = _file(landing, "roster_campaigns")
    lines = path.read_bytes().splitlines()
    lines[3] = lines[3].replace(b"Peak Gear", b"P\xeak Gear")
    path.write_bytes(b"\n".join(lines) + b"\n")
    raw, split = _split_one(path, "roster_campaigns")
    _assert_quarantined(split, "roster_campaigns", 4, "roster_campaigns.parse",
                        "line 4: field brand is not valid UTF-8")
    assert _row_numbers(split.clean) == [2, 3]
    split.quarantined.write_parquet(tmp_path / "q.parquet")


# ---------------------------------------------------------------------------------------------------- empty files


@pytest.mark.parametrize(("name", "content"), [
    ("web_events", b""),
    ("shopify_orders", b"\n\n  \n"),
    ("instagram_media", b"\xef\xbb\xbf"),
    ("esp_signups", b""),
    ("esp_signups", b"signup_id,created_at,email,first_name,list_name,anonymous_id,landing_url,consent\n"),
    ("youtube_video_report", b"\xef\xbb\xbfdate,channel_id,video_id,published_at,title,is_short,views,likes,comments,"
                             b"shares\r\n"),
], ids=["ndjson-0-bytes", "ndjson-blank-lines", "ndjson-bom-only", "csv-0-bytes", "csv-header-only",
        "csv-bom-header-crlf"])
def test_empty_file_gives_zero_rows_and_builds_empty_staging(landing, tmp_path, name, content):
    _file(landing, name).write_bytes(content)
    lake = tmp_path / "lake"
    result = ingest_dataset(RAW[name], landing, lake, DS, "run-1", KEY)
    assert (result.status, result.rows) == ("loaded", 0)
    raw = scan_raw(lake, RAW[name], DS).collect()
    split = _split_both_ways(raw, scan_raw(lake, RAW[name], DS), CONTRACTS[name], row_rules(CONTRACTS[name], DS, {}))
    assert (raw.height, split.clean.height, split.quarantined.height) == (0, 0, 0)
    for model in STAGING_MODELS:
        if name in model.inputs:
            assert _stage({name: split}, model.name).height == 0


# ----------------------------------------------------------------------------------------------------- gzip files


def test_gzipped_landing_file_is_read_like_the_plain_one(landing, tmp_path):
    plain = _file(landing, "web_events")
    expected = pl.from_arrow(read_landing_file(RAW["web_events"], plain, _rel("web_events"), "r", KEY))
    gz = plain.with_name(plain.name + ".gz")
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    result = ingest_dataset(RAW["web_events"], landing, tmp_path / "lake", DS, "r", KEY)
    assert (result.status, result.rows, result.file) == ("loaded", 7, _rel("web_events") + ".gz")
    got = scan_raw(tmp_path / "lake", RAW["web_events"], DS).collect()
    assert got.drop("_source_file").equals(expected.drop("_source_file"))
    assert set(got["_source_file"]) == {_rel("web_events") + ".gz"}


@pytest.mark.parametrize("keep", [0.5, 0.9, 10 / 1000], ids=["half", "most", "header-only"])
def test_truncated_gzip_raises_naming_the_file(landing, tmp_path, keep):
    plain = _file(landing, "web_events")
    data = gzip.compress(plain.read_bytes() * 20)
    gz = plain.with_name(plain.name + ".gz")
    gz.write_bytes(data[: max(1, int(len(data) * keep))])
    plain.unlink()
    lake = tmp_path / "lake"
    with pytest.raises(LandingFileError, match=r"^web_events/2026-11-02/events\.ndjson\.gz: truncated or corrupt gzip"):
        ingest_dataset(RAW["web_events"], landing, lake, DS, "run-1", KEY)
    assert not (lake / "raw" / "web_events").exists()
    assert read_entry(lake, "web_events", DS) is None


def test_file_that_is_not_gzip_at_all_raises_naming_the_file(landing, tmp_path):
    plain = _file(landing, "web_events")
    plain.with_name(plain.name + ".gz").write_bytes(plain.read_bytes())  # named .gz, never compressed
    plain.unlink()
    with pytest.raises(LandingFileError, match=r"^web_events/2026-11-02/events\.ndjson\.gz: truncated or corrupt"):
        ingest_dataset(RAW["web_events"], landing, tmp_path / "lake", DS, "run-1", KEY)


