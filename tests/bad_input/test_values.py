"""Bad values: duplicate ids, negative counts, future timestamps, unknown affiliate codes, messy UTMs."""
import json
import uuid

import polars as pl
import pytest

from tests.bad_input.helpers import (
    CONTRACTS,
    CSV_CASE,
    NDJSON_CASE,
    _assert_only_line_moved,
    _assert_quarantined,
    _by_rule,
    _check_day,
    _edit_csv,
    _edit_ndjson,
    _file,
    _row_numbers,
    _split_one,
    _stage,
    published_rules,
)

pytestmark = pytest.mark.usefixtures("both_ndjson_readers")

# -------------------------------------------------------------------------------------------------- duplicate ids


def test_duplicate_event_is_quarantined_naming_the_surviving_line(landing, tmp_path):
    path = _file(landing, "web_events")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1], lines[0]]) + "\n")  # line 1 re-sent as line 3
    _, split = _split_one(path, "web_events")
    _assert_quarantined(split, "web_events", 1, "web_events.duplicate_key", "superseded by line 3 (same event_id)")
    assert _row_numbers(split.clean) == [2, 3]
    assert split.rule_counts["web_events.duplicate_key"] == 1


def test_duplicate_key_keeps_the_latest_snapshot_not_the_latest_line(landing, tmp_path):
    """instagram_users is deduplicated by fetched_at: the later pull wins even when it comes first in the file."""
    path = _file(landing, "instagram_users")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[2], lines[1], lines[0]]) + "\n")  # 05:00 pull first, 02:00 pull last
    _, split = _split_one(path, "instagram_users")
    _assert_quarantined(split, "instagram_users", 3, "instagram_users.duplicate_key", "superseded by line 1 (same id)")
    assert split.clean.filter(pl.col("id") == "17841400000000001")["followers_count"].to_list() == ["12530"]


def test_duplicate_key_ignores_surrounding_spaces(landing, tmp_path):
    path = _file(landing, "shopify_orders")
    _edit_ndjson(path, 2, {"id": " 4990 "})
    _, split = _split_one(path, "shopify_orders")
    _assert_quarantined(split, "shopify_orders", 3, "shopify_orders.duplicate_key", "superseded by line 2 (same id)")


def test_duplicate_compound_key_names_every_key_column(landing, tmp_path):
    path = _file(landing, "youtube_channel_report")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1], lines[1].replace(",350,", ",351,")]) + "\n")
    _, split = _split_one(path, "youtube_channel_report")
    _assert_quarantined(split, "youtube_channel_report", 2, "youtube_channel_report.duplicate_key",
                        "superseded by line 3 (same channel_id, date)")
    assert split.clean["subscribers_gained"].to_list() == ["351"]


def test_invalid_duplicate_does_not_supersede_a_valid_row(landing, tmp_path):
    """A later line with the same key but a bad value is quarantined for its value; the valid line stays."""
    path = _file(landing, "web_events")
    lines = path.read_text().splitlines()
    later = json.loads(lines[0]) | {"event_type": "hover"}
    path.write_text("\n".join([lines[0], json.dumps(later)]) + "\n")
    _, split = _split_one(path, "web_events")
    assert _row_numbers(split.clean) == [1]
    _assert_quarantined(split, "web_events", 2, "web_events.event_type.enum",
                        'event_type "hover" is not an allowed value')


# -------------------------------------------------------------------------------------------------- negative counts


@pytest.mark.parametrize(NDJSON_CASE, _by_rule(NDJSON_CASE, [
    ("instagram_media", 1, {"comments_count": -1}, "instagram_media.comments_count.range",
     'comments_count "-1" is out of range (must be at least 0)'),
    ("instagram_media_insights", 1, {"reach": "-9100"}, "instagram_media_insights.reach.range",
     'reach "-9100" is out of range (must be at least 0)'),
    ("tiktok_user_info", 1, {"follower_count": -1240}, "tiktok_user_info.follower_count.range",
     'follower_count "-1240" is out of range (must be at least 0)'),
    ("shopify_orders", 1, {"total_price": "-59.90"}, "shopify_orders.total_price.range",
     'total_price "-59.90" is out of range (must be at least 0)'),
]))
def test_negative_count_in_ndjson_is_quarantined(landing, tmp_path, baseline, name, line, change, rule_id, reason):
    _edit_ndjson(_file(landing, name), line, change)
    splits = _check_day(landing, tmp_path / "lake")
    _assert_only_line_moved(name, splits, baseline, line)
    _assert_quarantined(splits[name], name, line, rule_id, reason)


@pytest.mark.parametrize("value", ["NaN", "nan", "Infinity", "-Infinity", "1e309", "-1e309", "1e16"])
def test_money_that_is_not_a_finite_amount_is_quarantined_naming_the_field(landing, tmp_path, baseline, value):
    """Was: NaN, 1e309 or Infinity passed the row rules, staging read null, and a mart's not-null rule stopped the
    whole night naming the mart, not the row."""
    _edit_ndjson(_file(landing, "shopify_orders"), 1, {"total_price": value})
    splits = _check_day(landing, tmp_path / "lake")
    _assert_only_line_moved("shopify_orders", splits, baseline, 1)
    _assert_quarantined(splits["shopify_orders"], "shopify_orders", 1, "shopify_orders.total_price.type",
                        f'total_price "{value}" is not a number')


