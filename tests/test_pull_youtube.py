"""YouTube pull against the fake Data API / Analytics / token endpoint, served from sample landing files."""
from __future__ import annotations

import csv
import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import SecretStr

from influence_pipeline.fake_api.server import FakeApiServer, FakeResponse, SampleWorld
from influence_pipeline.fake_api.youtube import FakeYouTube, google_error, three_figures
from influence_pipeline.sample import generate
from influence_pipeline.sources.api import youtube
from influence_pipeline.sources.api.accounts import roster_accounts
from influence_pipeline.sources.api.config import ApiSettings
from influence_pipeline.sources.api.pull import pull_source
from influence_pipeline.sources.api.state import CursorStore, Token, TokenStore

START, DAY = date(2026, 11, 1), date(2026, 11, 3)
KEY, CLIENT, SECRET = "AIzaFAKE-brand-key-0123456789", "fake-client-id", "fake-client-secret-xyz"
ANALYTICS_CHANNEL = ("subscribers_gained", "subscribers_lost", "views")
ANALYTICS_VIDEO = ("is_short", "shares")


def morning(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), timezone.utc) + timedelta(hours=9)  # 01:00 Pacific


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("yt") / "world"
    generate(root, START, 3, 0.2, 7, 0.0)
    return root


def channels(world_dir: Path, day: date = DAY) -> list[str]:
    return [a.platform_account_id for a in roster_accounts(world_dir, day, "youtube")]


def refresh(cid: str) -> str:
    return f"1//refresh-{cid}"


class Setup:
    """A fake YouTube over the world, a pull data dir with the world's roster and the given creators' tokens."""

    def __init__(self, tmp_path: Path, world_dir: Path, connected: list[str], day: date = DAY, quota: int = 10_000,
                 **fake):
        self.world = SampleWorld(world_dir, day)
        self.fake = FakeYouTube(self.world, api_key=KEY, client_id=CLIENT, client_secret=SECRET,
                                refresh_tokens={c: refresh(c) for c in channels(world_dir)}, **fake)
        self.server = FakeApiServer([self.fake]).start()
        self.data = tmp_path / "pull"
        shutil.copytree(world_dir / "roster", self.data / "landing" / "roster")
        store = TokenStore.in_data_dir(self.data)
        for cid in connected:
            store.put("youtube", cid, Token(access_token="", refresh_token=refresh(cid)))
        self.settings = ApiSettings(
            data_dir=self.data, youtube_api_key=KEY, google_client_id=CLIENT, google_client_secret=SECRET,
            youtube_api_base_url=self.server.base_url("/youtube/data"),
            youtube_analytics_base_url=self.server.base_url("/youtube/analytics"),
            youtube_oauth_token_url=self.server.base_url("/youtube/oauth") + "/token",
            youtube_daily_quota=quota, pull_fast_retries=True)

    def pull(self, ds: date = DAY, now: datetime | None = None):
        return pull_source("youtube", self.settings, ds, now=now or morning(ds))

    def rows(self, name: str, ds: date = DAY) -> list[dict]:
        return read(self.data / "landing" / "youtube" / ds.isoformat() / name)

    def calls(self, method: str) -> list:
        return [r for r in self.server.requests if r.path.endswith(method)]

    def close(self) -> None:
        self.server.stop()


def read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def make(tmp_path, world_dir):
    made = []

    def build(connected: list[str] | None = None, **kwargs) -> Setup:
        setup = Setup(tmp_path / f"s{len(made)}", world_dir, channels(world_dir) if connected is None else connected,
                      **kwargs)
        made.append(setup)
        return setup

    yield build
    for setup in made:
        setup.close()


def by_key(rows: list[dict], key: str) -> dict[str, dict]:
    return {r[key]: r for r in rows}


def expected_channels(world: SampleWorld, ds: date, access: str = "creator") -> dict[str, dict]:
    """The world's channel rows as the pull gives them back: the Data API rounds subscriber counts (documented), and
    the pull says whose credentials read the channel."""
    rows = by_key(world.csv("youtube", "channel_report.csv", ds), "channel_id")
    return {c: {**r, "subscriber_count": str(three_figures(int(r["subscriber_count"]))), "access": access}
            for c, r in rows.items()}


