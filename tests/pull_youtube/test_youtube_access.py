"""YouTube credentials and channels: a revoked refresh token, a bad API key, a stale stored access token, a channel the
Data API does not know, and Analytics read for the roster channel, not the login's default."""
from __future__ import annotations

from pydantic import SecretStr

from influence_pipeline.sources.api.state import Token, TokenStore
from tests.pull_youtube.helpers import (
    ANALYTICS_CHANNEL,
    DAY,
    assert_no_secret,
    by_key,
    channels,
    expected_channels,
    refresh,
)


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