def test_a_bare_infinite_number_in_json_is_quarantined_like_its_text(landing, tmp_path, baseline):
    path = _file(landing, "shopify_orders")
    lines = path.read_text().splitlines()
    lines[0] = lines[0].replace('"total_price":"59.90"', '"total_price":1e309')
    path.write_text("\n".join(lines) + "\n")
    splits = _check_day(landing, tmp_path / "lake")
    _assert_quarantined(splits["shopify_orders"], "shopify_orders", 1, "shopify_orders.total_price.type",
                        'total_price "Infinity" is not a number')


@pytest.mark.parametrize(CSV_CASE, _by_rule(CSV_CASE, [
    ("youtube_video_report", 2, "views", "-42000", "youtube_video_report.views.range",
     'views "-42000" is out of range (must be at least 0)'),
    ("youtube_channel_report", 2, "subscribers_lost", "-40", "youtube_channel_report.subscribers_lost.range",
     'subscribers_lost "-40" is out of range (must be at least 0)'),
    ("roster_campaigns", 2, "commission_rate", "1.5", "roster_campaigns.commission_rate.range",
     'commission_rate "1.5" is out of range (must be between 0 and 1)'),
    ("roster_discount_codes", 2, "discount_pct", "-15", "roster_discount_codes.discount_pct.range",
     'discount_pct "-15" is out of range (must be between 0 and 100)'),
]))
def test_negative_or_out_of_range_count_in_csv_is_quarantined(landing, tmp_path, baseline, name, line, column, value,
                                                              rule_id, reason):
    _edit_csv(_file(landing, name), line, column, value)
    splits = _check_day(landing, tmp_path / "lake")
    _assert_only_line_moved(name, splits, baseline, line)
    _assert_quarantined(splits[name], name, line, rule_id, reason)


# ------------------------------------------------------------------------------------------ timestamps in the future


@pytest.mark.parametrize(("name", "line", "field", "value", "limit"), [
    ("web_events", 2, "event_at", "2099-01-01T00:00:00Z", "2026-11-03 23:59 UTC"),
    ("web_events", 2, "event_at", "2026-11-04T00:00:00.000Z", "2026-11-03 23:59 UTC"),
    ("web_events", 2, "event_at", "2026-11-03T19:00:00-05:00", "2026-11-03 23:59 UTC"),  # = 2026-11-04 00:00 UTC
    ("instagram_media", 1, "timestamp", "2026-11-05T10:00:00+0000", "2026-11-03 23:59 UTC"),
    ("shopify_orders", 1, "updated_at", "2027-11-02T05:09:30-05:00", "2026-11-03 23:59 UTC"),
    ("tiktok_user_info", 1, "fetched_at", "2099-11-02T03:10:00Z", "2026-11-03 23:59 UTC"),
], ids=["2099", "just-after-limit", "offset-pushes-past-limit", "ig-timestamp", "order-updated", "tiktok-fetched"])
def test_timestamp_in_the_future_is_quarantined(landing, tmp_path, baseline, name, line, field, value, limit):
    _edit_ndjson(_file(landing, name), line, {field: value})
    splits = _check_day(landing, tmp_path / "lake")
    _assert_only_line_moved(name, splits, baseline, line)
    _assert_quarantined(splits[name], name, line, f"{name}.{field}.future",
                        f'{field} "{value}" is in the future (after {limit})')


@pytest.mark.parametrize("value", ["2026-11-03T23:59:59.999Z", "2026-11-03T18:59:59-05:00",
                                   "2026-11-04T01:00:00+02:00"])
def test_timestamp_up_to_the_end_of_the_next_day_is_not_in_the_future(landing, tmp_path, value):
    _edit_ndjson(_file(landing, "web_events"), 2, {"event_at": value})
    _, split = _split_one(_file(landing, "web_events"), "web_events")
    assert 2 in _row_numbers(split.clean)


def test_csv_timestamp_in_the_future_is_quarantined(landing, tmp_path, baseline):
    _edit_csv(_file(landing, "youtube_video_report"), 2, "published_at", "2099-11-01T15:00:00Z")
    splits = _check_day(landing, tmp_path / "lake")
    _assert_only_line_moved("youtube_video_report", splits, baseline, 2)
    _assert_quarantined(splits["youtube_video_report"], "youtube_video_report", 2,
                        "youtube_video_report.published_at.future",
                        'published_at "2099-11-01T15:00:00Z" is in the future (after 2026-11-03 23:59 UTC)')


# ------------------------------------------------------------------------------------ unknown affiliate codes


