"""Arrow schemas of the raw layer: one table per landing file, as delivered.

Raw columns are strings on purpose: a raw table keeps each value exactly as the export sent it ("12x" stays "12x"), so
staging can cast it and a bad value can be quarantined with its original text. Two exceptions, both deliberate:
nested JSON (order discount codes, refunds) is kept as compact JSON text, and PII never lands in clear — it is
replaced at ingestion by a keyed HMAC in a `<field>_hash` column.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

#: Load metadata on every raw row: where it came from and which run loaded it.
LOAD_METADATA = pa.schema(
    [
        ("_source_file", pa.string()),  # path relative to the landing dir
        ("_row_number", pa.int64()),  # 1-based line number in that file (CSV: the header is line 1)
        ("_run_id", pa.string()),
        ("_parse_error", pa.string()),  # set when the line could not be parsed; the fields are then null
        ("_raw_line", pa.string()),  # the unparseable line, PII-looking substrings masked; null otherwise
    ]
)
PARTITION_COLUMN = "landing_date"


@dataclass(frozen=True)
class RawField:
    name: str  # raw column name
    path: tuple[str, ...] = ()  # JSON path; defaults to (name,)
    pii: bool = False  # hashed at ingestion into `<name>_hash`
    nested: bool = False  # a JSON array/object: always kept as JSON text, even when a bad export sends a scalar

    @property
    def json_path(self) -> tuple[str, ...]:
        return self.path or (self.name,)

    @property
    def column(self) -> str:
        return f"{self.name}_hash" if self.pii else self.name


@dataclass(frozen=True)
class RawDataset:
    name: str  # raw table name, e.g. "instagram_media"
    source: str  # landing folder
    file: str  # file name inside landing/<source>/<date>/
    fields: tuple[RawField, ...] = field(default_factory=tuple)

    @property
    def fmt(self) -> str:
        return "csv" if self.file.endswith(".csv") else "ndjson"

    @property
    def columns(self) -> list[str]:
        return [f.column for f in self.fields]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([(c, pa.string()) for c in self.columns] + list(LOAD_METADATA))


def _fields(*specs: str | RawField) -> tuple[RawField, ...]:
    return tuple(s if isinstance(s, RawField) else RawField(s) for s in specs)


def _pii(name: str, *path: str) -> RawField:
    return RawField(name, tuple(path), pii=True)


def _nested(name: str) -> RawField:
    return RawField(name, nested=True)


DATASETS: tuple[RawDataset, ...] = (
    RawDataset("roster_influencers", "roster", "influencers.csv",
               _fields("influencer_id", "full_name", _pii("email"), "country", "signed_on")),
    RawDataset("roster_social_accounts", "roster", "social_accounts.csv",
               _fields("influencer_id", "platform", "platform_account_id", "handle", "niche", "followers")),
    RawDataset("roster_campaigns", "roster", "campaigns.csv",
               _fields("campaign_id", "campaign_name", "brand", "influencer_id", "start_date", "end_date", "fee",
                       "currency", "gifted_product_cost", "commission_rate")),
    RawDataset("roster_tracking_links", "roster", "tracking_links.csv",
               _fields("link_id", "campaign_id", "influencer_id", "url", "utm_source", "utm_medium", "utm_campaign",
                       "utm_content")),
    RawDataset("roster_discount_codes", "roster", "discount_codes.csv",
               _fields("code", "influencer_id", "campaign_id", "discount_pct", "valid_from", "valid_to")),
    RawDataset("instagram_users", "instagram", "users.ndjson",
               _fields("id", "username", "followers_count", "follows_count", "media_count", "fetched_at")),
    RawDataset("instagram_media", "instagram", "media.ndjson",
               _fields("id", RawField("owner_id", ("owner", "id")), "media_type", "media_product_type", "timestamp",
                       "caption", "permalink", "like_count", "comments_count", "fetched_at")),
    RawDataset("instagram_media_insights", "instagram", "media_insights.ndjson",
               _fields("media_id", "reach", "saved", "shares", "views", "impressions")),
    RawDataset("instagram_story_insights", "instagram", "story_insights.ndjson",
               _fields("media_id", "reach", "replies", "shares", "link_clicks")),
    RawDataset("tiktok_user_info", "tiktok", "user_info.ndjson",
               _fields("username", "display_name", "follower_count", "following_count", "likes_count",
                       "video_count", "fetched_at")),
    RawDataset("tiktok_videos", "tiktok", "videos.ndjson",
               _fields("item_id", "username", "create_time", "video_views", "plays", "likes", "comments", "shares",
                       "favorites", "reach", "video_duration", "fetched_at")),
    RawDataset("youtube_channel_report", "youtube", "channel_report.csv",
               _fields("date", "channel_id", "channel_title", "subscriber_count", "subscribers_gained",
                       "subscribers_lost", "views")),
    RawDataset("youtube_video_report", "youtube", "video_report.csv",
               _fields("date", "channel_id", "video_id", "published_at", "title", "is_short", "views", "likes",
                       "comments", "shares")),
    RawDataset("web_events", "web_events", "events.ndjson",
               _fields("event_id", "event_at", "anonymous_id", "event_type", "page_url", "referrer", "user_agent",
                       _pii("ip"), "customer_id", "order_id", _pii("email"))),
    RawDataset("shopify_orders", "orders", "orders.ndjson",
               _fields("id", "name", "created_at", "updated_at", RawField("customer_id", ("customer", "id")),
                       _pii("customer_email", "customer", "email"), _pii("customer_first_name", "customer", "first_name"),
                       _pii("customer_last_name", "customer", "last_name"), _pii("email"), _pii("browser_ip"),
                       "total_price", "subtotal_price", "total_discounts", "currency", _nested("discount_codes"),
                       "landing_site", "referring_site", "financial_status", _nested("refunds"), "test",
                       "source_name")),
    RawDataset("esp_signups", "signups", "signups.csv",
               _fields("signup_id", "created_at", _pii("email"), _pii("first_name"), "list_name", "anonymous_id",
                       "landing_url", "consent")),
)

BY_NAME: dict[str, RawDataset] = {d.name: d for d in DATASETS}
SOURCES: tuple[str, ...] = tuple(dict.fromkeys(d.source for d in DATASETS))
