"""TikTok pull: the roster's TikTok accounts read through the TikTok API for Business (Accounts API) with each
creator's own authorisation, written as landing/tiktok/<ds>/user_info.ndjson and videos.ndjson.

A brand has no public route to a creator's TikTok numbers: an account without a token in the token store is skipped
with a message asking for the creator's authorisation. Access tokens live 24 h and refresh tokens rotate, so a token
near expiry is refreshed first and the rotated pair is saved before the new access token is sent anywhere: a crash
between the two must not leave the store holding only the dead refresh token.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

from influence_pipeline.sources.api.accounts import RosterAccount, roster_accounts
from influence_pipeline.sources.api.client import (
    MALFORMED,
    AccessError,
    ApiClient,
    PullError,
    RetryPolicy,
    TransientError,
    expect_object,
    malformed_message,
)
from influence_pipeline.sources.api.config import ApiSettings
from influence_pipeline.sources.api.landing_out import AccountOutcome, PullRecord, landing_file, merge_ndjson, utc_stamp
from influence_pipeline.sources.api.state import Token, TokenStore, utc_instant
from influence_pipeline.sources.api.tiktok_map import (
    USER_FIELDS,
    VIDEO_FIELDS,
    TokenRejected,
    classify,
    fields_param,
    user_record,
    video_record,
)

log = logging.getLogger("influence_pipeline.pull.tiktok")

SOURCE = "tiktok"
TRACKED_DAYS = 14  # docs/landing.md: a video is tracked for 14 days after posting
PAGE_SIZE = 20  # the video list's maximum max_count
MAX_PAGES = 50  # a guard against a cursor that never ends; 1,000 videos is far beyond 14 days of posting
REFRESH_AHEAD = timedelta(hours=1)  # refresh an access token this close to expiry rather than fail mid-pull
NOT_CONNECTED = "not connected: ask the creator to authorise the app (then `influence connect --platform tiktok`)"
REAUTHORISE = "ask the creator to reauthorise the app (then `influence connect --platform tiktok`)"


class RefreshLost(PullError):
    """The refresh request failed in transit: whether TikTok rotated the pair is unknown (account `failed`)."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


class _Account:
    """One creator's session: the token (refreshed and saved as needed) and the calls made with it."""

    def __init__(self, client: ApiClient, settings: ApiSettings, store: TokenStore, username: str, token: Token,
                 now: datetime):
        self.client, self.settings, self.store = client, settings, store
        self.username, self.token, self.now = username, token, now
        self.version = settings.tiktok_api_version
        self.refreshed = False

    def path(self, endpoint: str) -> str:
        return f"/open_api/{self.version}/{endpoint}"

    def refresh(self) -> None:
        """Trade the refresh token for a new pair and save it (TokenStore.put) before anything uses it."""
        token = self.token
        if not token.refresh_token:
            raise AccessError(f"access token expired and no refresh token stored: {REAUTHORISE}")
        if token.refresh_expires_at and utc_instant(token.refresh_expires_at) <= self.now:
            raise AccessError(f"authorisation expired on {token.refresh_expires_at[:10]}: {REAUTHORISE}")
        # Sent once, never retried: TikTok may have rotated the pair before the answer was lost, and a retry would
        # send the now-dead refresh token (40107), ending an authorisation that the next run might still hold.
        policy = self.client.policy
        self.client.policy = replace(policy, attempts=1)
        try:
            body, _ = self.client.post(self.path("tt_user/oauth2/refresh_token/"), json={
                "client_id": self.settings.tiktok_app_id, "client_secret": self.settings.secret("tiktok_app_secret"),
                "grant_type": "refresh_token", "refresh_token": token.refresh_token})
        except TransientError as exc:
            raise RefreshLost(f"token refresh got no answer ({exc}): TikTok may have rotated the refresh token; the "
                              f"next pull tries again, and if it gets code 40107: {REAUTHORISE}") from None
        finally:
            self.client.policy = policy
        data = expect_object(expect_object(body, "tiktok refresh").get("data") or {}, "tiktok refresh data")
        if not data.get("access_token"):
            raise PullError("refresh answered without an access token")
        self.client.secrets += [s for s in (data.get("access_token"), data.get("refresh_token")) if s]
        expires_in, refresh_in = data.get("expires_in"), data.get("refresh_token_expires_in")
        extra = {**token.extra, **({"open_id": data["open_id"]} if data.get("open_id") else {})}
        self.token = Token(
            access_token=data["access_token"],
            expires_at=_iso(self.now + timedelta(seconds=int(expires_in))) if expires_in else None,
            refresh_token=data.get("refresh_token") or token.refresh_token,
            refresh_expires_at=(_iso(self.now + timedelta(seconds=int(refresh_in))) if refresh_in
                                else token.refresh_expires_at),
            extra=extra)
        self.store.put(SOURCE, self.username, self.token)  # before first use: the old refresh token is dead now
        self.refreshed = True
        log.info("tiktok:%s: access token refreshed, rotated token saved", self.username)

    def get(self, endpoint: str, params: dict) -> dict:
        """GET an endpoint with the creator's token; an expired or invalid token gets one refresh and one retry."""
        if self.token.expired(self.now) or self.token.expires_within(self.now, REFRESH_AHEAD / timedelta(days=1)):
            self.refresh()
        for attempt in (1, 2):
            try:
                body, _ = self.client.get(self.path(endpoint), params=params,
                                          headers={"Access-Token": self.token.access_token})
                return expect_object(expect_object(body, f"tiktok {endpoint}").get("data") or {},
                                     f"tiktok {endpoint} data")
            except TokenRejected:
                if attempt == 2 or self.refreshed:
                    raise
                self.refresh()
        raise AssertionError("unreachable")

    def business_id(self) -> str:
        business_id = self.token.extra.get("business_id") or self.token.extra.get("open_id")
        if not business_id:
            raise AccessError(f"the stored token names no business_id: {REAUTHORISE}")
        return business_id

    def user(self) -> dict:
        return self.get("business/get/", {"business_id": self.business_id(), "fields": fields_param(USER_FIELDS)})

    def videos(self, since: int) -> list[dict]:
        """Videos posted at or after `since` (Unix seconds), paging newest first until the oldest one on a page is
        older than `since` or has_more is false. Older videos on the last page (pinned ones too) are dropped."""
        kept: list[dict] = []
        cursor = None
        for _ in range(MAX_PAGES):
            params = {"business_id": self.business_id(), "fields": fields_param(VIDEO_FIELDS),
                      "max_count": PAGE_SIZE}
            if cursor is not None:
                params["cursor"] = cursor
            data = self.get("business/video/list/", params)
            page = data.get("videos") or []
            kept += [v for v in page if int(v["create_time"]) >= since]
            if not data.get("has_more") or not page or int(page[-1]["create_time"]) < since:
                return kept
            if data.get("cursor") == cursor:
                raise PullError("video list cursor did not advance")
            cursor = data.get("cursor")
        raise PullError(f"video list still had more after {MAX_PAGES} pages")