def assert_no_secret(setup: Setup) -> None:
    for request in setup.server.requests:
        assert "key" not in request.query
        assert all(KEY not in v and SECRET not in v for values in request.query.values() for v in values)
    for path in setup.data.rglob("*"):
        if path.is_file() and path.name != "tokens.json":
            text = path.read_text(encoding="utf-8")
            assert KEY not in text and SECRET not in text and "1//refresh" not in text and "ya29." not in text, path


def test_round_trip_all_connected(make):
    setup = make()
    record = setup.pull()
    assert by_key(setup.rows("channel_report.csv"), "channel_id") == expected_channels(setup.world, DAY)
    assert by_key(setup.rows("video_report.csv"), "video_id") == by_key(
        setup.world.csv("youtube", "video_report.csv"), "video_id")
    assert {(a.access, a.status) for a in record.accounts} == {("creator", "ok")} and record.incomplete is None
    assert record.quota_used == setup.fake.units > 0
    assert CursorStore(setup.data, "youtube").get("quota") == {"day": "2026-11-03", "used": record.quota_used}
    assert (setup.data / "landing" / "youtube" / DAY.isoformat() / "_pull.json").exists()
    assert all(r.headers.get("x-goog-api-key") == KEY for r in setup.calls("channels"))
    assert_no_secret(setup)


def test_public_only_channels_leave_analytics_columns_empty(make, world_dir):
    first = channels(world_dir)[0]
    setup = make(connected=[first])
    record = setup.pull()
    want_ch, want_v = expected_channels(setup.world, DAY), by_key(setup.world.csv("youtube", "video_report.csv"),
                                                                  "video_id")
    for row in setup.rows("channel_report.csv"):
        cid = row["channel_id"]
        blank = {c: "" for c in ANALYTICS_CHANNEL} | {"access": "public"} if cid != first else {}
        assert row == {**want_ch[cid], **blank}
    for row in setup.rows("video_report.csv"):
        blank = {c: "" for c in ANALYTICS_VIDEO} if row["channel_id"] != first else {}
        assert row == {**want_v[row["video_id"]], **blank}  # public views/likes/comments equal the world's
    outcomes = {a.account_id: a for a in record.accounts}
    assert (outcomes[first].access, outcomes[first].status) == ("creator", "ok")
    public = [a for c, a in outcomes.items() if c != first]
    assert public and all((a.access, a.status) == ("public", "partial") for a in public)
    assert all("authorisation" in a.message and "shares" in a.message for a in public)
    assert not setup.calls("/token")[1:]  # only the connected creator's token was refreshed
    assert_no_secret(setup)


