"""YouTube limits and faults: the daily quota budget, `quotaExceeded`, throttles and server errors retried, odd answers
and a failing channels batch costing their own channels only."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from influence_pipeline.fake_api.server import FakeResponse
from influence_pipeline.fake_api.youtube import google_error
from influence_pipeline.sources.api import youtube
from influence_pipeline.sources.api.state import CursorStore
from tests.pull_youtube.helpers import DAY, by_key, channels, morning, refresh, tamper


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


def test_throttles_and_server_errors_are_retried(make):
    setup = make(failures=[(503, "backendError"), (403, "rateLimitExceeded"), (429, "rateLimitExceeded")])
    record = setup.pull()
    assert record.retries == 3 and not setup.fake.failures
    assert by_key(setup.rows("video_report.csv"), "video_id") == by_key(
        setup.world.csv("youtube", "video_report.csv"), "video_id")
    assert all(a.status == "ok" for a in record.accounts)


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
