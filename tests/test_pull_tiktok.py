"""TikTok pull against the fake Business API on a real local HTTP server: round trip, paging, throttling, token
refresh with rotation, revoked and under-scoped authorisations, and no token anywhere it could leak."""
from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from influence_pipeline.fake_api.server import FakeApiServer, SampleWorld
from influence_pipeline.fake_api.tiktok import FakeTikTok, business_id, token_for
from influence_pipeline.sample import generate
from influence_pipeline.schemas.raw import BY_NAME
from influence_pipeline.sources.api.client import AccessError, PullError, RetryPolicy, TransientError
from influence_pipeline.sources.api.config import ApiSettings
from influence_pipeline.sources.api.landing_out import read_ndjson, read_pull_record
from influence_pipeline.sources.api.pull import pull_source
from influence_pipeline.sources.api.state import TokenStore
from influence_pipeline.sources.api.tiktok import pull
from influence_pipeline.sources.api.tiktok_map import TokenRejected, classify, classify_code
from influence_pipeline.sources.landing import read_landing_file

START = date(2026, 11, 1)
DAY = date(2026, 11, 3)
NOW = datetime(2026, 11, 3, 3, 0, tzinfo=UTC)  # the sample fetches TikTok from 03:00 UTC on the landing day
APP_ID, APP_SECRET = "fake-app", "fake-app-secret-123"
LANDING_FIELDS = {  # docs/landing.md
    "user_info.ndjson": ["username", "display_name", "followers_count", "following_count", "total_likes",
                         "videos_count", "fetched_at"],
    "videos.ndjson": ["item_id", "username", "create_time", "video_views", "likes", "comments", "shares", "favorites",
                      "reach", "video_duration", "fetched_at"]}

FORMER = {"plays": "video_views", "follower_count": "followers_count", "likes_count": "total_likes",
          "video_count": "videos_count"}


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiktok") / "world"
    generate(root, START, 3, 0.2, 7, 0.0)
    return root


def usernames(world_dir: Path) -> list[str]:
    return [r["username"] for r in SampleWorld(world_dir, DAY).ndjson("tiktok", "user_info.ndjson")]


class Setup:
    """A pull's data dir with the world's roster, a fake and its server, and creators connected."""

    def __init__(self, tmp_path: Path, world_dir: Path, server: FakeApiServer, fake: FakeTikTok):
        self.fake, self.server = fake, server
        self.settings = ApiSettings(data_dir=tmp_path / "data", tiktok_api_base_url=server.base_url("/tiktok"),
                                    tiktok_app_id=APP_ID, tiktok_app_secret=APP_SECRET, pull_fast_retries=True)
        shutil.copytree(world_dir / "roster", self.settings.landing_dir / "roster")
        self.store = TokenStore(self.settings.token_store_path)

    def connect(self, names, **token_changes) -> None:
        for name in names:
            token = token_for(self.fake.connect(name), NOW)
            for key, value in token_changes.items():
                setattr(token, key, value)
            self.store.put("tiktok", name, token)

    def pull(self, now: datetime = NOW):
        return pull(self.settings, DAY, now=now, policy=RetryPolicy.fast(), mode="daily")

    def landed(self, name: str) -> list[dict]:
        return read_ndjson(self.settings.landing_dir / "tiktok" / DAY.isoformat() / name)

    def every_token(self) -> set[str]:
        fake = self.fake
        return set(fake.access) | set(fake.refresh) | fake.dead_refresh


@pytest.fixture
def make(tmp_path, world_dir):
    servers = []

    def _make(**fake_options) -> Setup:
        fake = FakeTikTok(SampleWorld(world_dir, DAY), app_id=APP_ID, app_secret=APP_SECRET, **fake_options)
        server = FakeApiServer([fake]).start()
        servers.append(server)
        return Setup(tmp_path / f"pull{len(servers)}", world_dir, server, fake)

    yield _make
    for server in servers:
        server.stop()


