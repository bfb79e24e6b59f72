"""YouTube pull against the fake Data API / Analytics / token endpoint, served from sample landing files: round trip,
public-only channels, paging and the tracking window, restatement of late Analytics, and a rerun of the day."""
from __future__ import annotations

from datetime import datetime, timedelta

from influence_pipeline.fake_api.youtube import google_error
from influence_pipeline.sources.api.state import CursorStore
from tests.pull_youtube.helpers import (
    ANALYTICS_CHANNEL,
    ANALYTICS_VIDEO,
    DAY,
    KEY,
    START,
    assert_no_secret,
    by_key,
    channels,
    expected_channels,
    morning,
    tamper,
)


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
