"""Pure pieces of the Instagram pull: Graph API objects -> landing records (docs/landing.md), the Graph API's error JSON
-> the client's three error kinds, and the Business Use Case usage header -> percentages and waits.

Nothing here does I/O, so the mapping is tested without a server and reads the same for a creator's own token and for
Business Discovery.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import httpx

from influence_pipeline.sources.api.client import (
    AccessError,
    PullError,
    QuotaExhausted,
    TransientError,
    transient_status,
)

USER_FIELDS = "id,username,followers_count,follows_count,media_count"
MEDIA_FIELDS = "id,media_type,media_product_type,timestamp,caption,permalink,like_count,comments_count"
FEED_METRICS = ("reach", "saved", "shares", "views")
#: accounts whose media only answer the pre-v22 metric (the sample's "older API" accounts) get `impressions` instead
LEGACY_FEED_METRICS = ("reach", "saved", "shares", "impressions")
#: what lands of a story; Graph API has no link-sticker-taps metric, so the landing's `link_clicks` stays absent.
#: `navigation` and `profile_activity` are asked as totals (no breakdown): taps forward/back/exit and swipes, and
#: actions on the profile after the story (bio link, call, e-mail, directions).
STORY_METRICS = ("reach", "replies", "shares", "views", "navigation", "profile_activity")
TRACKING_WINDOW = timedelta(days=14)  # a feed post stays in media.ndjson for 14 days after posting
RATE_LIMIT_CODES = {4, 17, 32, 613, 80001, 80002}  # app, user, page, custom, Pages BUC, Instagram BUC
TRANSIENT_CODES = {1, 2}  # "unknown error", "service temporarily unavailable"
MAX_WAIT_MINUTES = 15  # a longer wait ends the source for this run rather than holding a worker
TOKEN_SUBCODES = {463: "expired", 460: "invalidated by a password change", 458: "revoked (the app was removed)",
                  492: "revoked (the creator's session or Page role ended)", 467: "invalid"}


class GraphError(PullError):
    """A Graph API error that is neither an access, quota nor transient problem (e.g. code 100: a media without
    insights, a story that vanished). Carries the platform's code and subcode."""

    def __init__(self, message: str, code: int | None = None, subcode: int | None = None):
        super().__init__(message)
        self.code, self.subcode = code, subcode


class RateLimited(TransientError):
    """A Graph API rate limit (a short wait): retried; once the retries are spent the source stops for this run."""


