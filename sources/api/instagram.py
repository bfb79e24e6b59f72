"""Instagram pull (Graph API, "Instagram API with Facebook Login"): users, media and insights of the roster's accounts
into landing/instagram/<ds>/ in the shapes of docs/landing.md.

A creator who connected (a token in the TokenStore under ("instagram", <ig user id>)) is read with their own token:
profile, feed posts of the 14-day window, live stories and every media's insights. A creator who did not is read
publicly through Business Discovery from the brand's account: profile and feed posts, no stories and no insights.

Modes: "daily" writes all four files; "stories" (every few hours) reads only the live stories of connected creators,
since a story's insights disappear 24 h after posting. Both merge into the day's files by id, so a story that vanished
keeps its last values and a second pull of the day keeps what it could not read again.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import httpx

from influence_pipeline.sources.api import instagram_map as ig_map
from influence_pipeline.sources.api.accounts import RosterAccount, roster_accounts
from influence_pipeline.sources.api.client import (
    MALFORMED,
    AccessError,
    ApiClient,
    PullError,
    QuotaExhausted,
    RetryPolicy,
    malformed_message,
)
from influence_pipeline.sources.api.config import ApiSettings
from influence_pipeline.sources.api.landing_out import AccountOutcome, PullRecord, landing_file, merge_ndjson, utc_stamp
from influence_pipeline.sources.api.state import Token, TokenStore

SOURCE = "instagram"
PAGE_SIZE = 50
PUBLIC_MESSAGE = "public stats only (Business Discovery): insights and stories need the creator's authorisation"


class _Reader:
    """Reads accounts through one client; collects rows per account so that an account stopped half-way leaves none."""

    def __init__(self, settings: ApiSettings, client: ApiClient, now: datetime, usage: dict):
        self.v = settings.instagram_api_version
        self.brand_id = settings.instagram_business_account_id
        self.brand_token = settings.secret("instagram_access_token")
        self.client, self.now, self.usage = client, now, usage
        self.stamp = utc_stamp(now)
        self.endpoints: set[str] = set()
        self.missing = 0  # insights withheld or metrics not reported, for the current account
        self.legacy = False  # the current account's media answer `impressions`, not `views` (pre-v22 accounts)
        self.skipped = 0  # unreadable media records of the current account, left out
        self.warnings: list[str] = []

    def get(self, endpoint: str, path: str, token: str, params: dict) -> dict:
        self.endpoints.add(f"GET /{self.v}/{endpoint}")
        body, _ = self.client.get(f"/{self.v}/{path}", params=params, headers={"Authorization": f"Bearer {token}"})
        return body if isinstance(body, dict) else {}

    def _edge(self, edge: str, ig_id: str, token: str) -> Iterator[dict]:
        """Media of an edge, newest first, page by page, feed posts older than the window left out. Paging stops once
        a page ends older than the window (a pinned old post at the top does not end it). The `paging.next` URL
        embeds the token, so the next page is rebuilt from the `after` cursor instead."""
        params = {"fields": ig_map.MEDIA_FIELDS, "limit": PAGE_SIZE}
        while True:
            body = self.get("{ig-user-id}/" + edge, f"{ig_id}/{edge}", token, params)
            data = _listed(body.get("data"))
            readable = [item for item in data if self.readable(item, ig_id, dated=edge == "media")]
            yield from (item for item in readable if edge != "media" or ig_map.in_window(item, self.now))
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not data or not paging.get("next") or not after or (edge == "media" and (
                    not readable or not ig_map.in_window(readable[-1], self.now))):
                return
            params = {**params, "after": after}

    def readable(self, item: object, ig_id: str, *, dated: bool) -> bool:
        """Whether a listed media has what its row needs (an id; for the feed, a Graph API timestamp). One that has
        not is left out with a warning: one odd record costs that record, not the account's other media."""
        try:
            if not isinstance(item, dict):
                raise TypeError("media is not an object")
            str(item["id"])
            if dated:
                ig_map.parse_ts(item["timestamp"])
            return True
        except MALFORMED as exc:
            self.skipped += 1
            self.warnings.append(malformed_message(f"instagram account {ig_id}: a media record left out", exc))
            return False

    def _insights(self, media_id: str, token: str, metrics: tuple[str, ...]) -> dict[str, int]:
        params = {"metric": ",".join(metrics)}
        return ig_map.metric_values(self.get("{media-id}/insights", f"{media_id}/insights", token, params))

    def feed_insights(self, media_id: str, token: str) -> dict | None:
        """Insights of a feed post or reel; None when withheld (code 100: posted before the business conversion,
        too few viewers...). A media that rejects `views` is asked for the older `impressions` once; an account that
        answered so is asked for `impressions` first from then on."""
        order = (ig_map.FEED_METRICS, ig_map.LEGACY_FEED_METRICS)
        for metrics in (order[::-1] if self.legacy else order):
            try:
                values = self._insights(media_id, token, metrics)
            except ig_map.GraphError:
                continue
            self.legacy = metrics == ig_map.LEGACY_FEED_METRICS
            self.missing += len(set(metrics) - set(values))
            return ig_map.insights_record(media_id, values, metrics, self.stamp, self.v)
        self.missing += 1
        return None

    def story_insights(self, media_id: str, token: str) -> dict | None:
        try:
            values = self._insights(media_id, token, ig_map.STORY_METRICS)
        except ig_map.GraphError:  # the story vanished between listing and insights
            self.missing += 1
            return None
        self.missing += len(set(ig_map.STORY_METRICS) - set(values))
        return ig_map.insights_record(media_id, values, ig_map.STORY_METRICS, self.stamp, self.v)

    def creator(self, ig_id: str, token: str, mode: str) -> dict[str, list[dict]]:
        """One connected account: {file name: rows}."""
        rows: dict[str, list[dict]] = {"users.ndjson": [], "media.ndjson": [], "media_insights.ndjson": [],
                                       "story_insights.ndjson": []}
        if mode == "daily":
            user = self.get("{ig-user-id}", ig_id, token, {"fields": ig_map.USER_FIELDS})
            rows["users.ndjson"].append(ig_map.user_record(user, self.stamp, self.v, "creator"))
            for item in self._edge("media", ig_id, token):
                if item.get("media_product_type") == "STORY":
                    continue
                rows["media.ndjson"].append(ig_map.media_record(item, ig_id, self.stamp, self.v))
                insights = self.feed_insights(str(item["id"]), token)
                if insights is not None:
                    rows["media_insights.ndjson"].append(insights)
        for item in self._edge("stories", ig_id, token):
            rows["media.ndjson"].append(ig_map.media_record(item, ig_id, self.stamp, self.v))
            insights = self.story_insights(str(item["id"]), token)
            if insights is not None:
                rows["story_insights.ndjson"].append(insights)
        return rows

    def public(self, account: RosterAccount) -> dict[str, list[dict]]:
        """One account read through Business Discovery with the brand's token: profile and feed posts."""
        media_rows: list[dict] = []
        user: dict = {}
        after = None
        while True:
            media_edge = f"media.limit({PAGE_SIZE})" + (f".after({after})" if after else "")
            fields = (f"business_discovery.username({account.handle}){{{ig_map.USER_FIELDS},"
                      f"{media_edge}{{{ig_map.MEDIA_FIELDS}}}}}")
            try:
                body = self.get("{brand-ig-user-id}?fields=business_discovery", self.brand_id, self.brand_token,
                                {"fields": fields})
            except ig_map.GraphError as exc:
                if exc.code != 110:
                    raise
                raise AccessError(f"@{account.handle} not found through Business Discovery (a personal account, or "
                                  "the handle changed): check the roster's handle or ask the creator to connect") from None
            found = body.get("business_discovery") or {}
            if not user:
                user = found
                if str(found.get("id")) != account.platform_account_id:
                    raise AccessError(f"@{account.handle} is IG user {found.get('id')}, not the roster's "
                                      f"{account.platform_account_id}: check the roster's handle")
            media = found.get("media") or {}
            data = _listed(media.get("data"))
            readable = [item for item in data if self.readable(item, account.platform_account_id, dated=True)]
            media_rows += [ig_map.media_record(item, account.platform_account_id, self.stamp, self.v)
                           for item in readable
                           if ig_map.in_window(item, self.now) and item.get("media_product_type") != "STORY"]
            after = ((media.get("paging") or {}).get("cursors") or {}).get("after")
            if not data or not after or not readable or not ig_map.in_window(readable[-1], self.now):
                break
        return {"users.ndjson": [ig_map.user_record(user, self.stamp, self.v, "public")], "media.ndjson": media_rows}


