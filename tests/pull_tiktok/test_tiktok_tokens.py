"""TikTok tokens: refresh with rotation (the rotated token saved before use, and kept after a simulated crash), refresh
before expiry, revoked and under-scoped authorisations, a lost refresh answer, hand-entered expiries, and no token
anywhere it could leak."""
from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest

from influence_pipeline.sources.api.state import TokenStore
from tests.pull_tiktok.helpers import APP_ID, APP_SECRET, NOW, assert_no_secret, usernames


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
