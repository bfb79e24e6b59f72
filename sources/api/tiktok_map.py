"""Pure functions between the TikTok API for Business (Accounts API, v1.3) and the landing shapes of docs/landing.md.

The landing files use the Business API's own names (`followers_count`, `total_likes`, `videos_count`); files in the
earlier, Display API-style shape (`follower_count`, `likes_count`, `video_count`) still load (the contract's
formerNames). A video list carries no username (the account is the request's `business_id`), `create_time` may come
as a string and `video_duration` as a float. These functions turn one API object into one landing record and sort the API's `code`s by what must happen.
"""
from __future__ import annotations

import json

from influence_pipeline.sources.api.client import AccessError, PullError, TransientError, transient_status

#: /business/get/ fields the landing user_info needs (user.info.basic, user.info.username, user.info.stats scopes)
USER_FIELDS = ("username", "display_name", "followers_count", "following_count", "total_likes", "videos_count")
#: /business/video/list/ fields the landing videos need (video.list scope)
VIDEO_FIELDS = ("item_id", "create_time", "video_views", "likes", "comments", "shares", "favorites", "reach",
                "video_duration")

# TikTok API for Business codes (NumericErrorCodes in TikTok's own SDK, tiktok/tiktok-business-api-sdk)
RATE_LIMITED = {40100, 40132}  # requests too frequent / request frequency limited
ACCESS_TOKEN_EXPIRED = 40102
ACCESS_TOKEN_INVALID = 40105
ACCESS_TOKEN_EMPTY = 40104
REFRESH_TOKEN_EXPIRED = 40103
REFRESH_TOKEN_INVALID = 40107
SCOPE_NOT_AUTHORIZED = 40130
PERMISSION_ERROR = 40001
SERVER_CODES = {50000, 50002}  # system error / timeout; 51xxx are internal RPC errors, also worth a retry


class TokenRejected(AccessError):
    """The access token was refused as expired or invalid: one refresh may still save the account."""


def fields_param(fields: tuple[str, ...]) -> str:
    """The `fields` query parameter: a JSON array string, as the Business API wants it."""
    return json.dumps(list(fields), separators=(",", ":"))


def classify_code(code: int, message: str) -> PullError | None:
    """The error a non-zero `code` of the envelope means (they arrive inside HTTP 200); None for 0 (OK)."""
    text = f"code {code}: {message}"
    if code == 0:
        return None
    if code in RATE_LIMITED:
        return TransientError(f"throttled ({text})")
    if code in SERVER_CODES or 51000 <= code < 52000:
        return TransientError(text)
    if code in (ACCESS_TOKEN_EXPIRED, ACCESS_TOKEN_INVALID, ACCESS_TOKEN_EMPTY):
        return TokenRejected(f"access token rejected ({text})")
    if code in (REFRESH_TOKEN_EXPIRED, REFRESH_TOKEN_INVALID):
        return AccessError(f"refresh token no longer valid ({text})")
    if code in (SCOPE_NOT_AUTHORIZED, PERMISSION_ERROR):
        return AccessError(f"permission missing ({text})")
    return PullError(text)


def classify(response, body) -> PullError | None:
    """ApiClient classifier: HTTP 429/5xx first, then the envelope's `code`."""
    status = response.status_code
    if (transient := transient_status(response)) is not None:
        return transient
    if not isinstance(body, dict) or "code" not in body:
        return PullError(f"HTTP {status}: no Business API envelope")
    try:
        code = int(body["code"])
    except (TypeError, ValueError):
        return PullError(f"HTTP {status}: unreadable code")
    error = classify_code(code, str(body.get("message", ""))[:200])
    if error is None and status >= 400:
        return PullError(f"HTTP {status}")
    return error


def _int(value) -> int | None:
    if value is None or value == "":
        return None
    return int(round(float(value)))


def user_record(data: dict, username: str, fetched_at: str, api_version: str) -> dict:
    """/business/get/ `data` -> a landing user_info record. `username` is the roster's, so rows join the roster even
    if the creator renamed the account since (the caller warns about that)."""
    return {"username": username, "display_name": data.get("display_name"),
            "followers_count": _int(data.get("followers_count")), "following_count": _int(data.get("following_count")),
            "total_likes": _int(data.get("total_likes")), "videos_count": _int(data.get("videos_count")),
            "fetched_at": fetched_at, "api_version": api_version,
            "access": "creator"}  # TikTok has no public route: whatever landed was read with the creator's token


def video_record(video: dict, username: str, fetched_at: str, api_version: str) -> dict:
    """One /business/video/list/ video -> a landing videos record (the list has no username: the roster's)."""
    return {"item_id": str(video["item_id"]), "username": username, "create_time": _int(video.get("create_time")),
            "video_views": _int(video.get("video_views")), "likes": _int(video.get("likes")),
            "comments": _int(video.get("comments")), "shares": _int(video.get("shares")),
            "favorites": _int(video.get("favorites")), "reach": _int(video.get("reach")),
            "video_duration": _int(video.get("video_duration")), "fetched_at": fetched_at,
            "api_version": api_version}


def landing_user_to_api(row: dict, fields: list[str] | None = None) -> dict:
    """A landing user_info record, in the current or the earlier shape -> /business/get/ `data` (the fake's
    direction), limited to `fields`."""
    api = {"username": row.get("username"), "display_name": row.get("display_name"),
           "followers_count": row.get("followers_count", row.get("follower_count")),
           "following_count": row.get("following_count"),
           "total_likes": row.get("total_likes", row.get("likes_count")),
           "videos_count": row.get("videos_count", row.get("video_count")),
           "profile_image": f"https://p16-sign.tiktokcdn.com/avt/{row.get('username')}.jpeg"}
    wanted = fields or ["display_name", "profile_image"]  # the endpoint's default fields
    return {k: api[k] for k in wanted if k in api}


def landing_video_to_api(row: dict, fields: list[str] | None = None) -> dict:
    """A landing videos record -> a /business/video/list/ video (the fake's direction), limited to `fields`.
    Older exports' `plays` is the API's `video_views`."""
    views = row.get("video_views", row.get("plays"))
    api = {"item_id": str(row["item_id"]), "create_time": str(row["create_time"]), "video_views": views,
           "likes": row.get("likes"), "comments": row.get("comments"), "shares": row.get("shares"),
           "favorites": row.get("favorites"), "reach": row.get("reach"),
           "video_duration": None if row.get("video_duration") is None else float(row["video_duration"]),
           "caption": "", "share_url": f"https://www.tiktok.com/@{row.get('username')}/video/{row['item_id']}"}
    wanted = fields or ["item_id"]  # the endpoint's default field
    return {k: api[k] for k in wanted if k in api}
