"""Instagram pull against the fake Graph API (a real HTTP server on 127.0.0.1): round trip of a sample day, paging,
rate limits, bad tokens, Business Discovery, withheld metrics, stories merging, quota."""
from __future__ import annotations

import json
import shutil
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from influence_pipeline.fake_api.instagram import FakeInstagram
from influence_pipeline.fake_api.server import FakeApiServer, FakeResponse, SampleWorld
from influence_pipeline.sample import generate
from influence_pipeline.sources.api import instagram_map as ig_map
from influence_pipeline.sources.api.accounts import roster_accounts
from influence_pipeline.sources.api.client import AccessError, QuotaExhausted, TransientError
from influence_pipeline.sources.api.config import ApiSettings
from influence_pipeline.sources.api.landing_out import read_ndjson
from influence_pipeline.sources.api.pull import pull_source
from influence_pipeline.sources.api.state import Token, TokenStore

DS = date(2026, 11, 3)
NOW = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
STAMP = "2026-11-03T02:00:00+0000"
BRAND_TOKEN = "brand-secret-EAAB1234567890"
BRAND_ID = "17841400000000001"
FILES = ("users.ndjson", "media.ndjson", "media_insights.ndjson", "story_insights.ndjson")


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ig") / "world"
    generate(out, date(2026, 11, 1), 3, 0.2, 7, 0.0)
    return out


def _token(ig_id: str) -> str:
    return f"creator-secret-{ig_id}-EAAG"


def _ids(world_dir: Path) -> list[str]:
    return [a.platform_account_id for a in roster_accounts(world_dir, DS, "instagram")]


@contextmanager
def _pulling(tmp_path: Path, world_dir: Path, *, public=(), expires: dict | None = None, **switches):
    """A fake serving the world's day DS, a data dir holding the roster and a creator token for every roster account
    but `public`; yields (settings, fake, server)."""
    ids = _ids(world_dir)
    data_dir = tmp_path / "data"
    shutil.copytree(world_dir / "roster", data_dir / "landing" / "roster")
    store = TokenStore.in_data_dir(data_dir)
    for ig_id in ids:
        if ig_id not in public:
            store.put("instagram", ig_id, Token(_token(ig_id), (expires or {}).get(ig_id, "2027-01-30T00:00:00+00:00")))
    fake = FakeInstagram(SampleWorld(world_dir, DS), brand_token=BRAND_TOKEN, brand_id=BRAND_ID,
                         creator_tokens={i: _token(i) for i in ids}, **switches)
    with FakeApiServer([fake]) as server:
        settings = ApiSettings(data_dir=data_dir, instagram_api_base_url=server.base_url("/instagram"),
                               instagram_access_token=BRAND_TOKEN, instagram_business_account_id=BRAND_ID,
                               pull_fast_retries=True)
        yield settings, fake, server


def _pulled(settings: ApiSettings, name: str) -> list[dict]:
    return read_ndjson(settings.landing_dir / "instagram" / DS.isoformat() / name)


def _expected(world_dir: Path, ids: set[str]) -> dict[str, list[dict]]:
    """The world's records of day DS for the accounts `ids` (link_clicks has no Graph API metric: never pulled)."""
    world = SampleWorld(world_dir, DS)
    users = [u for u in world.ndjson("instagram", "users.ndjson") if u["id"] in ids]
    media = [r for r in world.ndjson("instagram", "media.ndjson") if r["owner"]["id"] in ids]
    mids = {r["id"] for r in media}
    ins = [r for r in world.ndjson("instagram", "media_insights.ndjson") if r["media_id"] in mids]
    stories = [{k: v for k, v in r.items() if k != "link_clicks"}
               for r in world.ndjson("instagram", "story_insights.ndjson") if r["media_id"] in mids]
    return {"users.ndjson": users, "media.ndjson": media, "media_insights.ndjson": ins,
            "story_insights.ndjson": stories}


def _bag(records: list[dict]) -> Counter:
    """Records as a multiset, without the pull stamps (fetched_at is checked on its own)."""
    return Counter(json.dumps({k: v for k, v in r.items() if k not in ("api_version", "fetched_at", "access")},
                              sort_keys=True) for r in records)


def _assert_round_trip(settings: ApiSettings, world_dir: Path, ids: set[str]) -> None:
    expected = _expected(world_dir, ids)
    for name in FILES:
        got = _pulled(settings, name)
        assert _bag(got) == _bag(expected[name]), name
        assert all(r["api_version"] == "v24.0" and r["fetched_at"] == STAMP for r in got), name
    # the sample stamps each account a couple of seconds after 02:00 (accounts pulled one after another); a pull
    # stamps the time it started, so fetched_at agrees to the minute, not the second
    assert all(r["fetched_at"].startswith("2026-11-03T02:0") for r in expected["users.ndjson"])


