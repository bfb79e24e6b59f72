"""YouTube pull: the brand's API key reads every roster channel publicly (Data API v3); a creator who connected
their channel is also read through YouTube Analytics v2 with their Google refresh token. Writes the day's
`channel_report.csv` and `video_report.csv` (docs/landing.md) and restates the Analytics columns of the two previous
landing days, because YouTube keeps revising a day's figures for about three days.

Choices:
- Data API units are counted before each call against `youtube_daily_quota` per Pacific day (Google's reset); the
  pull stops before overspending, and on a 403 `quotaExceeded`. Channels pulled whole before the stop are written,
  the others are `skipped` in `_pull.json`; when no channel was pulled no file is written (the day stays
  "not delivered" rather than "delivered empty"). Analytics calls cost no Data API units.
- A rerun of a landing day merges into the earlier runs' files: channels it did not read keep their rows.
- One channel's failure or unreadable answer costs that channel only (`failed`, or `stopped` if a human must act).
- Analytics is asked for the roster's channel id, never `channel==MINE`: a Google login that owns several channels,
  or connected the wrong one, is refused (403) and the channel `stopped`, rather than another channel's figures filed.
- `subscriber_count` is the Data API's value, rounded by YouTube to 3 significant figures even for connected
  creators (Analytics has gains and losses, not a total): a documented loss against an exact export.
- Analytics days are Pacific days; the report date is taken as the landing date - 1, like the delivered export.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import httpx

from influence_pipeline.sources.api import youtube_map as m
from influence_pipeline.sources.api.accounts import roster_accounts
from influence_pipeline.sources.api.client import (
    MALFORMED,
    AccessError,
    ApiClient,
    PullError,
    QuotaExhausted,
    RetryPolicy,
    expect_object,
    redact,
)
from influence_pipeline.sources.api.config import ApiSettings
from influence_pipeline.sources.api.landing_out import AccountOutcome, PullRecord, landing_file, utc_stamp
from influence_pipeline.sources.api.state import CursorStore, Token, TokenStore
from influence_pipeline.sources.api.youtube_restate import FILES, RESTATE_DAYS, QuotaBudget, merge_day, restate

SOURCE = "youtube"
API_VERSION = "data-v3+analytics-v2"
WINDOW_DAYS = 14  # videos stay in the report for 14 days after posting
PAGE = 50  # the Data API's maximum ids / maxResults per call
ENDPOINTS = ["GET /youtube/v3/channels", "GET /youtube/v3/playlistItems", "GET /youtube/v3/videos",
             "POST <oauth token url>", "GET /v2/reports"]
PUBLIC_WRITTEN = " (public figures written unless an earlier run of the day landed more)"
PUBLIC_ONLY = ("subscribers_gained, subscribers_lost, daily views, shares and is_short need the creator's YouTube "
               "Analytics authorisation: ask the creator to connect the channel")


@dataclass
class Creator:
    channel_id: str
    token: Token
    access: str | None = None  # an access token obtained by this run
    days: dict | None = None  # Analytics day rows by date, for today's and the restated report dates


def _split(url: str) -> tuple[str, str]:
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode()}", parsed.raw_path.decode() or "/"


class _Run:
    def __init__(self, settings: ApiSettings, ds: date, now: datetime, policy: RetryPolicy):
        self.settings, self.ds, self.now = settings, ds, now
        self.rep = ds - timedelta(days=1)
        # the report is "as of the end of the report date", so the window closes at midnight UTC of the landing day
        self.end = datetime.combine(ds, time(), timezone.utc)
        self.start = self.end - timedelta(days=WINDOW_DAYS)
        key = settings.secret("youtube_api_key") or ""
        self.secrets = [key, settings.secret("google_client_secret") or ""]
        self.data = ApiClient(SOURCE, settings.youtube_api_base_url, headers={"X-Goog-Api-Key": key},
                              secrets=self.secrets, classifier=m.data_classifier, policy=policy)
        self.analytics = ApiClient(SOURCE, settings.youtube_analytics_base_url, secrets=self.secrets,
                                   classifier=m.analytics_classifier, policy=policy)
        base, self.token_path = _split(settings.youtube_oauth_token_url)
        self.oauth = ApiClient(SOURCE, base, secrets=self.secrets, classifier=m.token_classifier, policy=policy)
        self.budget = QuotaBudget(CursorStore(settings.data_dir, SOURCE), settings.youtube_daily_quota, now)
        self.tokens = TokenStore(settings.token_store_path)
        self.record = PullRecord(SOURCE, ds.isoformat(), API_VERSION, utc_stamp(now), endpoints=list(ENDPOINTS))

    def close(self) -> None:
        for client in (self.data, self.analytics, self.oauth):
            client.close()

    # --- Data API (brand's key, counted units) ---
    def _data(self, path: str, params: dict) -> dict:
        self.budget.spend(1, path)
        try:
            body, _ = self.data.get(path, params=params)
        except QuotaExhausted:
            self.budget.refused()
            raise
        return expect_object(body, f"youtube GET {path}")

    def channels(self, ids: list[str]) -> tuple[dict[str, dict], dict[str, str], PullError | None]:
        """The roster's channel resources by id, the channels of batches that could not be read (id -> why), and what
        stopped the source (a spent quota, the brand's key refused) if anything did. A batch that keeps failing or
        answers oddly costs its own 50 channels only; the batches read before a stop are kept."""
        found: dict[str, dict] = {}
        failed: dict[str, str] = {}
        for i in range(0, len(ids), PAGE):
            batch = ids[i:i + PAGE]
            try:
                body = self._data("/youtube/v3/channels", {"part": "snippet,statistics,contentDetails",
                                                           "id": ",".join(batch)})
                items = {c["id"]: c for c in body.get("items") or []}
            except (QuotaExhausted, AccessError) as exc:  # no later call can succeed this run
                return found, failed, exc
            except (PullError, *MALFORMED) as exc:
                failed.update(dict.fromkeys(batch, m.describe(exc)))
                continue
            found.update(items)
        return found, failed, None

    def recent_uploads(self, channel: dict) -> list[str]:
        """Ids of the channel's videos published in the window, newest first; stops paging at the first older one
        (the uploads playlist lists newest first)."""
        playlist = channel["contentDetails"]["relatedPlaylists"]["uploads"]
        ids, token = [], None
        while True:
            params = {"part": "contentDetails", "playlistId": playlist, "maxResults": PAGE}
            if token:
                params["pageToken"] = token
            body = self._data("/youtube/v3/playlistItems", params)
            for item in body.get("items") or []:
                when = m.published(item)
                if when is None:
                    continue
                if when < self.start:
                    return ids
                if when < self.end:
                    ids.append(item["contentDetails"]["videoId"])
            token = body.get("nextPageToken")
            if not token:
                return ids

    def videos(self, ids: list[str]) -> list[dict]:
        out = []
        for i in range(0, len(ids), PAGE):
            body = self._data("/youtube/v3/videos", {"part": "snippet,statistics,contentDetails",
                                                     "id": ",".join(ids[i:i + PAGE])})  # no maxResults: not allowed with id
            by_id = {v["id"]: v for v in body.get("items") or []}
            out += [by_id[v] for v in ids[i:i + PAGE] if v in by_id]  # a video deleted since listing drops out
        return out

    # --- creator access (Google OAuth, YouTube Analytics) ---
    def _refresh(self, creator: Creator) -> str:
        client_id, secret = self.settings.google_client_id, self.settings.secret("google_client_secret")
        if not (client_id and secret and creator.token.refresh_token):
            raise AccessError("youtube: INFLUENCE_GOOGLE_CLIENT_ID / INFLUENCE_GOOGLE_CLIENT_SECRET or the stored "
                              "refresh token is missing: set them, or ask the creator to reconnect")
        if creator.token.refresh_token not in self.oauth.secrets:
            self.oauth.secrets.append(creator.token.refresh_token)
        body, _ = self.oauth.post(self.token_path, data={
            "grant_type": "refresh_token", "client_id": client_id, "client_secret": secret,
            "refresh_token": creator.token.refresh_token})
        body = expect_object(body, "youtube token refresh")
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise PullError("youtube token refresh: Google's answer has no access_token; the next pull tries again")
        token = creator.token
        # Google refresh tokens do not rotate; keep a new one should Google ever send it
        creator.token = Token(access, (self.now + timedelta(seconds=int(body.get("expires_in", 3600)))).isoformat(),
                              body.get("refresh_token") or token.refresh_token, token.refresh_expires_at, token.extra)
        self.tokens.put(SOURCE, creator.channel_id, creator.token)
        creator.access = access
        return access

    def report(self, creator: Creator, params: dict) -> list[dict]:
        """One Analytics query for the roster's channel by its id (`channel==MINE` would read whichever channel the
        creator's Google login defaults to, and file its figures under the roster's); a stored access token refused
        mid-life is refreshed once (a token this run just obtained and still refused is an access problem)."""
        stored = creator.token
        if creator.access is None and (not stored.access_token or stored.expires_within(self.now, 5 / 1440)):
            self._refresh(creator)
        for _ in range(2):
            value = creator.access or stored.access_token
            if value not in self.analytics.secrets:
                self.analytics.secrets.append(value)
            try:
                body, _ = self.analytics.get("/v2/reports", params={"ids": f"channel=={creator.channel_id}", **params},
                                             headers={"Authorization": f"Bearer {value}"})
                return m.table(expect_object(body, "youtube GET /v2/reports"))
            except m.NotOwner:
                raise AccessError(f"youtube: the connected Google account does not own channel {creator.channel_id}: "
                                  "ask the creator to reconnect with the right channel") from None
            except AccessError:
                if creator.access is not None:
                    raise
                self._refresh(creator)
        raise AssertionError("unreachable: the second attempt uses a fresh token")

    def video_report(self, creator: Creator, rows: list[dict], end: date) -> dict[str, dict]:
        """Lifetime Analytics per video to the end of `end` (startDate before the oldest video's publication, a day
        early because Analytics days are Pacific), with the content type that tells a Short."""
        if not rows:
            return {}
        first = min(datetime.fromisoformat(m.zulu(r["published_at"]).replace("Z", "+00:00")) for r in rows)
        ids, out = [r["video_id"] for r in rows], {}
        for i in range(0, len(ids), 200):  # 200: the top-videos report's maxResults
            found = self.report(creator, {
                "startDate": (first.date() - timedelta(days=1)).isoformat(), "endDate": end.isoformat(),
                "metrics": m.VIDEO_METRICS, "dimensions": "video,creatorContentType",
                "filters": "video==" + ",".join(ids[i:i + 200]), "sort": "-views", "maxResults": 200})
            out.update({r["video"]: r for r in found})
        return out

    # --- the pull ---
    def read_channel(self, cid: str, channel: dict) -> tuple[AccountOutcome, dict, list[dict], Creator | None]:
        """One roster channel: its public figures (Data API), then its creator's Analytics when connected. Raises what
        stops the public read; an Analytics failure costs the Analytics columns only (the public figures land)."""
        rep = self.rep.isoformat()
        videos = self.videos(self.recent_uploads(channel))
        row, rows = m.channel_row(rep, channel, None), [m.video_row(rep, v, None) for v in videos]
        token = self.tokens.get(SOURCE, cid)
        if token is None:
            return AccountOutcome(cid, "public", "partial", PUBLIC_ONLY), row, rows, None
        creator = Creator(cid, token)
        try:
            creator.days = {r["day"]: r for r in self.report(creator, {
                "startDate": (self.rep - timedelta(days=RESTATE_DAYS)).isoformat(), "endDate": rep,
                "metrics": m.DAY_METRICS, "dimensions": "day", "sort": "day"})}
            per_video, day = self.video_report(creator, rows, self.rep), creator.days.get(rep)
            row = m.channel_row(rep, channel, day, "creator")
            rows = [m.video_row(rep, v, per_video.get(v["id"])) for v in videos]
        except (PullError, *MALFORMED) as exc:
            status = "stopped" if isinstance(exc, AccessError) else "partial"
            return AccountOutcome(cid, "public", status, m.describe(exc) + PUBLIC_WRITTEN), row, rows, None
        if day:
            return AccountOutcome(cid, "creator", "ok"), row, rows, creator
        return AccountOutcome(cid, "creator", "partial", f"YouTube Analytics has no figures for {rep} yet: left "
                              "empty, filled by the next nights' restatement"), row, rows, creator

    def pull(self) -> PullRecord:
        ids = [a.platform_account_id for a in roster_accounts(self.settings.landing_dir, self.ds, SOURCE)]
        rec, out, creators = self.record, {name: [] for name, _, _ in FILES}, []
        read: set[str] = set()  # channels read whole (as far as their access goes): their rows replace earlier ones
        fallback: set[str] = set()  # Analytics failed: public rows, kept only where no earlier run landed any
        channels, failed, stop = self.channels(ids)
        if stop is not None:  # quota spent, or the brand's key refused: no channel can be read this run
            rec.warnings.append(str(stop))
        for cid in ids:
            if stop is not None:
                status = "skipped" if isinstance(stop, QuotaExhausted) else "stopped"
                rec.accounts.append(AccountOutcome(cid, "none", status, str(stop)))
                continue
            if cid in failed:
                rec.accounts.append(AccountOutcome(cid, "none", "failed", failed[cid]))
                continue
            if cid not in channels:
                rec.accounts.append(AccountOutcome(cid, "none", "stopped", "youtube: the Data API does not know this "
                                                   "channel id (deleted, or mistyped in the roster)"))
                continue
            try:
                outcome, row, rows, creator = self.read_channel(cid, channels[cid])
            except QuotaExhausted as exc:
                stop = exc
                rec.warnings.append(str(exc))
                rec.accounts.append(AccountOutcome(cid, "none", "skipped", str(exc)))
                continue
            except (PullError, *MALFORMED) as exc:  # one odd answer or record costs this channel, not the others
                status = "stopped" if isinstance(exc, AccessError) else "failed"
                rec.accounts.append(AccountOutcome(cid, "public", status, m.describe(exc)))
                continue
            rec.accounts.append(outcome)
            (fallback if outcome.message.endswith(PUBLIC_WRITTEN) else read).add(cid)
            out["channel_report.csv"].append(row)
            out["video_report.csv"] += rows
            creators += [creator] if creator else []
        if stop is not None:
            rec.incomplete = str(stop)
        if read or fallback:  # none read: the day stays "not delivered" (or keeps an earlier run's files), not empty
            for name, columns, key in FILES:
                rec.files[name] = merge_day(landing_file(self.settings.landing_dir, SOURCE, self.ds, name), columns,
                                            out[name], key, read, fallback)
        restate(self, creators)
        rec.quota_used, rec.requests = self.budget.spent, sum(
            c.stats.requests for c in (self.data, self.analytics, self.oauth))
        rec.retries = sum(c.stats.retries for c in (self.data, self.analytics, self.oauth))
        return rec


def pull(settings: ApiSettings, ds: date, *, now: datetime, policy: RetryPolicy, mode: str = "daily") -> PullRecord:
    """Pull YouTube for landing date `ds` (report date `ds` - 1) into landing/youtube/<ds>/; returns the record."""
    if mode != "daily":
        raise ValueError(f"youtube has no {mode!r} pull")
    run = _Run(settings, ds, now, policy)
    try:
        record = run.pull()
    finally:
        run.close()
    record.warnings = [redact(w, run.secrets) for w in record.warnings]
    return record
