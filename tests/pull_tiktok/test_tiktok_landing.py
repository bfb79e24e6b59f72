"""TikTok pull against the fake Business API on a real local HTTP server: round trip, accounts without a token, paging
and the tracking window, throttling, a second run of the day, and data of an unexpected shape."""
from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

from influence_pipeline.fake_api.server import SampleWorld
from influence_pipeline.fake_api.tiktok import business_id
from influence_pipeline.schemas.raw import BY_NAME
from influence_pipeline.sources.api.landing_out import read_pull_record
from influence_pipeline.sources.api.pull import pull_source
from influence_pipeline.sources.landing import read_landing_file
from tests.pull_tiktok.helpers import DAY, LANDING_FIELDS, NOW, START, comparable, stamp_seconds, usernames


def test_round_trip_gives_back_the_worlds_records(make, world_dir):
    s = make()
    names = usernames(world_dir)
    s.connect(names)
    record = pull_source("tiktok", s.settings, DAY, now=NOW)
    world = SampleWorld(world_dir, DAY)
    for name in ("user_info.ndjson", "videos.ndjson"):
        pulled, truth = s.landed(name), world.ndjson("tiktok", name)
        assert comparable(pulled) == comparable(truth), name
        assert {r["fetched_at"] for r in pulled} == {"2026-11-03T03:00:00+0000"}
        assert {r["api_version"] for r in pulled} == {"v1.3"}
        # the sample stamps each account a couple of seconds after the previous one, from 03:00:00
        assert all(0 <= stamp_seconds(r["fetched_at"]) <= 2 * len(names) + 1 for r in truth)
        assert list(pulled[0]) == LANDING_FIELDS[name] + ["api_version"] + (["access"] if name == "user_info.ndjson"
                                                                             else [])
    for name, dataset in (("user_info.ndjson", "tiktok_user_info"), ("videos.ndjson", "tiktok_videos")):
        path = s.settings.landing_dir / "tiktok" / DAY.isoformat() / name  # ingestion reads it like a delivery
        table = read_landing_file(BY_NAME[dataset], path, f"tiktok/{DAY}/{name}", "run", b"key")
        assert table.num_rows == len(s.landed(name)) and table.column("_parse_error").null_count == table.num_rows
    assert [a.status for a in record.accounts] == ["ok"] * len(names)
    assert {a.access for a in record.accounts} == {"creator"}
    assert record.files == {"user_info.ndjson": len(names), "videos.ndjson": len(s.landed("videos.ndjson"))}
    assert read_pull_record(s.settings.landing_dir, "tiktok", DAY)["accounts"][0]["status"] == "ok"
    data_requests = [r for r in s.server.requests if "/business/" in r.path]
    assert data_requests and all(r.headers.get("access-token") for r in data_requests)
    assert all("access_token" not in r.query and "business_id" in r.query for r in data_requests)
    assert json.loads(data_requests[0].query["fields"][0])  # a JSON array string


def test_accounts_without_a_token_are_skipped(make, world_dir):
    s = make()
    names = usernames(world_dir)
    s.connect(names[:2])
    record = s.pull()
    assert [a.status for a in record.accounts] == ["ok", "ok"] + ["skipped"] * (len(names) - 2)
    skipped = record.accounts[2]
    assert skipped.access == "none" and "ask the creator to authorise the app" in skipped.message
    assert {r["username"] for r in s.landed("user_info.ndjson")} == set(names[:2])


def test_small_pages_and_the_tracking_window(make, world_dir):
    s = make(page_size=3)
    truth = SampleWorld(world_dir, DAY).ndjson("tiktok", "videos.ndjson")
    busiest = [name for name, _ in Counter(r["username"] for r in truth).most_common(4)]
    s.connect(busiest)
    record = s.pull()
    assert [a.status for a in record.accounts if a.status != "skipped"] == ["ok"] * 4
    assert comparable(s.landed("videos.ndjson")) == comparable([r for r in truth if r["username"] in busiest])
    # the fake also lists videos past the 14-day window (delivered on earlier days), after the tracked ones:
    # paging stops on the first page that reaches one of them
    tracked = {r["item_id"] for r in truth}
    older = Counter(r["username"] for d in (START, DAY - timedelta(days=1))
                    for r in SampleWorld(world_dir, d).ndjson("tiktok", "videos.ndjson")
                    if r["item_id"] not in tracked and r["username"] in busiest)
    assert sum(older.values()), "the sample should have videos that left the window"
    for name in busiest:
        n = sum(r["username"] == name for r in truth)
        pages = [r for r in s.server.requests if r.path.endswith("/business/video/list/")
                 and r.query["business_id"] == [business_id(name)]]
        assert len(pages) == (n // 3 + 1 if older[name] else -(-n // 3)), name
        assert [r.query.get("cursor") for r in pages][:2] == [None, ["3"]]
        assert all(r.query["max_count"] == ["20"] for r in pages)


def test_throttled_then_success(make, world_dir):
    s = make(rate_limit=4)
    names = usernames(world_dir)[:3]
    s.connect(names)
    record = s.pull()
    assert [a.status for a in record.accounts[:3]] == ["ok"] * 3
    assert record.retries >= 4 and s.fake.rate_limited == 4


def test_second_run_of_the_day_keeps_the_accounts_the_first_read(make, world_dir):
    s = make()
    names = usernames(world_dir)[:3]
    s.connect(names)
    s.pull()
    first = comparable(s.landed("videos.ndjson"))
    s.fake.revoke(names[1])  # the rerun cannot read names[1]: its rows of the first run stay
    assert [a.status for a in s.pull().accounts[:3]] == ["ok", "stopped", "ok"]
    assert {r["username"] for r in s.landed("user_info.ndjson")} == set(names)
    assert comparable(s.landed("videos.ndjson")) == first


def test_data_of_an_unexpected_shape_fails_that_account_only(make, world_dir, monkeypatch):
    s = make()
    names = usernames(world_dir)[:3]
    s.connect(names)
    real_account, real_videos = s.fake._account, s.fake._videos
    monkeypatch.setattr(s.fake, "_account", lambda username, fields: (
        s.fake._envelope(data=["a list"]) if username == names[0] else real_account(username, fields)))
    monkeypatch.setattr(s.fake, "_videos", lambda username, fields, request: (
        s.fake._envelope(data={"videos": [None]}) if username == names[1] else real_videos(username, fields, request)))
    record = s.pull()
    assert [a.status for a in record.accounts[:3]] == ["failed", "failed", "ok"]
    assert "expected a JSON object" in record.accounts[0].message
    assert "unexpected answer (TypeError)" in record.accounts[1].message
    assert {r["username"] for r in s.landed("user_info.ndjson")} == {names[2]}
