"""A fake TikTok API for Business (Accounts API, v1.3) serving a SampleWorld's tiktok/<day>/ files, with switches for
the faults a pull must survive: small pages, throttling, an expired access token, a revoked refresh token and a scope
the creator did not grant.

Shapes follow the real API: every answer is HTTP 200 with the envelope {"code", "message", "request_id", "data"},
errors carry a non-zero `code` (TikTok's NumericErrorCodes); the access token travels in the `Access-Token` header.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from influence_pipeline.fake_api.server import FakeRequest, FakeResponse, SampleWorld
from influence_pipeline.sources.api.state import Token, TokenStore
from influence_pipeline.sources.api.tiktok_map import (
    ACCESS_TOKEN_EMPTY,
    ACCESS_TOKEN_EXPIRED,
    ACCESS_TOKEN_INVALID,
    PERMISSION_ERROR,
    REFRESH_TOKEN_INVALID,
    SCOPE_NOT_AUTHORIZED,
    USER_FIELDS,
    VIDEO_FIELDS,
    landing_user_to_api,
    landing_video_to_api,
)

INVALID_PARAMS = 40002
RATE_LIMIT = 40100
ALL_SCOPES = ("user.info.basic", "user.info.username", "user.info.stats", "user.insights", "video.list",
              "video.insights")
ACCESS_TTL = 86_400
REFRESH_TTL = 31_536_000
ACCOUNT_EXTRA_FIELDS = ("profile_image", "is_business_account")
VIDEO_EXTRA_FIELDS = ("caption", "share_url", "thumbnail_url", "embed_url")


def token_for(grant: dict, now: datetime) -> Token:
    """The token store's entry for a grant (`FakeTikTok.connect`, or the real token exchange) received at `now`:
    what `influence connect --platform tiktok` would be fed."""
    return Token(access_token=grant["access_token"],
                 expires_at=(now + timedelta(seconds=grant["expires_in"])).isoformat(),
                 refresh_token=grant["refresh_token"],
                 refresh_expires_at=(now + timedelta(seconds=grant["refresh_token_expires_in"])).isoformat(),
                 extra={"business_id": grant["open_id"], "open_id": grant["open_id"]})


def business_id(username: str) -> str:
    """The app-scoped id TikTok gives an authorised account (opaque, stable per account)."""
    return "-000" + hashlib.sha256(username.encode()).hexdigest()[:28]


class FakeTikTok:
    """Serves `/tiktok/open_api/<version>/...`. `connect(username)` plays the creator's authorisation and returns what
    the token exchange would (tokens, expiry seconds, business_id) for the test to put in the token store."""

    prefix = "/tiktok"

    def __init__(self, world: SampleWorld, *, app_id: str = "fake-app", app_secret: str = "fake-app-secret",
                 page_size: int | None = None, rate_limit: int = 0,
                 on_data_request: Callable[[str, str], None] | None = None):
        self.world = world
        self.app_id, self.app_secret = app_id, app_secret
        self.page_size = page_size  # cap on a page, below the request's max_count
        self.rate_limit = rate_limit  # answer this many data requests with code 40100 first
        self.on_data_request = on_data_request  # (username, access token) of each data request, before answering
        self.missing_scope: set[str] = set()  # usernames whose authorisation lacks video.list
        self.access: dict[str, dict] = {}  # access token -> {"username", "expired"}
        self.refresh: dict[str, str] = {}  # live refresh token -> username
        self.dead_refresh: set[str] = set()  # rotated or revoked refresh tokens
        self.rate_limited = 0
        self.lose_refresh_answers = 0  # rotate the pair on the next N refreshes, then answer 503 (the reply is lost)
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        self._videos_day = None
        self._videos_cache: list[dict] = []

    # --- switches -------------------------------------------------------------------------------------------------
    def connect(self, username: str) -> dict:
        """The creator authorised the app: a fresh token pair."""
        with self._lock:
            return self._issue(username)

    def connect_into(self, store: TokenStore, usernames: list[str], now: datetime) -> None:
        """Every creator in `usernames` authorised the app at `now`; their tokens go to `store` (for the demo)."""
        for username in usernames:
            store.put("tiktok", username, token_for(self.connect(username), now))

    def expire_access(self, username: str) -> None:
        """The account's access tokens now answer 40102 (expired), whatever the store believes."""
        for entry in self.access.values():
            if entry["username"] == username:
                entry["expired"] = True

    def revoke(self, username: str) -> None:
        """The creator revoked the app: access and refresh tokens of the account stop working."""
        for token, entry in list(self.access.items()):
            if entry["username"] == username:
                del self.access[token]
        for token, owner in list(self.refresh.items()):
            if owner == username:
                del self.refresh[token]
                self.dead_refresh.add(token)

    def revoke_refresh(self, username: str) -> None:
        """Only the account's refresh tokens stop working (answer 40107); its access tokens live on until expiry."""
        for token, owner in list(self.refresh.items()):
            if owner == username:
                del self.refresh[token]
                self.dead_refresh.add(token)

    # --- answers --------------------------------------------------------------------------------------------------
    def _issue(self, username: str) -> dict:
        n = next(self._serial)
        access, refresh = f"act.fake{n:04d}{username}", f"rft.fake{n:04d}{username}"
        self.access[access] = {"username": username, "expired": False}
        self.refresh[refresh] = username
        return {"access_token": access, "expires_in": ACCESS_TTL, "refresh_token": refresh,
                "refresh_token_expires_in": REFRESH_TTL, "open_id": business_id(username),
                "scope": ",".join(ALL_SCOPES), "token_type": "Bearer"}

    def _envelope(self, code: int = 0, message: str = "OK", data: object = None) -> FakeResponse:
        body = {"code": code, "message": message, "request_id": f"2026{next(self._serial):020d}"}
        body["data"] = {} if data is None else data
        return FakeResponse(200, body)

    def handle(self, request: FakeRequest) -> FakeResponse:
        parts = request.path.strip("/").split("/")
        if len(parts) < 3 or parts[0] != "open_api":
            return FakeResponse(404, {"code": 40400, "message": "route not found"})
        endpoint = "/".join(parts[2:])
        if endpoint == "tt_user/oauth2/refresh_token" and request.method == "POST":
            return self._refresh(request)
        if endpoint in ("business/get", "business/video/list") and request.method == "GET":
            return self._data(endpoint, request)
        return self._envelope(40400, f"route not found: {endpoint}")

    def _refresh(self, request: FakeRequest) -> FakeResponse:
        body = request.json() or {}
        if body.get("client_id") != self.app_id or body.get("client_secret") != self.app_secret:
            return self._envelope(PERMISSION_ERROR, "app_id or secret is invalid")
        if body.get("grant_type") != "refresh_token":
            return self._envelope(40108, "grant_type is invalid")
        with self._lock:
            username = self.refresh.pop(body.get("refresh_token") or "", None)
            if username is None:
                return self._envelope(REFRESH_TOKEN_INVALID, "Refresh token is invalid or has expired.")
            self.dead_refresh.add(body["refresh_token"])  # rotation: the old refresh token dies
            grant = self._issue(username)
            if self.lose_refresh_answers > 0:
                self.lose_refresh_answers -= 1
                return FakeResponse(503, {"code": 50002, "message": "timeout"})
            return self._envelope(data=grant)

    def _data(self, endpoint: str, request: FakeRequest) -> FakeResponse:
        token = request.headers.get("access-token")
        if not token:
            return self._envelope(ACCESS_TOKEN_EMPTY, "Access token is null.")
        entry = self.access.get(token)
        if entry is None:
            return self._envelope(ACCESS_TOKEN_INVALID, "Access token is invalid.")
        if self.on_data_request is not None:
            self.on_data_request(entry["username"], token)
        with self._lock:
            if self.rate_limited < self.rate_limit:
                self.rate_limited += 1
                return self._envelope(RATE_LIMIT, "Too many requests. Please retry in some time.")
        if entry["expired"]:
            return self._envelope(ACCESS_TOKEN_EXPIRED, "Access token has expired.")
        username = entry["username"]
        if request.arg("business_id") != business_id(username):
            return self._envelope(PERMISSION_ERROR, "No permission to operate this business_id.")
        try:
            fields = json.loads(request.arg("fields") or "null")
        except ValueError:
            return self._envelope(INVALID_PARAMS, "fields: invalid JSON")
        if endpoint == "business/get":
            return self._account(username, fields)
        if username in self.missing_scope:
            return self._envelope(SCOPE_NOT_AUTHORIZED, "The user did not authorize the scope video.list.")
        return self._videos(username, fields, request)

    def _account(self, username: str, fields: list[str] | None) -> FakeResponse:
        if fields is not None and set(fields) - set(USER_FIELDS) - set(ACCOUNT_EXTRA_FIELDS):
            return self._envelope(INVALID_PARAMS, "fields: unknown field")
        row = next((r for r in self.world.ndjson("tiktok", "user_info.ndjson") if r.get("username") == username), None)
        if row is None:
            return self._envelope(PERMISSION_ERROR, "No permission to operate this business_id.")
        return self._envelope(data=landing_user_to_api(row, fields))

    def _all_videos(self, username: str) -> list[dict]:
        """The account's videos as the platform has them today: every video the world delivered up to `day`, each
        with its latest numbers (videos past the 14-day window keep their last delivered ones), newest first."""
        if self._videos_day != self.world.day:  # read the world's files once per day it is moved to
            latest: dict[str, dict] = {}
            for day in self.world.days("tiktok"):
                if day <= self.world.day:
                    latest.update((str(r["item_id"]), r) for r in self.world.ndjson("tiktok", "videos.ndjson", day))
            self._videos_cache = sorted(latest.values(), key=lambda r: (-int(r["create_time"]), str(r["item_id"])))
            self._videos_day = self.world.day
        return [r for r in self._videos_cache if r.get("username") == username]

    def _videos(self, username: str, fields: list[str] | None, request: FakeRequest) -> FakeResponse:
        if fields is not None and set(fields) - set(VIDEO_FIELDS) - set(VIDEO_EXTRA_FIELDS):
            return self._envelope(INVALID_PARAMS, "fields: unknown field")
        try:
            max_count = int(request.arg("max_count") or 20)
            offset = int(request.arg("cursor") or 0)
        except ValueError:
            return self._envelope(INVALID_PARAMS, "max_count and cursor must be integers")
        if not 1 <= max_count <= 20:
            return self._envelope(INVALID_PARAMS, "max_count must be between 1 and 20")
        size = min(max_count, self.page_size or max_count)
        rows = self._all_videos(username)
        page = rows[offset:offset + size]
        return self._envelope(data={"videos": [landing_video_to_api(r, fields) for r in page],
                                    "cursor": offset + len(page), "has_more": offset + len(page) < len(rows)})
