"""Settings of the pulls, read from the environment once, at the start of a pull (never at import).

Base URLs default to the platforms' own; tests and the demo point them at a local server. Secrets (the brand's
tokens, app credentials, the Shopify token) come from the environment, which a deployment fills from Prefect Secret
blocks (`influence prefect-setup`); creators' tokens live in the token store (sources.api.state.TokenStore).
"""
from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from influence_pipeline.settings import SettingsError

SOURCES = ("instagram", "tiktok", "youtube", "shopify")


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INFLUENCE_", extra="ignore")

    data_dir: Path = Path("data")
    token_store: Path | None = None  # default: $INFLUENCE_DATA_DIR/state/tokens.json

    # Instagram Graph API (Instagram API with Facebook Login): the brand's own business account reads creators'
    # public stats through Business Discovery; creators who connected are read with their own tokens.
    instagram_api_base_url: str = "https://graph.facebook.com"
    instagram_api_version: str = "v24.0"
    instagram_access_token: SecretStr | None = None  # the brand's long-lived user token
    instagram_business_account_id: str | None = None  # the brand's IG user id, the one Business Discovery asks from

    # TikTok API for Business (accounts of creators who authorised the brand's app; tokens rotate daily)
    tiktok_api_base_url: str = "https://business-api.tiktok.com"
    tiktok_api_version: str = "v1.3"
    tiktok_app_id: str | None = None
    tiktok_app_secret: SecretStr | None = None

    # YouTube Data API v3 (public, API key) and YouTube Analytics API v2 (a creator's OAuth token)
    youtube_api_base_url: str = "https://www.googleapis.com"
    youtube_analytics_base_url: str = "https://youtubeanalytics.googleapis.com"
    youtube_oauth_token_url: str = "https://oauth2.googleapis.com/token"
    youtube_api_key: SecretStr | None = None
    youtube_daily_quota: int = 10_000  # Data API units a day (Google's default allocation)
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None

    # Shopify Admin GraphQL API
    shopify_api_base_url: str | None = None  # https://<shop>.myshopify.com
    shopify_api_version: str = "2025-10"
    shopify_access_token: SecretStr | None = None
    shopify_client_id: str | None = None
    shopify_client_secret: SecretStr | None = None

    pull_fast_retries: bool = False  # millisecond backoff, for the local fake server only
    token_expiry_warning_days: int = 7

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def token_store_path(self) -> Path:
        return self.token_store or self.data_dir / "state" / "tokens.json"

    def secret(self, name: str) -> str | None:
        value = getattr(self, name)
        return None if value is None else value.get_secret_value() or None

    def require(self, source: str) -> None:
        """Fail at start, naming every missing setting, rather than after the first accounts were pulled."""
        needed = {
            "instagram": ["instagram_access_token", "instagram_business_account_id"],
            "tiktok": ["tiktok_app_id", "tiktok_app_secret"],
            "youtube": ["youtube_api_key"],
            "shopify": ["shopify_api_base_url", "shopify_access_token"],
        }[source]
        missing = [f"INFLUENCE_{n.upper()}" for n in needed if getattr(self, n) in (None, "")
                   or (isinstance(getattr(self, n), SecretStr) and not getattr(self, n).get_secret_value())]
        if missing:
            raise SettingsError(f"pulling {source} needs {', '.join(missing)} (set in the environment, or as Secret "
                                "blocks through `influence prefect-setup` for deployments)")