def comparable(records: list[dict]) -> Counter:
    """A multiset of records without the pull's stamps, older exports' names (`plays`, `follower_count`, ...) read
    as the current ones."""
    out = []
    for r in records:
        r = {FORMER.get(k, k): v for k, v in r.items() if k not in ("fetched_at", "api_version", "access")}
        out.append(json.dumps(r, sort_keys=True))
    return Counter(out)


def stamp_seconds(stamp: str) -> float:
    return (datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z") - NOW).total_seconds()


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


def test_expired_access_token_is_refreshed_and_the_rotation_saved_first(make, world_dir, caplog):
    caplog.set_level(logging.DEBUG)
    seen: list[tuple[str, bool]] = []
    s = make()

    def check_store(username: str, token: str) -> None:  # runs as the fake receives each data request
        stored = s.store.get("tiktok", username)
        seen.append((token, stored is not None and stored.access_token == token))

    s.fake.on_data_request = check_store
    name = usernames(world_dir)[0]
    s.connect([name])
    old = s.store.get("tiktok", name)
    s.fake.expire_access(name)
    record = s.pull()
    assert record.accounts[0].status == "ok"
    new = s.store.get("tiktok", name)
    assert new.refresh_token != old.refresh_token and new.access_token != old.access_token
    assert new.expires_at == (NOW + timedelta(days=1)).isoformat()
    # the new access token reached the API only once the store already held it
    assert [ok for token, ok in seen if token == new.access_token] and all(ok for _, ok in seen)
    # the old refresh token died with the rotation
    answer = httpx.post(s.server.base_url("/tiktok") + "/open_api/v1.3/tt_user/oauth2/refresh_token/",
                        json={"client_id": APP_ID, "client_secret": APP_SECRET, "grant_type": "refresh_token",
                              "refresh_token": old.refresh_token}).json()
    assert answer["code"] == 40107
    # and the next pull, a day later, goes on from what the store holds
    record = s.pull(NOW + timedelta(days=1, hours=1))
    assert record.accounts[0].status == "ok"
    assert_no_secret(s, record, caplog)


def test_token_near_expiry_is_refreshed_before_use_and_ending_authorisation_warned(make, world_dir):
    s = make()
    name = usernames(world_dir)[0]
    s.connect([name], expires_at=(NOW + timedelta(minutes=20)).isoformat())
    old = s.store.get("tiktok", name)
    record = s.pull()
    assert record.accounts[0].status == "ok"
    assert not [r for r in s.server.requests if r.headers.get("access-token") == old.access_token]
    assert s.store.get("tiktok", name).refresh_token != old.refresh_token
    assert record.warnings == []

    s.connect([name], refresh_expires_at=(NOW + timedelta(days=3)).isoformat())
    token = s.store.get("tiktok", name)
    record = s.pull()
    assert len(record.warnings) == 1 and name in record.warnings[0] and "2026-11-06" in record.warnings[0]
    assert token.access_token not in record.warnings[0]


def test_revoked_authorisation_stops_that_account_only(make, world_dir, caplog):
    caplog.set_level(logging.DEBUG)
    s = make()
    names = usernames(world_dir)[:4]
    s.connect(names)
    s.fake.revoke(names[1])  # the creator removed the app: access and refresh tokens die
    s.fake.expire_access(names[2])  # the access token expired and the refresh token was revoked
    s.fake.revoke_refresh(names[2])
    record = s.pull()
    assert [a.status for a in record.accounts[:4]] == ["ok", "stopped", "stopped", "ok"]
    assert f"tiktok:{names[1]}: stopped" in caplog.text  # the log was written, and is checked for tokens below
    for i in (1, 2):
        stopped = record.accounts[i]
        assert stopped.account_id == f"tiktok:{names[i]}" and stopped.access == "creator"
        assert "refresh token no longer valid (code 40107" in stopped.message
        assert "ask the creator to reauthorise the app" in stopped.message
    assert {r["username"] for r in s.landed("user_info.ndjson")} == {names[0], names[3]}
    assert_no_secret(s, record, caplog)


def test_missing_scope_stops_that_account_only(make, world_dir, caplog):
    caplog.set_level(logging.DEBUG)
    s = make()
    names = usernames(world_dir)[:3]
    s.connect(names)
    s.fake.missing_scope.add(names[0])
    record = s.pull()
    assert [a.status for a in record.accounts[:3]] == ["stopped", "ok", "ok"]
    assert "permission missing" in record.accounts[0].message and "reauthorise" in record.accounts[0].message
    assert not [r for r in s.landed("user_info.ndjson") if r["username"] == names[0]]
    assert_no_secret(s, record, caplog)


def test_crash_right_after_rotation_keeps_a_working_token(make, world_dir, monkeypatch):
    s = make()
    name = usernames(world_dir)[0]
    s.connect([name], expires_at=(NOW - timedelta(minutes=5)).isoformat())
    old = s.store.get("tiktok", name)

    class Crash(BaseException):
        pass

    real_put = TokenStore.put

    def put_then_crash(self, platform, account_id, token):
        real_put(self, platform, account_id, token)
        raise Crash  # the process dies between saving the rotated token and using it

    monkeypatch.setattr(TokenStore, "put", put_then_crash)
    with pytest.raises(Crash):
        s.pull()
    monkeypatch.undo()
    saved = s.store.get("tiktok", name)
    assert saved.refresh_token != old.refresh_token and saved.refresh_token in s.fake.refresh
    assert old.refresh_token in s.fake.dead_refresh
    record = s.pull()  # the next run goes on with the saved pair
    assert record.accounts[0].status == "ok"


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


def test_lost_refresh_answer_is_not_retried_with_the_rotated_token(make, world_dir):
    s = make()
    name = usernames(world_dir)[0]
    s.connect([name], expires_at=(NOW - timedelta(minutes=5)).isoformat())
    s.fake.lose_refresh_answers = 1  # TikTok rotates the pair, then the answer is lost
    record = s.pull()
    refreshes = [r for r in s.server.requests if r.path.endswith("/refresh_token/")]
    assert len(refreshes) == 1  # a retry would have sent the rotated-away token and got 40107
    assert record.accounts[0].status == "failed" and "may have rotated" in record.accounts[0].message
    assert "40107" in record.accounts[0].message and "reauthorise" in record.accounts[0].message


def test_hand_entered_expiry_without_timezone(make, world_dir):
    s = make()
    name = usernames(world_dir)[0]
    naive = (NOW + timedelta(days=3)).replace(tzinfo=None).isoformat()
    s.connect([name], refresh_expires_at=naive)
    record = s.pull()  # the expiry warning compares the naive stamp
    assert record.accounts[0].status == "ok" and "2026-11-06" in record.warnings[0]
    s.connect([name], expires_at=(NOW + timedelta(minutes=5)).isoformat(), refresh_expires_at=naive)
    assert s.pull().accounts[0].status == "ok"  # so does the refresh
    assert s.store.get("tiktok", name).refresh_expires_at != naive


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


@pytest.mark.parametrize("code, kind", [(40100, TransientError), (40132, TransientError), (50002, TransientError),
                                        (51004, TransientError), (40102, TokenRejected), (40105, TokenRejected),
                                        (40103, AccessError), (40107, AccessError), (40130, AccessError),
                                        (40001, AccessError), (40002, PullError)])
def test_codes_are_sorted_by_what_must_happen(code, kind):
    error = classify_code(code, "message")
    assert type(error) is kind and str(code) in str(error)
    assert classify_code(0, "OK") is None


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_http_throttling_are_transient(status):
    response = httpx.Response(status, json={"code": 50000, "message": "system error"})
    assert isinstance(classify(response, response.json()), TransientError)


def assert_no_secret(s: Setup, record, caplog) -> None:
    pull_json = read_pull_record(s.settings.landing_dir, "tiktok", DAY) or {}
    folder = s.settings.landing_dir / "tiktok"
    texts = [json.dumps(asdict(record)), json.dumps(pull_json), caplog.text,
             *(p.read_text() for p in folder.rglob("*") if p.is_file())]
    for secret in s.every_token() | {APP_SECRET}:
        assert not [t for t in texts if secret in t], "a token leaked"