def test_small_pages_stop_at_the_tracking_window(make):
    setup = make(page_size=2)
    setup.pull()
    assert by_key(setup.rows("video_report.csv"), "video_id") == by_key(
        setup.world.csv("youtube", "video_report.csv"), "video_id")
    # pages needed: up to and including the first video older than 14 days, and never past it
    window = (datetime.combine(DAY, datetime.min.time()) - timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%SZ")
    known = {}
    for day in (START, START + timedelta(days=1), DAY):
        known.update(by_key(setup.world.csv("youtube", "video_report.csv", day), "video_id"))
    pages = 0
    for cid in channels(setup.world.landing_dir):
        stamps = sorted((v["published_at"] for v in known.values() if v["channel_id"] == cid), reverse=True)
        older = [i for i, s in enumerate(stamps) if s < window]
        pages += older[0] // 2 + 1 if older else max(1, -(-len(stamps) // 2))
    assert any(v["published_at"] < window for v in known.values())  # the stop rule is exercised
    assert len(setup.calls("playlistItems")) == pages


def test_quota_budget_stops_before_overspending(make):
    setup = make(quota=6)
    record = setup.pull()
    assert record.quota_used == setup.fake.units <= 6
    skipped = [a for a in record.accounts if a.status == "skipped"]
    assert skipped and all("budget is spent" in a.message and "midnight Pacific" in a.message for a in skipped)
    assert "budget is spent" in record.incomplete
    written = {r["channel_id"] for r in setup.rows("channel_report.csv")}
    assert written and written.isdisjoint(a.account_id for a in skipped)
    # the same Pacific day: the budget is shared between runs
    again = setup.pull(now=morning(DAY) + timedelta(hours=2))
    assert record.quota_used + again.quota_used <= 6
    # the next Pacific day (08:00 UTC is midnight PST): a fresh budget
    later = setup.pull(now=datetime(2026, 11, 4, 8, 30, tzinfo=timezone.utc))
    assert later.quota_used > 0


def test_quota_exceeded_403_ends_the_source(make):
    setup = make(quota=10_000)
    setup.fake.quota = 4  # Google's own count says the project's quota is spent after 4 units
    record = setup.pull()
    assert setup.fake.units == 4 and record.quota_used == 5  # counted before the call: a conservative budget
    assert any("quotaExceeded" in w for w in record.warnings) and "quotaExceeded" in record.incomplete
    skipped = [a for a in record.accounts if a.status == "skipped"]
    assert skipped and all("quota" in a.message for a in skipped)
    assert CursorStore(setup.data, "youtube").get("quota")["used"] == 10_000  # no retry before the reset
    assert len(setup.rows("channel_report.csv")) == len(record.accounts) - len(skipped)


def test_revoked_refresh_token_stops_that_channel_only(make, world_dir):
    revoked = channels(world_dir)[1]
    setup = make(revoked={revoked})
    record = setup.pull()
    outcomes = {a.account_id: a for a in record.accounts}
    assert outcomes[revoked].status == "stopped" and "reconnect" in outcomes[revoked].message
    assert "invalid_grant" in outcomes[revoked].message
    assert all((a.access, a.status) == ("creator", "ok") for c, a in outcomes.items() if c != revoked)
    row = by_key(setup.rows("channel_report.csv"), "channel_id")[revoked]
    assert row["channel_title"] and all(row[c] == "" for c in ANALYTICS_CHANNEL)  # public figures still land
    assert record.stopped == [outcomes[revoked]]
    assert_no_secret(setup)


def test_bad_api_key_stops_every_channel_without_leaking_it(make, world_dir):
    setup = make()
    setup.settings = setup.settings.model_copy(update={"youtube_api_key": SecretStr("AIzaWRONG-key-987654321")})
    record = setup.pull()
    assert record.accounts and all(a.status == "stopped" for a in record.accounts)
    assert all("INFLUENCE_YOUTUBE_API_KEY" in a.message and "AIzaWRONG" not in a.message for a in record.accounts)
    assert not (setup.data / "landing" / "youtube" / DAY.isoformat() / "video_report.csv").exists()


def test_restatement_fills_late_analytics_and_is_a_no_op_when_unchanged(make):
    prev = DAY - timedelta(days=1)
    setup = make(day=prev, analytics_until=prev - timedelta(days=2))  # no Analytics yet for report date prev - 1
    first = setup.pull(prev)
    assert all(r[c] == "" for r in setup.rows("channel_report.csv", prev) for c in ANALYTICS_CHANNEL)
    assert all(a.status == "partial" and "restatement" in a.message for a in first.accounts)
    setup.world.day, setup.fake.analytics_until = DAY, None  # a night later, YouTube has the figures
    record = setup.pull(DAY)
    assert record.files["2026-11-02/channel_report.csv"] == len(setup.rows("channel_report.csv", prev))
    assert by_key(setup.rows("channel_report.csv", prev), "channel_id") == expected_channels(setup.world, prev)
    assert by_key(setup.rows("video_report.csv", prev), "video_id") == by_key(
        setup.world.csv("youtube", "video_report.csv", prev), "video_id")
    path = setup.data / "landing" / "youtube" / prev.isoformat() / "channel_report.csv"
    stamp = path.stat().st_mtime_ns
    again = setup.pull(DAY, now=morning(DAY) + timedelta(hours=1))
    assert not [name for name in again.files if "/" in name]  # nothing changed: nothing rewritten
    assert path.stat().st_mtime_ns == stamp


def test_throttles_and_server_errors_are_retried(make):
    setup = make(failures=[(503, "backendError"), (403, "rateLimitExceeded"), (429, "rateLimitExceeded")])
    record = setup.pull()
    assert record.retries == 3 and not setup.fake.failures
    assert by_key(setup.rows("video_report.csv"), "video_id") == by_key(
        setup.world.csv("youtube", "video_report.csv"), "video_id")
    assert all(a.status == "ok" for a in record.accounts)


def test_stale_stored_access_token_is_refreshed_once(make, world_dir):
    setup = make()
    store = TokenStore.in_data_dir(setup.data)
    for cid in channels(world_dir):  # tokens Google no longer knows, not yet expired by their own clock
        store.put("youtube", cid, Token("ya29.stale-token", "2026-11-03T12:00:00+00:00", refresh(cid)))
    record = setup.pull()
    assert all(a.status == "ok" for a in record.accounts)
    assert len(setup.calls("/token")) == len(channels(world_dir))
    saved = store.get("youtube", channels(world_dir)[0])
    assert saved.access_token.startswith("ya29.fake-") and saved.refresh_token == refresh(channels(world_dir)[0])


def test_channel_unknown_to_the_data_api_is_stopped(make):
    setup = make()
    roster = setup.data / "landing" / "roster" / DAY.isoformat() / "social_accounts.csv"
    with roster.open("a", encoding="utf-8") as handle:
        handle.write("INF-9999,youtube,UCzzzzzzzzzzzzzzzzzzzzzz,@gone,travel,1K\n")
    record = setup.pull()
    outcome = {a.account_id: a for a in record.accounts}["UCzzzzzzzzzzzzzzzzzzzzzz"]
    assert outcome.status == "stopped" and "roster" in outcome.message
    assert "UCzzzzzzzzzzzzzzzzzzzzzz" not in {r["channel_id"] for r in setup.rows("channel_report.csv")}
    assert len(setup.rows("channel_report.csv")) == len(record.accounts) - 1


def tamper(setup: Setup, change) -> None:
    """Pass the fake's answers through `change(request, response) -> response`, to give one channel odd answers."""
    original = setup.fake.handle
    setup.fake.handle = lambda request: change(request, original(request))


def test_odd_answers_cost_their_own_channel_only(make, world_dir):
    odd_video, odd_list, odd_token = channels(world_dir)[:3]

    def change(request, response):
        if request.path.endswith("/videos"):  # a video without its publication time: a KeyError in the mapping
            for item in response.body["items"]:
                if item["snippet"]["channelId"] == odd_video:
                    del item["snippet"]["publishedAt"]
        if request.arg("playlistId") == "UU" + odd_list[2:]:
            return FakeResponse(200, ["a", "list"])
        if request.path == "/oauth/token" and request.form().get("refresh_token") == refresh(odd_token):
            return FakeResponse(200, {"token_type": "Bearer"})  # no access_token
        return response

    setup = make()
    tamper(setup, change)
    record = setup.pull()  # the run goes on: nothing escapes, the accounts already read land
    outcomes = {a.account_id: a for a in record.accounts}
    assert (outcomes[odd_video].status, outcomes[odd_list].status) == ("failed", "failed")
    assert "KeyError 'publishedAt'" in outcomes[odd_video].message and "got list" in outcomes[odd_list].message
    assert outcomes[odd_token].status == "partial" and "no access_token" in outcomes[odd_token].message
    assert all(a.status == "ok" for c, a in outcomes.items() if c not in (odd_video, odd_list, odd_token))
    assert {r["channel_id"] for r in setup.rows("channel_report.csv")} == set(channels(world_dir)) - {
        odd_video, odd_list}
    assert (setup.data / "landing" / "youtube" / DAY.isoformat() / "_pull.json").exists()


def test_a_rerun_of_the_day_keeps_the_channels_it_did_not_read(make, world_dir):
    lost, again, revoked = channels(world_dir)[:3]
    setup = make()
    setup.pull()
    with (setup.data / "landing" / "youtube" / DAY.isoformat() / "video_report.csv").open("a") as handle:
        handle.write(f"2026-11-02,{again},gone-video,2026-11-01T00:00:00Z,gone,false,1,1,1,1\n")  # left the window
    tamper(setup, lambda request, response: google_error(404, "playlistNotFound", "gone") if request.arg(
        "playlistId") == "UU" + lost[2:] else response)
    setup.fake.revoked.add(revoked)  # public figures only this time: the first run's Analytics figures stay
    record = setup.pull(now=morning(DAY) + timedelta(hours=1))
    status = {a.account_id: a.status for a in record.accounts}
    assert (status[lost], status[revoked]) == ("failed", "stopped")
    # the lost channel keeps the first run's rows; a channel read again replaces its own, stale video included
    assert by_key(setup.rows("channel_report.csv"), "channel_id") == expected_channels(setup.world, DAY)
    videos = setup.rows("video_report.csv")
    assert by_key(videos, "video_id") == by_key(setup.world.csv("youtube", "video_report.csv"), "video_id")
    assert len(videos) == len(setup.world.csv("youtube", "video_report.csv"))


def test_analytics_reads_the_roster_channel_not_the_logins_default(make, world_dir):
    wrong, _, one, two = channels(world_dir)[:4]
    setup = make(connected=[])
    store = TokenStore.in_data_dir(setup.data)
    store.put("youtube", wrong, Token("", refresh_token=refresh(channels(world_dir)[1])))  # another channel's login
    setup.fake.refresh_tokens[two] = refresh(one)  # one Google login owning two roster channels
    for cid in (one, two):
        store.put("youtube", cid, Token("", refresh_token=refresh(one)))
    record = setup.pull()
    outcomes = {a.account_id: a for a in record.accounts}
    assert outcomes[wrong].status == "stopped" and record.stopped == [outcomes[wrong]]
    assert f"does not own channel {wrong}: ask the creator to reconnect" in outcomes[wrong].message
    assert all((outcomes[c].access, outcomes[c].status) == ("creator", "ok") for c in (one, two))
    rows, want = by_key(setup.rows("channel_report.csv"), "channel_id"), expected_channels(setup.world, DAY)
    assert all(rows[wrong][c] == "" for c in ANALYTICS_CHANNEL)  # no other channel's figures under it
    assert (rows[one], rows[two]) == (want[one], want[two])
    mine = [r for r in setup.world.csv("youtube", "video_report.csv") if r["channel_id"] in (one, two)]
    assert [r for r in setup.rows("video_report.csv") if r["channel_id"] in (one, two)] == mine
    assert {r.query["ids"][0] for r in setup.calls("reports")} == {f"channel=={c}" for c in (wrong, one, two)}


def test_a_channels_batch_that_keeps_failing_costs_its_own_channels(make, world_dir, monkeypatch):
    monkeypatch.setattr(youtube, "PAGE", 5)  # the 13 channels in batches of 5, 5 and 3
    ids = channels(world_dir)
    bad = set(ids[5:10])
    setup = make()
    tamper(setup, lambda request, response: google_error(503, "backendError", "down") if request.path.endswith(
        "/channels") and bad & set((request.arg("id") or "").split(",")) else response)
    record = setup.pull()
    outcomes = {a.account_id: a for a in record.accounts}
    assert {c for c, a in outcomes.items() if a.status == "failed"} == bad and record.incomplete is None
    assert all("503" in outcomes[c].message for c in bad)
    assert all(a.status == "ok" for c, a in outcomes.items() if c not in bad)
    assert {r["channel_id"] for r in setup.rows("channel_report.csv")} == set(ids) - bad
