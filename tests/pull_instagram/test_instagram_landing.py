"""Instagram pull against the fake Graph API (a real HTTP server on 127.0.0.1): round trip of a sample day, paging,
withheld metrics, stories merging, malformed records and odd insights values."""
from __future__ import annotations

import json
from datetime import timedelta

from influence_pipeline.fake_api.server import SampleWorld
from influence_pipeline.sources.api import instagram_map as ig_map
from influence_pipeline.sources.api.pull import pull_source
from tests.pull_instagram.helpers import (
    DS,
    NOW,
    _assert_round_trip,
    _bag,
    _expected,
    _ids,
    _no_secret_anywhere,
    _pulled,
    _pulling,
)


def test_round_trip_gives_back_the_sample_day(tmp_path, world_dir):
    ids = set(_ids(world_dir))
    with _pulling(tmp_path, world_dir) as (settings, fake, server):
        record = pull_source("instagram", settings, DS, now=NOW)
        _assert_round_trip(settings, world_dir, ids)
        assert {a.status for a in record.accounts} == {"ok"} and len(record.accounts) == len(ids)
        assert {a.access for a in record.accounts} == {"creator"}
        assert record.warnings == [] and record.retries == 0
        # older posts are listed by the feed edge but left out: the window is 14 days
        assert len(fake._media()) > len(SampleWorld(world_dir, DS).ndjson("instagram", "media.ndjson"))
        # older-API accounts come back with impressions, as in the sample
        assert any("impressions" in r for r in _pulled(settings, "media_insights.ndjson"))
        _no_secret_anywhere(settings, server, record)
        saved = json.loads((settings.landing_dir / "instagram" / DS.isoformat() / "_pull.json").read_text())
        assert saved["files"]["users.ndjson"] == len(ids)


def test_several_pages(tmp_path, world_dir):
    ids = set(_ids(world_dir))
    with _pulling(tmp_path, world_dir, page_size=2) as (settings, fake, server):
        record = pull_source("instagram", settings, DS, now=NOW)
        _assert_round_trip(settings, world_dir, ids)
        media_calls = [r for r in server.requests if r.path.endswith("/media")]
        assert len(media_calls) > 2 * len(ids)
        assert any("after" in r.query for r in media_calls)
        assert all(r.path.startswith("/v24.0/") for r in server.requests)  # paging.next (graph.facebook.com) unused
        assert record.requests == len(server.requests)


def test_withheld_metric_is_absent_not_zero(tmp_path, world_dir):
    expected = _expected(world_dir, set(_ids(world_dir)))
    feed = [r["media_id"] for r in expected["media_insights.ndjson"] if "views" in r]
    partly, none = feed[0], feed[1]
    with _pulling(tmp_path, world_dir, withheld={partly: {"saved"}}, no_insights={none}) as (settings, fake, server):
        record = pull_source("instagram", settings, DS, now=NOW)
        rows = {r["media_id"]: r for r in _pulled(settings, "media_insights.ndjson")}
        assert "saved" not in rows[partly] and rows[partly]["reach"] > 0
        assert none not in rows
        assert none in {r["id"] for r in _pulled(settings, "media.ndjson")}  # the post itself still lands
        owners = {r["id"]: r["owner"]["id"] for r in expected["media.ndjson"]}
        partial = {a.account_id for a in record.accounts if a.status == "partial"}
        assert {owners[partly], owners[none]} <= partial
        assert all("absent, not 0" in a.message for a in record.accounts if a.status == "partial")


def test_stories_mode_merges_and_a_vanished_story_keeps_its_last_values(tmp_path, world_dir):
    with _pulling(tmp_path, world_dir) as (settings, fake, server):
        pull_source("instagram", settings, DS, now=NOW)
        first = {r["media_id"]: r for r in _pulled(settings, "story_insights.ndjson")}
        media_before = _bag(_pulled(settings, "media.ndjson"))
        gone, later = sorted(first)[:2]
        fake.vanished, fake.story_bump = {gone}, 5
        before = len(server.requests)
        record = pull_source("instagram", settings, DS, now=NOW + timedelta(hours=4), mode="stories")
        assert set(record.files) == {"media.ndjson", "story_insights.ndjson"}
        asked = server.requests[before:]
        assert all(r.path.endswith("/stories") or r.query["metric"] == ["reach,replies,shares,views,navigation,profile_activity"]
                   for r in asked)
        second = {r["media_id"]: r for r in _pulled(settings, "story_insights.ndjson")}
        assert set(second) == set(first)
        assert second[gone] == first[gone]
        assert second[later]["reach"] == first[later]["reach"] + 5
        assert second[later]["fetched_at"] == "2026-11-03T06:00:00+0000"
        assert _bag(_pulled(settings, "media.ndjson")) == media_before  # feed untouched, stories kept
        # a daily pull after a stories pull keeps the stories seen earlier
        fake.vanished, fake.story_bump = {later}, 0
        pull_source("instagram", settings, DS, now=NOW + timedelta(hours=8))
        third = {r["media_id"]: r for r in _pulled(settings, "story_insights.ndjson")}
        assert third[later] == second[later] and set(third) == set(first)
        saved = json.loads((settings.landing_dir / "instagram" / DS.isoformat() / "_pull.json").read_text())
        assert saved["pulls"] == 3


def test_a_malformed_media_record_costs_that_record_only(tmp_path, world_dir):
    expected = _expected(world_dir, set(_ids(world_dir)))
    feed = [r for r in expected["media.ndjson"] if r["media_product_type"] != "STORY"]
    odd, undated = feed[0], feed[-1]
    garbled = {odd["id"]: {"timestamp": "yesterday"}, undated["id"]: {"timestamp": None}}
    with _pulling(tmp_path, world_dir, garbled=garbled) as (settings, fake, server):
        record = pull_source("instagram", settings, DS, now=NOW)
        assert record.files  # the pull wrote its files and its record: no account lost
        landed = {r["id"] for r in _pulled(settings, "media.ndjson")}
        assert odd["id"] not in landed and undated["id"] not in landed
        assert landed == {r["id"] for r in expected["media.ndjson"]} - {odd["id"], undated["id"]}
        by_id = {a.account_id: a for a in record.accounts}
        for owner in {odd["owner"]["id"], undated["owner"]["id"]}:
            assert by_id[owner].status == "partial" and "unreadable media records left out" in by_id[owner].message
        assert sum("a media record left out" in w for w in record.warnings) == 2


def test_insights_values_of_an_odd_shape_are_left_absent():
    body = {"data": [{"name": "reach", "values": ["12"]}, {"name": "saved", "values": [{"value": 3}]}]}
    assert ig_map.metric_values(body) == {"saved": 3}