def _warn_expiry(record: PullRecord, settings: ApiSettings, username: str, token: Token, now: datetime) -> None:
    if token.refresh_token and (warning := token.expiry_warning(f"tiktok:{username}", now,
                                                                settings.token_expiry_warning_days, REAUTHORISE)):
        record.warnings.append(warning)


def _pull_account(client: ApiClient, settings: ApiSettings, store: TokenStore, account: RosterAccount,
                  token: Token, now: datetime, record: PullRecord) -> tuple[dict, list[dict]]:
    session = _Account(client, settings, store, account.platform_account_id, token, now)
    version, stamp = settings.tiktok_api_version, utc_stamp(now)
    data = session.user()
    if data.get("username") and data["username"] != account.platform_account_id:
        record.warnings.append(f"tiktok:{account.platform_account_id}: the API calls this account "
                               f"@{data['username']}: update the roster's platform_account_id")
    user = user_record(data, account.platform_account_id, stamp, version)
    since = int((now - timedelta(days=TRACKED_DAYS)).timestamp())
    videos = [video_record(v, account.platform_account_id, stamp, version) for v in session.videos(since)]
    _warn_expiry(record, settings, account.platform_account_id, session.token, now)
    return user, videos


def _outcome_message(exc: Exception) -> str:
    """What the record says about a stopped account: what went wrong and who must act (never the exception's own
    text for a malformed answer: it could quote the answer)."""
    if not isinstance(exc, PullError):
        return malformed_message(SOURCE, exc)
    if isinstance(exc, AccessError):
        return f"{exc}: {REAUTHORISE}" if REAUTHORISE not in str(exc) else str(exc)
    if isinstance(exc, TransientError):
        return f"{exc}: TikTok kept failing after retries; the next pull tries again"
    return str(exc)


def pull(settings: ApiSettings, ds: date, *, now: datetime, policy: RetryPolicy, mode: str = "daily") -> PullRecord:
    """Pull every roster TikTok account for landing date `ds` as of `now`; write user_info.ndjson and videos.ndjson
    under landing/tiktok/<ds>/ (when at least one account was read) and return the pull's record."""
    if mode != "daily":
        raise ValueError(f"tiktok has no {mode!r} pull")
    version = settings.tiktok_api_version
    record = PullRecord(source=SOURCE, landing_date=ds.isoformat(), api_version=version, fetched_at=utc_stamp(now),
                        endpoints=[f"GET /open_api/{version}/business/get/",
                                   f"GET /open_api/{version}/business/video/list/",
                                   f"POST /open_api/{version}/tt_user/oauth2/refresh_token/"])
    store = TokenStore(settings.token_store_path)
    users: list[dict] = []
    videos: list[dict] = []
    with ApiClient(SOURCE, settings.tiktok_api_base_url, secrets=[settings.secret("tiktok_app_secret") or ""],
                   classifier=classify, policy=policy) as client:
        for account in roster_accounts(settings.landing_dir, ds, SOURCE):
            username = account.platform_account_id
            token = store.get(SOURCE, username)
            if token is None:
                record.accounts.append(AccountOutcome(account.account_id, "none", "skipped", NOT_CONNECTED))
                continue
            client.secrets += [s for s in (token.access_token, token.refresh_token) if s]
            try:
                user, account_videos = _pull_account(client, settings, store, account, token, now, record)
            except (PullError, *MALFORMED) as exc:
                # a malformed answer (KeyError & co.) ends this account, not the whole pull
                message = _outcome_message(exc)
                status = "stopped" if isinstance(exc, AccessError) else "failed"
                log.warning("tiktok:%s: %s: %s", username, status, message)
                record.accounts.append(AccountOutcome(account.account_id, "creator", status, message))
                continue
            users.append(user)
            videos += account_videos
            record.accounts.append(AccountOutcome(account.account_id, "creator", "ok"))
        record.requests, record.retries = client.stats.requests, client.stats.retries
    if users:
        # Merged, not replaced: a second run of the day keeps the accounts the first read and this one could not.
        record.files["user_info.ndjson"] = merge_ndjson(
            landing_file(settings.landing_dir, SOURCE, ds, "user_info.ndjson"), users, "username")
        record.files["videos.ndjson"] = merge_ndjson(
            landing_file(settings.landing_dir, SOURCE, ds, "videos.ndjson"), videos, "item_id")
    return record