def test_unknown_affiliate_code_keeps_the_order_and_is_counted_by_the_relationship_check(landing, tmp_path, baseline):
    from influence_pipeline.schemas.gx import GxValidator

    _edit_ndjson(_file(landing, "shopify_orders"), 1,
                 {"discount_codes": [{"code": "jane51", "amount": "9.00", "type": "percentage"}]})  # typo of JANE15
    splits = _check_day(landing, tmp_path / "lake")
    orders = splits["shopify_orders"]
    # the order is valid: not quarantined, no rule broken
    assert _row_numbers(orders.clean) == _row_numbers(baseline["shopify_orders"].clean)
    assert 1 in _row_numbers(orders.clean)
    assert _row_numbers(orders.quarantined) == _row_numbers(baseline["shopify_orders"].quarantined)
    stg_orders = _stage(splits, "stg_orders")
    assert stg_orders.filter(pl.col("order_id") == "5001")["discount_code_count"].to_list() == [1]
    # the staging table keeps the code as typed, upper-cased
    codes = _stage(splits, "stg_order_discount_codes")
    assert sorted(codes.select("order_id", "discount_code").rows()) == [
        ("4990", "MARCO10"), ("4990", "WELCOME5"), ("5001", "JANE51")]
    known = _stage(splits, "stg_discount_codes")["discount_code"].to_list()
    assert "JANE51" not in known and "JANE15" in known
    # the published relationship rule counts the unknown codes (a warning: it describes the data, it does not gate)
    contract = CONTRACTS["stg_order_discount_codes"]
    rules = published_rules(contract, {"stg_discount_codes.discount_code": sorted(known)})
    results = GxValidator(tmp_path / "validation").validate("stg_order_discount_codes", "published", codes, rules,
                                                            "unknown-codes")
    by_id = {r.rule_id: r for r in results}
    relationship = by_id["stg_order_discount_codes.discount_code.relationship"]
    assert (relationship.success, relationship.severity, relationship.unexpected_count) == (False, "warning", 2)
    assert [r.rule_id for r in results if r.severity == "error" and not r.success] == []


# --------------------------------------------------------------------------------------------------------- UTMs


UTM_VARIANTS = [
    "https://shop.example.com/?utm_source=instagram&utm_medium=influencer&utm_campaign=winter-glow"
    "&utm_content=glowbyjane",
    "https://shop.example.com/?UTM_SOURCE=Instagram&Utm_Medium=INFLUENCER&utm_campaign=Winter-Glow"
    "&utm_content=GlowByJane",
    "https://shop.example.com/?utm_source=Instagram%20&utm_medium=%49nfluencer&utm_campaign=winter%2Dglow"
    "&utm_content=glowbyjane%0A",
    "https://shop.example.com/products/serum?utm_source=+instagram+&utm_medium= influencer &utm_campaign=winter-glow%20"
    "&utm_content=%20GlowByJane#reviews",
    "  https://shop.example.com/?ref=x&utm_content=GLOWBYJANE&utm_campaign=WINTER-GLOW&utm_medium=Influencer"
    "&utm_source=INSTAGRAM%20%20  ",
    "https://shop.example.com/?utm_source=%69%6E%73%74%61%67%72%61%6D&utm_medium=influencer%09&utm_campaign=Winter-glow"
    "&utm_content=glowbyjane&utm_term=",
]


def test_utms_in_mixed_case_encoded_or_spaced_normalise_to_the_same_values(landing, tmp_path):
    path = _file(landing, "web_events")
    template = json.loads(path.read_text().splitlines()[1])
    records = [template | {"event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, url)), "page_url": url}
               for url in UTM_VARIANTS]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    splits = _check_day(landing, tmp_path / "lake")
    assert splits["web_events"].quarantined.height == 0
    events = _stage(splits, "stg_web_events").sort("_row_number")
    assert events.height == len(UTM_VARIANTS)
    utms = events.select("utm_source", "utm_medium", "utm_campaign", "utm_content").unique().rows()
    assert utms == [("instagram", "influencer", "winter-glow", "glowbyjane")]
    assert events["utm_term"].null_count() == len(UTM_VARIANTS)  # absent or empty: null, never ""
    # ... the same values as the tracking link's, so visits join their link
    link = _stage(splits, "stg_tracking_links").filter(pl.col("link_id") == "LNK-00001")
    assert link.select("utm_source", "utm_medium", "utm_campaign", "utm_content").rows() == utms


def test_utm_columns_of_the_roster_normalise_like_urls(landing, tmp_path):
    path = _file(landing, "roster_tracking_links")
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace(",instagram,influencer,winter-glow,glowbyjane",
                                ",Instagram%20,INFLUENCER, winter-glow ,GlowByJane")
    path.write_text("\n".join(lines) + "\n")
    splits = _check_day(landing, tmp_path / "lake")
    link = _stage(splits, "stg_tracking_links").filter(pl.col("link_id") == "LNK-00001")
    assert link.select("utm_source", "utm_medium", "utm_campaign", "utm_content").rows() == [
        ("instagram", "influencer", "winter-glow", "glowbyjane")]


