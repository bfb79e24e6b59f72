"""Instagram rate limits, quota and errors: a rate limit then success, a long Business Use Case wait, a rate limit
outlasting the retries, Graph API errors sorted by what a human must do, and an unreadable answer."""
from __future__ import annotations

import json

from influence_pipeline.fake_api.server import FakeResponse
from influence_pipeline.sources.api import instagram_map as ig_map
from influence_pipeline.sources.api.client import AccessError, QuotaExhausted, TransientError
from influence_pipeline.sources.api.pull import pull_source
from tests.pull_instagram.helpers import DS, NOW, _answer, _assert_round_trip, _err, _ids, _pulling


def test_rate_limit_then_success(tmp_path, world_dir):
    ids = set(_ids(world_dir))
    with _pulling(tmp_path, world_dir, rate_limit_next=3, usage_pct=91) as (settings, fake, server):
        record = pull_source("instagram", settings, DS, now=NOW)
        _assert_round_trip(settings, world_dir, ids)
        assert record.retries == 3
        assert sum(r.status == 400 and not r.path.endswith("/insights") for r in server.requests) == 3
        assert {a.status for a in record.accounts} == {"ok"}
        assert any("91 % of call_count" in w for w in record.warnings)


def test_a_long_business_use_case_wait_exhausts_the_quota(tmp_path, world_dir):
    with _pulling(tmp_path, world_dir, rate_limit_next=10_000, rate_limit_wait_minutes=30) as (settings, fake, server):
        record = pull_source("instagram", settings, DS, now=NOW)
        assert len(server.requests) == 1 and record.retries == 0  # no retry can succeed before access returns
        assert {a.status for a in record.accounts} == {"skipped"}
        assert all("quota exhausted" in a.message and "30 min" in a.message for a in record.accounts)
        assert record.incomplete.startswith("quota exhausted")


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


def test_a_rate_limit_outlasting_the_retries_stops_the_source(tmp_path, world_dir):
    with _pulling(tmp_path, world_dir, rate_limit_next=10_000) as (settings, fake, server):
        record = pull_source("instagram", settings, DS, now=NOW)
        first, *rest = record.accounts
        assert first.status == "failed" and "rate limit" in first.message
        assert rest and {a.status for a in rest} == {"skipped"}
        assert all(a.message == record.incomplete for a in rest) and "rate limited" in record.incomplete
        assert len(server.requests) == record.requests <= 6  # one account's retries, not every account's