def _no_secret_anywhere(settings: ApiSettings, server: FakeApiServer, record) -> None:
    texts = [json.dumps(asdict(record))]
    texts += [p.read_text() for p in (settings.landing_dir / "instagram").rglob("*") if p.is_file()]
    for text in texts:
        assert "secret" not in text and "EAA" not in text
    assert all("access_token" not in r.query for r in server.requests)  # tokens travel in headers only


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


def test_rate_limit_then_success(tmp_path, world_dir):
    ids = set(_ids(world_dir))
    with _pulling(tmp_path, world_dir, rate_limit_next=3, usage_pct=91) as (settings, fake, server):
        record = pull_source("instagram", settings, DS, now=NOW)
        _assert_round_trip(settings, world_dir, ids)
        assert record.retries == 3
        assert sum(r.status == 400 and not r.path.endswith("/insights") for r in server.requests) == 3
        assert {a.status for a in record.accounts} == {"ok"}
        assert any("91 % of call_count" in w for w in record.warnings)


def test_expired_and_revoked_tokens_stop_only_their_accounts(tmp_path, world_dir):
    ids = _ids(world_dir)
    stale, revoked, server_expired, soon = ids[0], ids[1], ids[2], ids[3]
    expires = {stale: "2026-11-01T00:00:00+00:00", soon: "2026-11-05T00:00:00+00:00"}
    with _pulling(tmp_path, world_dir, expires=expires, revoked_tokens={_token(revoked)},
                  expired_tokens={_token(server_expired)}) as (settings, fake, server):
        record = pull_source("instagram", settings, DS, now=NOW)
        by_id = {a.account_id: a for a in record.accounts}
        assert by_id[stale].status == "stopped"
        assert by_id[stale].message == "token expired on 2026-11-01: ask the creator to reconnect"
        assert not any(stale in r.path for r in server.requests)  # an expired token is not even tried
        assert by_id[revoked].status == "stopped" and "revoked" in by_id[revoked].message
        assert by_id[server_expired].status == "stopped" and "expired" in by_id[server_expired].message
        for bad in (revoked, server_expired):
            assert "ask the creator to reconnect" in by_id[bad].message
        good = set(ids) - {stale, revoked, server_expired}
        assert all(by_id[i].status == "ok" for i in good)
        assert [w for w in record.warnings if soon in w and "2026-11-05" in w]
        _assert_round_trip(settings, world_dir, good)
        _no_secret_anywhere(settings, server, record)


def test_public_only_account_through_business_discovery(tmp_path, world_dir):
    ids = _ids(world_dir)
    public = ids[1]
    with _pulling(tmp_path, world_dir, public={public}, page_size=3) as (settings, fake, server):
        record = pull_source("instagram", settings, DS, now=NOW)
        outcome = next(a for a in record.accounts if a.account_id == public)
        assert (outcome.access, outcome.status) == ("public", "partial")
        assert "creator's authorisation" in outcome.message
        bd_calls = [r for r in server.requests if r.path == f"/v24.0/{BRAND_ID}"]
        assert len(bd_calls) > 1 and any(".after(" in r.query["fields"][0] for r in bd_calls)
        expected = _expected(world_dir, {public})
        feed = [r for r in expected["media.ndjson"] if r["media_product_type"] != "STORY"]
        mids = {r["id"] for r in expected["media.ndjson"]}
        users = {u["id"]: u for u in _pulled(settings, "users.ndjson")}
        assert _bag([users[public]]) == _bag(expected["users.ndjson"])
        # the marts learn why this account's insights are null: the pull read it publicly
        assert users[public]["access"] == "public" and {u["access"] for i, u in users.items() if i != public} == {
            "creator"}
        assert _bag([r for r in _pulled(settings, "media.ndjson") if r["owner"]["id"] == public]) == _bag(feed)
        for name in ("media_insights.ndjson", "story_insights.ndjson"):
            assert not [r for r in _pulled(settings, name) if r["media_id"] in mids]
        others = set(ids) - {public}
        assert all(a.status == "ok" for a in record.accounts if a.account_id in others)


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


def test_a_long_business_use_case_wait_exhausts_the_quota(tmp_path, world_dir):
    with _pulling(tmp_path, world_dir, rate_limit_next=10_000, rate_limit_wait_minutes=30) as (settings, fake, server):
        record = pull_source("instagram", settings, DS, now=NOW)
        assert len(server.requests) == 1 and record.retries == 0  # no retry can succeed before access returns
        assert {a.status for a in record.accounts} == {"skipped"}
        assert all("quota exhausted" in a.message and "30 min" in a.message for a in record.accounts)
        assert record.incomplete.startswith("quota exhausted")


