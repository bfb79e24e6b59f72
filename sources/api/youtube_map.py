"""Pure pieces of the YouTube pull: error classifiers, and the mapping from Data API / Analytics answers to the
landing rows of docs/landing.md (`channel_report.csv`, `video_report.csv`). No network, no files, no clock."""
from __future__ import annotations

from datetime import datetime, timezone

import httpx

from influence_pipeline.sources.api.client import (
    MALFORMED,
    AccessError,
    PullError,
    QuotaExhausted,
    TransientError,
    malformed_message,
    retry_after_seconds,
    transient_status,
)

CHANNEL_COLUMNS = ("date", "channel_id", "channel_title", "subscriber_count", "subscribers_gained",
                   "subscribers_lost", "views", "access")
VIDEO_COLUMNS = ("date", "channel_id", "video_id", "published_at", "title", "is_short", "views", "likes", "comments",
                 "shares")
#: columns only a creator's Analytics authorisation can fill; left empty for channels read publicly
ANALYTICS_CHANNEL = ("subscribers_gained", "subscribers_lost", "views")
ANALYTICS_VIDEO = ("is_short", "views", "likes", "comments", "shares")
DAY_METRICS = "views,subscribersGained,subscribersLost"
VIDEO_METRICS = "views,likes,comments,shares"
#: Data API 403 reasons that mean the project's daily units are spent (nothing succeeds before midnight Pacific)
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}
#: per-minute throttles: worth another try after a pause
THROTTLE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}


def _reasons(body: object) -> list[str]:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return []
    return [e.get("reason", "") for e in error.get("errors") or [] if isinstance(e, dict)]


def data_classifier(response: httpx.Response, body: object) -> PullError | None:
    """Data API v3 and Analytics v2 errors, both in Google's `{"error": {"code", "errors": [{"reason"}]}}` shape."""
    status = response.status_code
    if status < 400:
        return None
    reasons = _reasons(body)
    what = f"HTTP {status} {','.join(r for r in reasons if r) or ''}".strip()
    if QUOTA_REASONS & set(reasons):
        return QuotaExhausted(f"{what}: the project's YouTube Data API daily quota is spent; it resets at midnight "
                              "Pacific time")
    if THROTTLE_REASONS & set(reasons):
        return TransientError(what, retry_after_seconds(response))
    if (transient := transient_status(response, what)) is not None:
        return transient
    if "keyInvalid" in reasons or "accessNotConfigured" in reasons:
        return AccessError(f"{what}: the brand's API key was refused; check INFLUENCE_YOUTUBE_API_KEY and that the "
                           "YouTube Data API is enabled for its project")
    if status in (401, 403):
        return AccessError(f"{what}: not authorised")
    return PullError(what)


class NotOwner(AccessError):
    """Analytics refused the asked channel to this token (403 forbidden): the creator's Google login does not own it,
    or owns several channels and connected another one. Refreshing the token cannot help."""


def analytics_classifier(response: httpx.Response, body: object) -> PullError | None:
    error = data_classifier(response, body)
    if response.status_code == 403 and "forbidden" in _reasons(body):
        return NotOwner(str(error))
    return error


def describe(exc: Exception) -> str:
    """An account's message for what stopped it: an answer we could not read says so without quoting its values."""
    return malformed_message("youtube", exc) if isinstance(exc, MALFORMED) else str(exc)


def token_classifier(response: httpx.Response, body: object) -> PullError | None:
    """Google's token endpoint: `{"error": "invalid_grant"}` is a revoked or expired refresh token."""
    status = response.status_code
    if status < 400:
        return None
    code = body.get("error") if isinstance(body, dict) else None
    if (transient := transient_status(response)) is not None:
        return transient
    if code == "invalid_grant":
        return AccessError("the creator's Google authorisation was revoked or has expired (invalid_grant): ask the "
                           "creator to reconnect YouTube")
    if code in ("invalid_client", "unauthorized_client"):
        return AccessError(f"Google refused the app's credentials ({code}): check INFLUENCE_GOOGLE_CLIENT_ID and "
                           "INFLUENCE_GOOGLE_CLIENT_SECRET")
    return AccessError(f"HTTP {status} {code or ''}".strip())


