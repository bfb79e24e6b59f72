"""Shared helpers of the TikTok pull tests: the sample day, a pull's data dir wired to the fake Business API, records
compared without the pull's stamps, and the check that no token leaked."""
from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path

from influence_pipeline.fake_api.server import FakeApiServer, SampleWorld
from influence_pipeline.fake_api.tiktok import FakeTikTok, token_for
from influence_pipeline.sources.api.client import RetryPolicy
from influence_pipeline.sources.api.config import ApiSettings
from influence_pipeline.sources.api.landing_out import read_ndjson, read_pull_record
from influence_pipeline.sources.api.state import TokenStore
from influence_pipeline.sources.api.tiktok import pull

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


def assert_no_secret(s: Setup, record, caplog) -> None:
    pull_json = read_pull_record(s.settings.landing_dir, "tiktok", DAY) or {}
    folder = s.settings.landing_dir / "tiktok"
    texts = [json.dumps(asdict(record)), json.dumps(pull_json), caplog.text,
             *(p.read_text() for p in folder.rglob("*") if p.is_file())]
    for secret in s.every_token() | {APP_SECRET}:
        assert not [t for t in texts if secret in t], "a token leaked"
