"""All four fake platforms over one sample world, with creators connected: what `influence demo --pull` and the
end-to-end pull test run against.

The world is a sample landing dir (the platforms' truth). Pulling a day fills another data dir's landing folders the
way production does: the roster, web events and signups arrive as files (a CRM export, the tracker, the e-mail
platform), the platforms' and the shop's data through their APIs.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from influence_pipeline.fake_api.instagram import FakeInstagram
from influence_pipeline.fake_api.server import FakeApiServer, SampleWorld
from influence_pipeline.fake_api.shopify import FakeShopify
from influence_pipeline.fake_api.tiktok import FakeTikTok
from influence_pipeline.fake_api.youtube import FakeYouTube
from influence_pipeline.sources.api.accounts import roster_accounts
from influence_pipeline.sources.api.config import ApiSettings
from influence_pipeline.sources.api.landing_out import PullRecord
from influence_pipeline.sources.api.pull import pull_source
from influence_pipeline.sources.api.state import Token, TokenStore

#: Landing folders that production receives as files, not through a pull.
DELIVERED = ("roster", "web_events", "signups")
#: When each pull runs, relative to the landing day it fills (the sample's fetch times; the shop's day is complete
#: after midnight).
PULL_TIMES = {"instagram": timedelta(hours=2), "tiktok": timedelta(hours=3), "youtube": timedelta(hours=2, minutes=20),
              "shopify": timedelta(days=1, minutes=30)}
BRAND_IG_TOKEN, BRAND_IG_ID, YT_KEY, SHOP_TOKEN = "demo-brand-token", "17840000000000000", "demo-yt-key", "shpat_demo"
GOOGLE_ID, GOOGLE_SECRET, TIKTOK_APP, TIKTOK_SECRET = "demo-google-client", "demo-google-secret", "demo-app", "demo-app-secret"


@dataclass
class SampleApis:
    server: FakeApiServer
    world: SampleWorld
    settings: ApiSettings
    public: dict[str, list[str]] = field(default_factory=dict)  # platform -> accounts read without a creator token
    delivered_dir: Path | None = None  # where the delivered files come from (default: the world)

    def pull_day(self, day: date) -> list[PullRecord]:
        """Deliver the day's files and pull every source for `day`, each at its usual time."""
        landing = self.settings.landing_dir
        for folder in DELIVERED:
            source = (self.delivered_dir or self.world.landing_dir) / folder / day.isoformat()
            if source.exists():
                shutil.copytree(source, landing / folder / day.isoformat(), dirs_exist_ok=True)
        self.world.day = day
        start = datetime.combine(day, time(), timezone.utc)
        return [pull_source(source, self.settings, day, now=start + offset) for source, offset in PULL_TIMES.items()]


def _connect(store: TokenStore, tiktok: FakeTikTok, landing: Path, day: date, now: datetime,
             public_every: int) -> tuple[dict[str, str], dict[str, str], dict[str, list[str]]]:
    """Connect the roster's creators: every `public_every`-th Instagram and YouTube account stays public (0: none);
    all TikTok creators connect, since TikTok has no public route for a brand."""
    public: dict[str, list[str]] = {"instagram": [], "youtube": []}
    ig_tokens, yt_refresh = {}, {}
    for platform, tokens in (("instagram", ig_tokens), ("youtube", yt_refresh)):
        for n, account in enumerate(roster_accounts(landing, day, platform)):
            native = account.platform_account_id
            if public_every and n % public_every == public_every - 1:
                public[platform].append(native)
                continue
            tokens[native] = f"demo-{platform}-{n}"
            token = (Token(tokens[native], (now + timedelta(days=60)).isoformat()) if platform == "instagram"
                     else Token(access_token="", refresh_token=tokens[native]))
            store.put(platform, native, token)
    tiktok.connect_into(store, [a.platform_account_id for a in roster_accounts(landing, day, "tiktok")], now)
    return ig_tokens, yt_refresh, public


@contextmanager
def sample_apis(world_dir: Path, data_dir: Path, first_day: date, public_every: int = 0,
                delivered_dir: Path | None = None) -> Iterator[SampleApis]:
    """Serve the sample landing dir `world_dir` through the four fake APIs, with the creators of its first day's
    roster connected in `data_dir`'s token store, and settings pointing the pulls at the server. The world must be
    clean (`dirty_rate` 0): an API answers with whole records, never an export's truncated line; the delivered files
    (roster, web events, signups) may come with their defects from `delivered_dir`, a sample of the same seed."""
    world = SampleWorld(world_dir, first_day)
    roster = world_dir / "roster" / first_day.isoformat()
    shutil.copytree(roster, data_dir / "landing" / "roster" / first_day.isoformat(), dirs_exist_ok=True)
    store = TokenStore.in_data_dir(data_dir)
    tiktok = FakeTikTok(world, app_id=TIKTOK_APP, app_secret=TIKTOK_SECRET)
    now = datetime.combine(first_day, time(), timezone.utc)
    ig_tokens, yt_refresh, public = _connect(store, tiktok, data_dir / "landing", first_day, now, public_every)
    fakes = [FakeInstagram(world, brand_token=BRAND_IG_TOKEN, brand_id=BRAND_IG_ID, creator_tokens=ig_tokens),
             tiktok,
             FakeYouTube(world, api_key=YT_KEY, client_id=GOOGLE_ID, client_secret=GOOGLE_SECRET,
                         refresh_tokens=yt_refresh),
             FakeShopify(world, access_token=SHOP_TOKEN)]
    with FakeApiServer(fakes) as server:
        settings = ApiSettings(
            data_dir=data_dir, pull_fast_retries=True,
            instagram_api_base_url=server.base_url("/instagram"), instagram_access_token=BRAND_IG_TOKEN,
            instagram_business_account_id=BRAND_IG_ID,
            tiktok_api_base_url=server.base_url("/tiktok"), tiktok_app_id=TIKTOK_APP, tiktok_app_secret=TIKTOK_SECRET,
            youtube_api_base_url=server.base_url("/youtube/data"),
            youtube_analytics_base_url=server.base_url("/youtube/analytics"),
            youtube_oauth_token_url=server.base_url("/youtube/oauth") + "/token", youtube_api_key=YT_KEY,
            google_client_id=GOOGLE_ID, google_client_secret=GOOGLE_SECRET,
            shopify_api_base_url=server.base_url("/shopify"), shopify_access_token=SHOP_TOKEN)
        yield SampleApis(server, world, settings, public, delivered_dir)
