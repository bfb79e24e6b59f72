"""The pulls' shared core against a real local HTTP server: retries, error kinds, secrets kept out of messages, state
files, landing writers, the roster's accounts and the default pull day."""
import json
import logging
import os
import stat
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest

from influence_pipeline.fake_api.server import FakeApiServer, FakeResponse
from influence_pipeline.sources.api.accounts import RosterMissing, roster_accounts
from influence_pipeline.sources.api.client import (
    AccessError,
    ApiClient,
    PullError,
    RetryPolicy,
    TransientError,
    redact,
    strip_secret_params,
)
from influence_pipeline.sources.api.landing_out import (
    PullRecord,
    merge_ndjson,
    read_ndjson,
    read_pull_record,
    write_pull_record,
)
from influence_pipeline.sources.api.state import CursorStore, Token, TokenStore
from influence_pipeline.transforms.windows import default_pull_date

SECRET = "EAAGm0PX4ZCpsBAKZCZAsecretvalue42"


class Scripted:
    """Answers each path from a list of responses, the last one repeating."""

    prefix = "/p"

    def __init__(self, script: dict[str, list[FakeResponse]]):
        self.script = script

    def handle(self, request):
        answers = self.script[request.path]
        return answers.pop(0) if len(answers) > 1 else answers[0]


def _client(server, **kwargs):
    return ApiClient("test", server.base_url("/p"), headers={"Authorization": f"Bearer {SECRET}"}, secrets=[SECRET],
                     policy=RetryPolicy.fast(), **kwargs)


def test_transient_errors_are_retried_until_success_and_counted():
    script = {"/x": [FakeResponse(429, {}, {"retry-after": "0"}), FakeResponse(503, {}), FakeResponse(200, {"n": 1})]}
    with FakeApiServer([Scripted(script)]) as server, _client(server) as client:
        body, _ = client.get("/x")
    assert body == {"n": 1}
    assert client.stats.requests == 3 and client.stats.retries == 2
    assert [r.status for r in server.requests] == [429, 503, 200]


def test_retries_end_with_the_last_error_when_the_platform_never_recovers():
    with FakeApiServer([Scripted({"/x": [FakeResponse(500, {})]})]) as server, _client(server) as client:
        with pytest.raises(TransientError, match="HTTP 500"):
            client.get("/x")
    assert len(server.requests) == RetryPolicy.fast().attempts


def test_access_errors_are_not_retried_and_name_no_secret():
    with FakeApiServer([Scripted({"/me": [FakeResponse(401, {"error": "expired"})]})]) as server, \
            _client(server) as client:
        with pytest.raises(AccessError) as caught:
            client.get("/me", params={"access_token": SECRET})
    assert len(server.requests) == 1
    assert SECRET not in str(caught.value) and "test GET /me: HTTP 401" in str(caught.value)


def test_credentials_travel_in_headers_and_messages_are_redacted(caplog):
    caplog.set_level(logging.DEBUG)
    with FakeApiServer([Scripted({"/x": [FakeResponse(400, {})]})]) as server, _client(server) as client:
        with pytest.raises(PullError) as caught:
            client.get("/x")
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert server.requests[0].query == {}
    assert SECRET not in str(caught.value) and SECRET not in caplog.text


def test_a_dropped_connection_is_transient_and_redacted():
    client = ApiClient("test", "http://127.0.0.1:9", secrets=[SECRET], policy=RetryPolicy.fast())
    with pytest.raises(TransientError) as caught:
        client.get(f"/x?access_token={SECRET}")
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("text", [
    f"https://graph.facebook.com/v24.0/1/media?after=QVF&access_token={SECRET}",
    f"Authorization: Bearer {SECRET}",
    f"refresh_token={SECRET}&grant_type=refresh_token",
])
def test_redact_removes_every_credential_form(text):
    assert SECRET not in redact(text)
    assert redact(f"said {SECRET} in passing", [SECRET]) == "said *** in passing"


def test_paging_urls_lose_their_token_but_keep_their_cursor():
    url = strip_secret_params(f"https://graph.facebook.com/v24.0/1/media?limit=25&after=QVFa&access_token={SECRET}")
    assert SECRET not in url and httpx.URL(url).params["after"] == "QVFa" and httpx.URL(url).params["limit"] == "25"


