"""Shared helpers of the Instagram pull tests: the sample day, a pull set up against the fake Graph API (a real HTTP
server on 127.0.0.1), the world's records to compare with, the leak check, and Graph API error answers."""
from __future__ import annotations

import json
import shutil
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path

import httpx

from influence_pipeline.fake_api.instagram import FakeInstagram
from influence_pipeline.fake_api.server import FakeApiServer, SampleWorld
from influence_pipeline.sources.api import instagram_map as ig_map
from influence_pipeline.sources.api.accounts import roster_accounts
from influence_pipeline.sources.api.config import ApiSettings
from influence_pipeline.sources.api.landing_out import read_ndjson
from influence_pipeline.sources.api.state import Token, TokenStore

DS = date(2026, 11, 3)
NOW = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
STAMP = "2026-11-03T02:00:00+0000"
BRAND_TOKEN = "brand-secret-EAAB1234567890"
BRAND_ID = "17841400000000001"
FILES = ("users.ndjson", "media.ndjson", "media_insights.ndjson", "story_insights.ndjson")


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


def _answer(body: dict, status: int = 400, headers: dict | None = None):
    response = httpx.Response(status, json=body, headers=headers or {})
    return ig_map.graph_error(response, response.json())


def _err(code: int, sub: int | None = None, message: str = "x") -> dict:
    return {"error": {"message": message, "type": "OAuthException", "code": code, "error_subcode": sub,
                      "fbtrace_id": "A"}}