def _listed(data: object) -> list:
    """An edge's `data`: a list, or nothing when absent; any other shape ends the account as a malformed answer."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise TypeError("an edge's data is not a list")
    return data


def _observe(usage: dict, response: httpx.Response) -> None:
    for entry in ig_map.buc_entries(response):
        for measure in ("call_count", "total_cputime", "total_time"):
            if isinstance(entry.get(measure), (int, float)):
                key = (str(entry["id"]), str(entry.get("type", "")), measure)
                usage[key] = max(usage.get(key, 0), entry[measure])


def pull(settings: ApiSettings, ds: date, *, now: datetime, policy: RetryPolicy, mode: str = "daily") -> PullRecord:
    """Pull the roster's Instagram accounts for landing date `ds`; writes the day's files and returns the record
    (accounts a human must fix are `stopped` in it, never raised)."""
    version = settings.instagram_api_version
    record = PullRecord(SOURCE, ds.isoformat(), version, utc_stamp(now))
    store = TokenStore(settings.token_store_path)
    accounts = roster_accounts(settings.landing_dir, ds, SOURCE)
    tokens: dict[str, Token | None] = {a.platform_account_id: store.get(SOURCE, a.platform_account_id)
                                       for a in accounts}
    usage: dict = {}

    def classify(response: httpx.Response, body: object):
        _observe(usage, response)
        return ig_map.graph_error(response, body)

    secrets = [settings.secret("instagram_access_token") or ""] + [t.access_token for t in tokens.values() if t]
    collected: dict[str, list[dict]] = {}
    with ApiClient(SOURCE, settings.instagram_api_base_url, secrets=secrets, classifier=classify,
                   policy=policy) as client:
        reader = _Reader(settings, client, now, usage)
        stop: str | None = None  # why the source stopped for this run: the remaining accounts are skipped
        for account in accounts:
            outcome, stop_now = _pull_account(reader, account, tokens[account.platform_account_id], mode, settings,
                                              now, record, collected, stop)
            stop = stop or stop_now
            record.accounts.append(outcome)
        record.requests, record.retries = client.stats.requests, client.stats.retries
    record.incomplete = stop
    record.warnings += reader.warnings
    record.endpoints = sorted(reader.endpoints)
    record.warnings += ig_map.usage_warnings(usage)
    keys = {"users.ndjson": "id", "media.ndjson": "id", "media_insights.ndjson": "media_id",
            "story_insights.ndjson": "media_id"}
    names = keys if mode == "daily" else ("media.ndjson", "story_insights.ndjson")
    if not any(a.status in ("ok", "partial") for a in record.accounts):
        # Nothing was read: no file, so the day reads as "not delivered" (a warning, late data picked up later),
        # not as a delivery of zero rows.
        return record
    for name in names:
        record.files[name] = merge_ndjson(landing_file(settings.landing_dir, SOURCE, ds, name),
                                          collected.get(name, []), keys[name])
    return record


def _pull_account(reader: _Reader, account: RosterAccount, token: Token | None, mode: str, settings: ApiSettings,
                  now: datetime, record: PullRecord, collected: dict,
                  stop: str | None) -> tuple[AccountOutcome, str | None]:
    """Read one account into `collected`; returns its outcome (the token never appears in it) and, when the source
    must stop for this run (a spent quota, a rate limit that outlasted the retries), why."""
    ig_id = account.platform_account_id
    access = "creator" if token else "public"
    if stop:
        return AccountOutcome(ig_id, access, "skipped", stop), None
    if token is None and mode != "daily":
        return AccountOutcome(ig_id, "public", "skipped", "stories need the creator's authorisation"), None
    if token is not None and token.expired(now):
        return AccountOutcome(ig_id, "creator", "stopped",
                              f"token expired on {token.expires_at[:10]}: ask the creator to reconnect"), None
    if token is not None and (warning := token.expiry_warning(f"instagram:{ig_id} (@{account.handle})", now,
                                                              settings.token_expiry_warning_days,
                                                              "ask the creator to reconnect")):
        record.warnings.append(warning)
    reader.missing, reader.legacy, reader.skipped = 0, False, 0
    try:
        rows = reader.creator(ig_id, token.access_token, mode) if token else reader.public(account)
    except AccessError as exc:
        return AccountOutcome(ig_id, access, "stopped", str(exc)), None
    except QuotaExhausted as exc:
        message = f"quota exhausted: {exc}"
        return AccountOutcome(ig_id, access, "skipped", message), message
    except ig_map.RateLimited as exc:
        # Every retry was spent waiting on the limit: the next account would only wait through its own retries.
        return (AccountOutcome(ig_id, access, "failed", f"not read: {exc}"),
                f"rate limited (retries spent on {ig_id}): the source stops for this run, the next pull tries again")
    except PullError as exc:  # retries spent or an unexpected answer: nothing a human must renew
        return AccountOutcome(ig_id, access, "failed", f"not read: {exc}"), None
    except MALFORMED as exc:  # an answer of a shape we cannot read costs this account, not those already read
        return AccountOutcome(ig_id, access, "failed", malformed_message(SOURCE, exc)), None
    for name, part in rows.items():
        collected.setdefault(name, []).extend(part)
    if token is None:
        return AccountOutcome(ig_id, "public", "partial", PUBLIC_MESSAGE), None
    gaps = [f"{reader.missing} insights metrics withheld by the API (left absent, not 0)"] if reader.missing else []
    gaps += [f"{reader.skipped} unreadable media records left out"] if reader.skipped else []
    return AccountOutcome(ig_id, "creator", "partial" if gaps else "ok", "; ".join(gaps)), None