def test_token_store_is_private_atomic_and_never_prints_a_token(tmp_path):
    store = TokenStore.in_data_dir(tmp_path)
    store.put("tiktok", "glowbyjane", Token(SECRET, "2026-11-02T03:00:00+00:00", refresh_token="r-" + SECRET))
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    token = store.get("tiktok", "glowbyjane")
    assert token.access_token == SECRET and SECRET not in repr(token)
    assert token.expires_within(datetime(2026, 11, 1, 4, tzinfo=timezone.utc), days=1)
    assert not token.expired(datetime(2026, 11, 1, 4, tzinfo=timezone.utc))
    assert store.accounts("tiktok") == ["glowbyjane"] and store.get("tiktok", "other") is None
    assert not [p for p in store.path.parent.iterdir() if p.name.startswith(".tmp-")]


def test_cursor_store_keeps_other_keys(tmp_path):
    cursors = CursorStore(tmp_path, "shopify")
    cursors.put(updated_at="2026-11-01T00:00:00Z")
    cursors.put(pending=[1, 2])
    assert cursors.read() == {"updated_at": "2026-11-01T00:00:00Z", "pending": [1, 2]}


def test_merge_keeps_what_an_earlier_pull_saw(tmp_path):
    path = tmp_path / "media.ndjson"
    merge_ndjson(path, [{"id": "1", "reach": 5}, {"id": "2", "reach": 7}], key="id")
    merge_ndjson(path, [{"id": "2", "reach": 9}, {"id": "3", "reach": 1}], key="id")
    assert sorted(read_ndjson(path), key=lambda r: r["id"]) == [
        {"id": "1", "reach": 5}, {"id": "2", "reach": 9}, {"id": "3", "reach": 1}]


def test_pull_record_keeps_the_earlier_pulls_of_a_day(tmp_path):
    for hour in ("02", "06", "10"):
        write_pull_record(tmp_path, PullRecord("instagram", "2026-11-02", "v24.0", f"2026-11-02T{hour}:00:00+0000"))
    record = read_pull_record(tmp_path, "instagram", date(2026, 11, 2))
    assert record["pulls"] == 3 and record["source"] == "instagram" and record["fetched_at"].startswith("2026-11-02T10")
    assert [r["fetched_at"][11:13] for r in record["earlier"]] == ["06", "02"]
    assert all("earlier" not in r for r in record["earlier"])


def test_token_store_updates_from_two_processes_keep_both(tmp_path):
    import multiprocessing

    store = TokenStore.in_data_dir(tmp_path)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_put_many, args=(store.path, platform)) for platform in ("tiktok", "youtube")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert len(store.accounts("tiktok")) == len(store.accounts("youtube")) == 40


def _put_many(path, platform):
    store = TokenStore(path)
    for n in range(40):
        store.put(platform, f"a{n}", Token(f"t{n}"))


def test_roster_accounts_take_the_latest_roster_and_normalise_platforms(tmp_path):
    for day, rows in (("2026-11-01", "INF-1,IG,111,@old,beauty,1K\n"),
                      ("2026-11-02", "INF-1,Instagram ,111,@jane,beauty,1K\nINF-2,TT,jane,@jane,x,1\n"
                                     "INF-3,instagram,,@none,x,1\nINF-4,myspace,9,@t,x,1\n")):
        folder = tmp_path / "roster" / day
        folder.mkdir(parents=True)
        (folder / "social_accounts.csv").write_text(
            "influencer_id,platform,platform_account_id,handle,niche,followers\n" + rows)
    accounts = roster_accounts(tmp_path, date(2026, 11, 5), "instagram")
    assert [(a.account_id, a.handle) for a in accounts] == [("instagram:111", "jane")]
    assert [a.handle for a in roster_accounts(tmp_path, date(2026, 11, 1), "instagram")] == ["old"]
    with pytest.raises(RosterMissing):
        roster_accounts(tmp_path, date(2026, 10, 31), "instagram")


def test_default_pull_day_is_today_for_snapshots_and_yesterday_for_the_shop():
    now = datetime(2026, 11, 2, 1, 30, tzinfo=timezone.utc)  # still 1 November in New York
    zone = ZoneInfo("America/New_York")
    assert default_pull_date("instagram", None, zone, now) == date(2026, 11, 1)
    assert default_pull_date("shopify", None, zone, now) == date(2026, 10, 31)
    assert default_pull_date("youtube", now, ZoneInfo("UTC"), now) == date(2026, 11, 2)


def test_fake_server_reports_its_own_bugs_as_500():
    class Broken:
        prefix = "/b"

        def handle(self, request):
            raise KeyError("oops")

    with FakeApiServer([Broken()]) as server:
        response = httpx.get(server.base_url("/b") + "/x")
    assert response.status_code == 500 and "KeyError" in json.loads(response.text)["error"]