def parse_ts(value: str) -> datetime:
    """`2026-10-30T18:21:07+0000` (the Graph API's timestamp shape) -> an aware datetime."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")


def in_window(media: dict, now: datetime) -> bool:
    """True when the media was posted at most 14 days before `now` (the sample's and the pipeline's window)."""
    return now - parse_ts(media["timestamp"]) <= TRACKING_WINDOW


def buc_entries(response: httpx.Response) -> list[dict]:
    """The `X-Business-Use-Case-Usage` header's entries (`{id: [{type, call_count, total_cputime, total_time,
    estimated_time_to_regain_access}]}`) flattened, each with its business object `id`; [] when absent or garbled."""
    raw = response.headers.get("x-business-use-case-usage")
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        return []
    if not isinstance(parsed, dict):
        return []
    return [{**entry, "id": key} for key, entries in parsed.items() if isinstance(entries, list)
            for entry in entries if isinstance(entry, dict)]


def regain_minutes(response: httpx.Response) -> float | None:
    """The longest `estimated_time_to_regain_access` (minutes) the usage header announces, None without a header."""
    waits = [float(e["estimated_time_to_regain_access"]) for e in buc_entries(response)
             if isinstance(e.get("estimated_time_to_regain_access"), (int, float))]
    return max(waits) if waits else None


def graph_error(response: httpx.Response, body: object) -> PullError | None:
    """Sort a Graph API answer: None for success, else the error to raise. Messages say what a human must do; the
    platform's own message is kept for context (the client redacts every secret from it)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        if (transient := transient_status(response)) is not None:
            return transient
        return GraphError(f"HTTP {response.status_code}") if response.status_code >= 400 else None
    code, sub = error.get("code"), error.get("error_subcode")
    text = str(error.get("message", ""))[:200]
    where = f"code {code}" + (f"/{sub}" if sub else "")
    if code == 190:
        what = TOKEN_SUBCODES.get(sub, "invalid")
        return AccessError(f"access token {what} ({where}): ask the creator to reconnect")
    if code in RATE_LIMIT_CODES:
        minutes = regain_minutes(response)
        if minutes is not None and minutes > MAX_WAIT_MINUTES:
            return QuotaExhausted(f"rate limit ({where}): Graph API regains access in ~{minutes:g} min, "
                                  "the source stops for this run")
        return RateLimited(f"rate limit ({where})", minutes * 60 if minutes else None)  # 0: our own backoff
    if code in TRANSIENT_CODES or error.get("is_transient") or response.status_code >= 500:
        return TransientError(f"Graph API temporary error ({where}): {text}")
    if code == 10 and "viewer" in text.lower():
        return GraphError(f"insights withheld ({where}): {text}", code, sub)  # too few viewers: one media only
    if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
        return AccessError(f"permission missing ({where}): ask the creator to reconnect and grant instagram_basic "
                           f"and instagram_manage_insights ({text})")
    return GraphError(f"Graph API error ({where}): {text}", code, sub)


def stamps(fetched_at: str, api_version: str) -> dict:
    return {"fetched_at": fetched_at, "api_version": api_version}


def user_record(obj: dict, fetched_at: str, api_version: str, access: str) -> dict:
    """An IG User (own read or Business Discovery) -> a users.ndjson row; fields the API left out stay absent.
    `access` (creator | public) tells the marts why the account's insights may be null."""
    row = {"id": str(obj["id"])}
    row.update({k: obj[k] for k in ("username", "followers_count", "follows_count", "media_count") if k in obj})
    return {**row, **stamps(fetched_at, api_version), "access": access}


def media_record(obj: dict, owner_id: str, fetched_at: str, api_version: str) -> dict:
    """An IG Media -> a media.ndjson row. `owner` is the account we read (the API returns it only to the owner);
    `like_count` stays absent when the owner hides likes; a media without caption gets `""`, as in the exports."""
    row = {"id": str(obj["id"]), "owner": {"id": owner_id}}
    row.update({k: obj[k] for k in ("media_type", "media_product_type", "timestamp") if k in obj})
    row["caption"] = obj.get("caption", "")
    row.update({k: obj[k] for k in ("permalink", "like_count", "comments_count") if k in obj})
    return {**row, **stamps(fetched_at, api_version)}


def metric_values(body: object) -> dict[str, int]:
    """`{"data": [{"name", "values": [{"value"}]} | {"name", "total_value": {"value"}}]}` -> {name: value}. A metric
    the API did not return is simply not in the result: absent, never 0."""
    values: dict[str, int] = {}
    for entry in (body or {}).get("data", []) if isinstance(body, dict) else []:
        if not isinstance(entry, dict) or "name" not in entry:
            continue
        if isinstance(entry.get("total_value"), dict) and "value" in entry["total_value"]:
            values[entry["name"]] = entry["total_value"]["value"]
        elif isinstance(entry.get("values"), list) and entry["values"] and isinstance(entry["values"][0], dict):
            values[entry["name"]] = entry["values"][0].get("value")
    return {k: v for k, v in values.items() if v is not None}


def insights_record(media_id: str, values: dict[str, int], metrics: tuple[str, ...], fetched_at: str,
                    api_version: str) -> dict:
    """A media_insights / story_insights row: `media_id` and the metrics asked for that came back."""
    return {"media_id": media_id, **{m: values[m] for m in metrics if m in values},
            **stamps(fetched_at, api_version)}


def usage_warnings(peaks: dict[tuple[str, str, str], float], threshold: float = 80.0) -> list[str]:
    """Peak usage percentages per (business object id, use case type, measure) -> warnings above `threshold`."""
    return [f"Graph API {kind} usage of business object {obj} reached {pct:g} % of {measure}: pulls may be throttled"
            for (obj, kind, measure), pct in sorted(peaks.items()) if pct > threshold]
