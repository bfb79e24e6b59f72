"""The sample-data generator writes the documented landing shapes, deterministically and at the right volumes."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from influence_pipeline.sample import FILES, generate

START = date(2026, 11, 2)
DAYS = 3

# Documented shapes (docs/landing.md). "?" marks keys that may be absent; ALIASES fold the documented alternatives.
CSV_HEADERS = {
    "roster/influencers.csv": ["influencer_id", "full_name", "email", "country", "signed_on"],
    "roster/social_accounts.csv": ["influencer_id", "platform", "platform_account_id", "handle", "niche", "followers"],
    "roster/campaigns.csv": ["campaign_id", "campaign_name", "brand", "influencer_id", "start_date", "end_date", "fee",
                             "currency", "gifted_product_cost", "commission_rate"],
    "roster/tracking_links.csv": ["link_id", "campaign_id", "influencer_id", "url", "utm_source", "utm_medium",
                                  "utm_campaign", "utm_content"],
    "roster/discount_codes.csv": ["code", "influencer_id", "campaign_id", "discount_pct", "valid_from", "valid_to"],
    "youtube/channel_report.csv": ["date", "channel_id", "channel_title", "subscriber_count", "subscribers_gained",
                                   "subscribers_lost", "views"],
    "youtube/video_report.csv": ["date", "channel_id", "video_id", "published_at", "title", "is_short", "views",
                                 "likes", "comments", "shares"],
    "signups/signups.csv": ["signup_id", "created_at", "email", "first_name", "list_name", "anonymous_id",
                            "landing_url", "consent"],
}
NDJSON_KEYS = {
    "instagram/users.ndjson": ["id", "username", "followers_count", "follows_count", "media_count", "fetched_at"],
    "instagram/media.ndjson": ["id", "owner", "media_type", "media_product_type", "timestamp", "caption", "permalink",
                               "like_count?", "comments_count", "fetched_at"],
    "instagram/media_insights.ndjson": ["media_id", "reach", "saved", "shares", "views"],
    "instagram/story_insights.ndjson": ["media_id", "reach", "replies", "shares", "link_clicks", "views", "navigation",
                                        "profile_activity"],
    "tiktok/user_info.ndjson": ["username", "display_name", "followers_count", "following_count", "total_likes",
                                "videos_count", "fetched_at"],
    "tiktok/videos.ndjson": ["item_id", "username", "create_time", "video_views", "likes", "comments", "shares",
                             "favorites", "reach", "video_duration", "fetched_at"],
    "web_events/events.ndjson": ["event_id", "event_at", "anonymous_id", "event_type", "page_url", "referrer",
                                 "user_agent", "ip", "customer_id?", "order_id?", "email?"],
    "orders/orders.ndjson": ["id", "name", "created_at", "updated_at", "customer", "email", "browser_ip",
                             "total_price", "subtotal_price", "total_discounts", "currency", "discount_codes",
                             "landing_site", "referring_site", "financial_status", "refunds", "test", "source_name"],
}
# Older exports' names (accounts with alt_metric): the contracts read them as the current ones (formerNames).
ALIASES = {"impressions": "views", "plays": "video_views", "follower_count": "followers_count",
           "likes_count": "total_likes", "video_count": "videos_count"}


def _days(n: int = DAYS) -> list[str]:
    return [(START + timedelta(days=i)).isoformat() for i in range(n)]


def _path(out: Path, key: str, day: str) -> Path:
    source, name = key.split("/")
    return out / source / day / name


def _hashes(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def _lines(out: Path, key: str, days: list[str]) -> list[str]:
    return [x for d in days for x in _path(out, key, d).read_text(encoding="utf-8").splitlines()]


def _records(out: Path, key: str, days: list[str]) -> list[dict]:
    return [json.loads(x) for x in _lines(out, key, days)]


def _csv(out: Path, key: str, day: str) -> list[list[str]]:
    with open(_path(out, key, day), encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[Path, dict[str, int], list[date]]:
    out = tmp_path_factory.mktemp("clean")
    seen: list[date] = []
    counts = generate(out, START, DAYS, scale=0.1, seed=7, on_day=seen.append)
    return out, counts, seen


def test_same_arguments_give_identical_bytes_and_seed_changes_them(clean, tmp_path):
    out, _, _ = clean
    generate(tmp_path / "again", START, DAYS, scale=0.1, seed=7)
    generate(tmp_path / "other", START, DAYS, scale=0.1, seed=8)
    assert _hashes(tmp_path / "again") == _hashes(out)
    other = _hashes(tmp_path / "other")
    assert other.keys() == _hashes(out).keys()
    assert other != _hashes(out)


def test_layout_headers_and_keys_match_the_spec(clean):
    out, counts, seen = clean
    assert seen == [START + timedelta(days=i) for i in range(DAYS)]
    assert sorted(counts) == sorted(FILES) == sorted([*CSV_HEADERS, *NDJSON_KEYS])
    expected = {f"{k.split('/')[0]}/{d}/{k.split('/')[1]}" for k in FILES for d in _days()}
    assert set(_hashes(out)) == expected  # every source/day present, no temp files left behind
    for key, header in CSV_HEADERS.items():
        for d in _days():
            assert _csv(out, key, d)[0] == header, key
    for key, keys in NDJSON_KEYS.items():
        recs = _records(out, key, _days())
        assert recs or key == "instagram/story_insights.ndjson", key
        for rec in recs:
            got = [ALIASES.get(k, k) for k in rec]
            want = [k.rstrip("?") for k in keys if not k.endswith("?") or k.rstrip("?") in got]
            assert got == want, (key, rec)
    for ev in _records(out, "web_events/events.ndjson", _days()):
        extra = {"checkout": {"customer_id", "order_id"}, "signup": {"email"}, "page_view": set()}[ev["event_type"]]
        assert set(ev) - set(NDJSON_KEYS["web_events/events.ndjson"][:8]) == extra


def test_volumes_are_plausible_and_linear_in_scale(clean, tmp_path):
    _, small, _ = clean
    assert 11_000 <= small["web_events/events.ndjson"] <= 20_000  # ~50k a day at scale 1
    assert 50 <= small["orders/orders.ndjson"] <= 200
    assert 60 <= small["signups/signups.csv"] <= 250
    assert small["roster/influencers.csv"] == 15 * DAYS
    assert 20 * DAYS <= small["roster/social_accounts.csv"] <= 40 * DAYS
    big = generate(tmp_path, START, DAYS, scale=0.2, seed=7)
    for key, lo, hi in [("web_events/events.ndjson", 1.8, 2.2), ("orders/orders.ndjson", 1.4, 2.7),
                        ("signups/signups.csv", 1.5, 2.6), ("roster/influencers.csv", 2, 2),
                        ("roster/social_accounts.csv", 1.5, 2.6)]:
        assert lo <= big[key] / small[key] <= hi, key


def test_clean_output_parses_and_is_consistent(clean):
    out, _, _ = clean
    days = _days()
    for key in NDJSON_KEYS:
        for line in _lines(out, key, days):
            json.loads(line)
    for key in CSV_HEADERS:
        for d in days:
            rows = _csv(out, key, d)
            assert all(len(r) == len(rows[0]) for r in rows), key
    orders = {o["id"]: o for o in _records(out, "orders/orders.ndjson", days)}
    events = _records(out, "web_events/events.ndjson", days)
    checkouts = [e for e in events if e["event_type"] == "checkout"]
    assert checkouts
    for e in checkouts:
        assert orders[e["order_id"]]["customer"]["id"] == e["customer_id"]
    signup_anon = {r[5] for d in days for r in _csv(out, "signups/signups.csv", d)[1:]}
    assert {e["anonymous_id"] for e in events if e["event_type"] == "signup"} <= signup_anon
    assert any("utm_medium=influencer" in e["page_url"] for e in events)


def test_dirty_rate_injects_malformed_lines_and_duplicates(tmp_path):
    generate(tmp_path, START, 2, scale=0.1, seed=7, dirty_rate=0.05)
    days = _days(2)
    bad_json = dup_lines = bad_csv = 0
    for key in NDJSON_KEYS:
        lines = _lines(tmp_path, key, days)
        dup_lines += len(lines) - len(set(lines))
        for line in lines:
            try:
                json.loads(line)
            except json.JSONDecodeError:
                bad_json += 1
    for key in CSV_HEADERS:
        for d in days:
            rows = _csv(tmp_path, key, d)
            bad_csv += sum(len(r) != len(rows[0]) for r in rows[1:])
    assert bad_json > 0 and dup_lines > 0 and bad_csv > 0


def test_web_events_written_in_chunks_are_the_bytes_of_one_pass(tmp_path, monkeypatch):
    """Web events are formatted and dirtied chunk by chunk (an XL day does not fit in memory as one list); cutting
    the file at other places, even mid-defect-plan, must not move a byte."""
    import influence_pipeline.sample.web as web

    generate(tmp_path / "whole", START, 2, scale=0.1, seed=7, dirty_rate=0.2)
    full = web.CHUNK_LINES
    monkeypatch.setattr(web, "CHUNK_LINES", 97)
    generate(tmp_path / "cut", START, 2, scale=0.1, seed=7, dirty_rate=0.2)
    whole = _lines(tmp_path / "whole", "web_events/events.ndjson", _days(2))
    assert 20 * 97 < len(whole) < full  # one chunk at the full size, many at 97 lines
    assert _hashes(tmp_path / "cut") == _hashes(tmp_path / "whole")


def test_followers_span_at_least_four_tiers(tmp_path):
    generate(tmp_path, START, 1, scale=1.0)
    d = _days(1)
    counts = [r["followers_count"] for r in _records(tmp_path, "instagram/users.ndjson", d)]
    counts += [r.get("followers_count", r.get("follower_count")) for r in _records(tmp_path, "tiktok/user_info.ndjson", d)]
    counts += [int(r[3]) for r in _csv(tmp_path, "youtube/channel_report.csv", d[0])[1:]]
    tiers = {sum(c >= t for t in (1_000, 5_000, 50_000, 500_000)) for c in counts}
    assert len(tiers) >= 4
    assert 200 <= len(counts) <= 400  # ~300 accounts at scale 1


def test_discount_codes_stay_unique_when_a_large_world_runs_out_of_short_ones():
    """At profile L's scale (5 000+ deals) first names repeat so often that name + percent + letter runs out; the
    generator then counts on, lazily (it once tried to build the endless list first)."""
    from influence_pipeline.sample.world import build_world

    world = build_world(42, date(2026, 11, 1), 30, 40.0)
    codes = [m.code for m in world.members]
    assert len(codes) > 5000 and len(set(codes)) == len(codes)
    assert any(code[-3:].isdigit() for code in codes)  # percent (2 digits) + a count: the fallback is in use
