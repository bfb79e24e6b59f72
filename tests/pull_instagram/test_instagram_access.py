"""Instagram access: expired and revoked creator tokens, public-only accounts read through Business Discovery, and a
handle Business Discovery cannot find."""
from __future__ import annotations

from influence_pipeline.sources.api.accounts import roster_accounts
from influence_pipeline.sources.api.pull import pull_source
from tests.pull_instagram.helpers import (
    BRAND_ID,
    DS,
    NOW,
    _assert_round_trip,
    _bag,
    _expected,
    _ids,
    _no_secret_anywhere,
    _pulled,
    _pulling,
    _token,
)


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
