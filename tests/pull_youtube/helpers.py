"""Shared helpers of the YouTube pull tests: the sample day, a fake YouTube with a pull data dir over it, the world's
rows as the pull gives them back, odd answers, and the check that no key or token leaked."""
from __future__ import annotations

import csv
import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from influence_pipeline.fake_api.server import FakeApiServer, SampleWorld
from influence_pipeline.fake_api.youtube import FakeYouTube, three_figures
from influence_pipeline.sources.api.accounts import roster_accounts
from influence_pipeline.sources.api.config import ApiSettings
from influence_pipeline.sources.api.pull import pull_source
from influence_pipeline.sources.api.state import Token, TokenStore

START, DAY = date(2026, 11, 1), date(2026, 11, 3)
KEY, CLIENT, SECRET = "AIzaFAKE-brand-key-0123456789", "fake-client-id", "fake-client-secret-xyz"
ANALYTICS_CHANNEL = ("subscribers_gained", "subscribers_lost", "views")
ANALYTICS_VIDEO = ("is_short", "shares")


def morning(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), timezone.utc) + timedelta(hours=9)  # 01:00 Pacific


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


def tamper(setup: Setup, change) -> None:
    """Pass the fake's answers through `change(request, response) -> response`, to give one channel odd answers."""
    original = setup.fake.handle
    setup.fake.handle = lambda request: change(request, original(request))
