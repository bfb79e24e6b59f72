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

from influence_pipeline.sources.api import instagram_map as m
from influence_pipeline.sources.api.accounts import RosterAccount, roster_accounts
from influence_pipeline.sources.api.client import AccessError, ApiClient, PullError, QuotaExhausted, RetryPolicy
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

    def get(self, endpoint: str, path: str, token: str, params: dict) -> dict:
        self.endpoints.add(f"GET /{self.v}/{endpoint}")
        body, _ = self.client.get(f"/{self.v}/{path}", params=params, headers={"Authorization": f"Bearer {token}"})
        return body if isinstance(body, dict) else {}

    def _edge(self, edge: str, ig_id: str, token: str) -> Iterator[dict]:
        """Media of an edge, newest first, page by page, feed posts older than the window left out. Paging stops once
        a page ends older than the window (a pinned old post at the top does not end it). The `paging.next` URL
        embeds the token, so the next page is rebuilt from the `after` cursor instead."""
        params = {"fields": m.MEDIA_FIELDS, "limit": PAGE_SIZE}
        while True:
            body = self.get("{ig-user-id}/" + edge, f"{ig_id}/{edge}", token, params)
            data = body.get("data") or []
            yield from (item for item in data if edge != "media" or m.in_window(item, self.now))
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not data or not paging.get("next") or not after or (edge == "media" and not m.in_window(data[-1],
                                                                                                        self.now)):
                return
            params = {**params, "after": after}

    def _insights(self, media_id: str, token: str, metrics: tuple[str, ...]) -> dict[str, int]:
        params = {"metric": ",".join(metrics)}
        return m.metric_values(self.get("{media-id}/insights", f"{media_id}/insights", token, params))

    def feed_insights(self, media_id: str, token: str) -> dict | None:
        """Insights of a feed post or reel; None when withheld (code 100: posted before the business conversion,
        too few viewers...). A media that rejects `views` is asked for the older `impressions` once; an account that
        answered so is asked for `impressions` first from then on."""
        order = (m.FEED_METRICS, m.LEGACY_FEED_METRICS)
        for metrics in (order[::-1] if self.legacy else order):
            try:
                values = self._insights(media_id, token, metrics)
            except m.GraphError:
                continue
            self.legacy = metrics == m.LEGACY_FEED_METRICS
            self.missing += len(set(metrics) - set(values))
            return m.insights_record(media_id, values, metrics, self.stamp, self.v)
        self.missing += 1
        return None

    def story_insights(self, media_id: str, token: str) -> dict | None:
        try:
            values = self._insights(media_id, token, m.STORY_METRICS)
        except m.GraphError:  # the story vanished between listing and insights
            self.missing += 1
            return None
        self.missing += len(set(m.STORY_METRICS) - set(values))
        return m.insights_record(media_id, values, m.STORY_METRICS, self.stamp, self.v)

    def creator(self, ig_id: str, token: str, mode: str) -> dict[str, list[dict]]:
        """One connected account: {file name: rows}."""
        rows: dict[str, list[dict]] = {"users.ndjson": [], "media.ndjson": [], "media_insights.ndjson": [],
                                       "story_insights.ndjson": []}
        if mode == "daily":
            user = self.get("{ig-user-id}", ig_id, token, {"fields": m.USER_FIELDS})
            rows["users.ndjson"].append(m.user_record(user, self.stamp, self.v))
            for item in self._edge("media", ig_id, token):
                if item.get("media_product_type") == "STORY":
                    continue
                rows["media.ndjson"].append(m.media_record(item, ig_id, self.stamp, self.v))
                insights = self.feed_insights(str(item["id"]), token)
                if insights is not None:
                    rows["media_insights.ndjson"].append(insights)
        for item in self._edge("stories", ig_id, token):
            rows["media.ndjson"].append(m.media_record(item, ig_id, self.stamp, self.v))
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
            fields = (f"business_discovery.username({account.handle}){{{m.USER_FIELDS},"
                      f"{media_edge}{{{m.MEDIA_FIELDS}}}}}")
            try:
                body = self.get("{brand-ig-user-id}?fields=business_discovery", self.brand_id, self.brand_token,
                                {"fields": fields})
            except m.GraphError as exc:
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
            data = media.get("data") or []
            media_rows += [m.media_record(item, account.platform_account_id, self.stamp, self.v) for item in data
                           if m.in_window(item, self.now) and item.get("media_product_type") != "STORY"]
            after = ((media.get("paging") or {}).get("cursors") or {}).get("after")
            if not data or not after or not m.in_window(data[-1], self.now):
                break
        return {"users.ndjson": [m.user_record(user, self.stamp, self.v)], "media.ndjson": media_rows}


def _observe(usage: dict, response: httpx.Response) -> None:
    for entry in m.buc_entries(response):
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
        return m.graph_error(response, body)

    secrets = [settings.secret("instagram_access_token") or ""] + [t.access_token for t in tokens.values() if t]
    collected: dict[str, list[dict]] = {}
    with ApiClient(SOURCE, settings.instagram_api_base_url, secrets=secrets, classifier=classify,
                   policy=policy) as client:
        reader = _Reader(settings, client, now, usage)
        quota: str | None = None
        for account in accounts:
            outcome = _pull_account(reader, account, tokens[account.platform_account_id], mode, settings, now,
                                    record, collected, quota)
            if outcome.status == "skipped" and outcome.message.startswith("quota"):
                quota = quota or outcome.message
            record.accounts.append(outcome)
        record.requests, record.retries = client.stats.requests, client.stats.retries
    record.incomplete = quota
    record.endpoints = sorted(reader.endpoints)
    record.warnings += m.usage_warnings(usage)
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
                  now: datetime, record: PullRecord, collected: dict, quota: str | None) -> AccountOutcome:
    """Read one account into `collected`; its outcome says how it went (the token never appears in it)."""
    ig_id = account.platform_account_id
    access = "creator" if token else "public"
    if quota:
        return AccountOutcome(ig_id, access, "skipped", quota)
    if token is None and mode != "daily":
        return AccountOutcome(ig_id, "public", "skipped", "stories need the creator's authorisation")
    if token is not None and token.expired(now):
        return AccountOutcome(ig_id, "creator", "stopped",
                              f"token expired on {token.expires_at[:10]}: ask the creator to reconnect")
    if token is not None and token.expires_within(now, settings.token_expiry_warning_days):
        record.warnings.append(f"instagram account {ig_id} (@{account.handle}): the creator's token expires on "
                               f"{token.expires_at[:10]}: ask the creator to reconnect before then")
    reader.missing, reader.legacy = 0, False
    try:
        rows = reader.creator(ig_id, token.access_token, mode) if token else reader.public(account)
    except AccessError as exc:
        return AccountOutcome(ig_id, access, "stopped", str(exc))
    except QuotaExhausted as exc:
        return AccountOutcome(ig_id, access, "skipped", f"quota exhausted: {exc}")
    except PullError as exc:  # retries spent or an unexpected answer: nothing a human must renew
        return AccountOutcome(ig_id, access, "failed", f"not read: {exc}")
    for name, part in rows.items():
        collected.setdefault(name, []).extend(part)
    if token is None:
        return AccountOutcome(ig_id, "public", "partial", PUBLIC_MESSAGE)
    if reader.missing:
        return AccountOutcome(ig_id, "creator", "partial",
                              f"{reader.missing} insights metrics withheld by the API (left absent, not 0)")
    return AccountOutcome(ig_id, "creator", "ok")