def _answer(body: dict, status: int = 400, headers: dict | None = None):
    response = httpx.Response(status, json=body, headers=headers or {})
    return ig_map.graph_error(response, response.json())


def _err(code: int, sub: int | None = None, message: str = "x") -> dict:
    return {"error": {"message": message, "type": "OAuthException", "code": code, "error_subcode": sub,
                      "fbtrace_id": "A"}}


def test_graph_errors_are_sorted_by_what_a_human_must_do():
    for sub, word in ((463, "expired"), (460, "password"), (458, "revoked"), (492, "revoked")):
        error = _answer(_err(190, sub))
        assert isinstance(error, AccessError) and word in str(error) and "reconnect" in str(error)
    assert isinstance(_answer(_err(10)), AccessError) and isinstance(_answer(_err(200)), AccessError)
    assert isinstance(_answer(_err(10, message="(#10) Not enough viewers for the media to show insights")),
                      ig_map.GraphError)
    buc = {"x-business-use-case-usage": json.dumps({"1": [{"type": "instagram", "call_count": 100,
                                                           "estimated_time_to_regain_access": 2}]})}
    slow = _answer(_err(80002), headers=buc)
    assert isinstance(slow, TransientError) and slow.retry_after == 120
    assert isinstance(_answer(_err(4)), TransientError) and _answer(_err(4)).retry_after is None
    long = {"x-business-use-case-usage": buc["x-business-use-case-usage"].replace('": 2}', '": 60}')}
    assert isinstance(_answer(_err(17), headers=long), QuotaExhausted)
    assert isinstance(_answer({}, 503), TransientError)
    assert isinstance(_answer(_err(100, 33)), ig_map.GraphError) and _answer(_err(100, 33)).code == 100
    assert _answer({"id": "1"}, 200) is None


def test_a_handle_business_discovery_cannot_find_stops_that_account(tmp_path, world_dir):
    ids = _ids(world_dir)
    public = ids[2]
    with _pulling(tmp_path, world_dir, public={public}) as (settings, fake, server):
        roster = next((settings.landing_dir / "roster").glob(f"{DS}/social_accounts.csv"))
        handle = next(a.handle for a in roster_accounts(settings.landing_dir, DS, "instagram") if a.platform_account_id == public)
        roster.write_text(roster.read_text().replace(f"@{handle},", "@no_such_handle,"))
        record = pull_source("instagram", settings, DS, now=NOW)
        outcome = next(a for a in record.accounts if a.account_id == public)
        assert outcome.status == "stopped" and "no_such_handle" in outcome.message and "roster" in outcome.message
        assert all(a.status == "ok" for a in record.accounts if a.account_id != public)


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


def test_an_unreadable_answer_fails_that_account_only(tmp_path, world_dir, monkeypatch):
    ids = _ids(world_dir)
    with _pulling(tmp_path, world_dir) as (settings, fake, server):
        real_user = fake._user

        def odd_user(request, user, media, edge, token):  # the first account's feed `data` is an object
            if user["id"] == ids[0] and edge == "media":
                return FakeResponse(200, {"data": {"id": "1"}})
            return real_user(request, user, media, edge, token)

        monkeypatch.setattr(fake, "_user", odd_user)
        record = pull_source("instagram", settings, DS, now=NOW)
        assert record.accounts[0].status == "failed" and "unexpected answer (TypeError)" in record.accounts[0].message
        assert all(a.status == "ok" for a in record.accounts[1:])
        _assert_round_trip(settings, world_dir, set(ids[1:]))


def test_insights_values_of_an_odd_shape_are_left_absent():
    body = {"data": [{"name": "reach", "values": ["12"]}, {"name": "saved", "values": [{"value": 3}]}]}
    assert ig_map.metric_values(body) == {"saved": 3}


def test_a_rate_limit_outlasting_the_retries_stops_the_source(tmp_path, world_dir):
    with _pulling(tmp_path, world_dir, rate_limit_next=10_000) as (settings, fake, server):
        record = pull_source("instagram", settings, DS, now=NOW)
        first, *rest = record.accounts
        assert first.status == "failed" and "rate limit" in first.message
        assert rest and {a.status for a in rest} == {"skipped"}
        assert all(a.message == record.incomplete for a in rest) and "rate limited" in record.incomplete
        assert len(server.requests) == record.requests <= 6  # one account's retries, not every account's