def zulu(stamp: str) -> str:
    """`2026-10-30T17:04:15Z` (the landing shape) from any ISO 8601 instant the API sends (`.000Z`, `+00:00`)."""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def published(item: dict) -> datetime | None:
    """When a playlist item's video was published (`contentDetails.videoPublishedAt`), as an aware datetime; None
    for a private or deleted video, which the uploads playlist lists without it."""
    stamp = (item.get("contentDetails") or {}).get("videoPublishedAt")
    return None if not stamp else datetime.fromisoformat(zulu(stamp).replace("Z", "+00:00"))


def table(body: object) -> list[dict]:
    """An Analytics `resultTable` as one dict per row, keyed by the column headers' names (the API says the header
    row, not the request, fixes the column order)."""
    if not isinstance(body, dict):
        return []
    names = [h["name"] for h in body.get("columnHeaders") or []]
    return [dict(zip(names, row)) for row in body.get("rows") or []]


def _count(value) -> int | None:
    return None if value in (None, "") else int(value)


def channel_row(report_date: str, channel: dict, day: dict | None, access: str = "public") -> dict:
    """A `channel_report.csv` row from a Data API channel resource and, for a connected creator, the Analytics
    `day` row of the report date. `subscriber_count` is the Data API's rounded, current count (empty when hidden);
    `access` (creator | public) tells the marts why the Analytics columns may be empty."""
    stats = channel.get("statistics") or {}
    hidden = stats.get("hiddenSubscriberCount") is True
    row = {"date": report_date, "channel_id": channel["id"], "channel_title": (channel.get("snippet") or {}).get("title"),
           "subscriber_count": None if hidden else _count(stats.get("subscriberCount"))}
    day = day or {}
    row.update(subscribers_gained=_count(day.get("subscribersGained")),
               subscribers_lost=_count(day.get("subscribersLost")), views=_count(day.get("views")), access=access)
    return row


def video_row(report_date: str, video: dict, analytics: dict | None) -> dict:
    """A `video_report.csv` row from a Data API video resource and, when the creator is connected, the video's
    Analytics row (lifetime to the end of the report date). Without Analytics, views/likes/comments are the Data
    API's public counts and `is_short`/`shares` stay empty (the Data API has neither)."""
    snippet, stats = video.get("snippet") or {}, video.get("statistics") or {}
    row = {"date": report_date, "channel_id": snippet.get("channelId"), "video_id": video["id"],
           "published_at": zulu(snippet["publishedAt"]), "title": snippet.get("title"), "is_short": None,
           "views": _count(stats.get("viewCount")), "likes": _count(stats.get("likeCount")),
           "comments": _count(stats.get("commentCount")), "shares": None}
    if analytics:
        row.update(analytics_video_values(analytics))
    return row


def analytics_video_values(analytics: dict) -> dict:
    """The Analytics-owned columns of a video row from its Analytics row."""
    kind = analytics.get("creatorContentType")
    return {"is_short": None if kind in (None, "") else ("true" if kind == "SHORTS" else "false"),
            "views": _count(analytics.get("views")), "likes": _count(analytics.get("likes")),
            "comments": _count(analytics.get("comments")), "shares": _count(analytics.get("shares"))}


def restate(rows: list[dict], channel_id: str, day: dict | None, videos: dict[str, dict]) -> list[dict]:
    """An earlier landing day's rows (as read back from its CSV, all strings) with `channel_id`'s Analytics columns
    replaced by fresh values; rows Analytics did not answer for keep what they had."""
    out = []
    for row in rows:
        row = dict(row)
        if row.get("channel_id") == channel_id:
            if "subscribers_gained" in row and day:
                row.update({k: _text(v) for k, v in channel_row(row["date"], {"id": channel_id}, day).items()
                            if k in ANALYTICS_CHANNEL})
            elif "video_id" in row and row["video_id"] in videos:
                row.update({k: _text(v) for k, v in analytics_video_values(videos[row["video_id"]]).items()})
        out.append(row)
    return out


def _text(value) -> str:
    return "" if value is None else str(value)
