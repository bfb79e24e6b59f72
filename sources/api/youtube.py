"""YouTube pull: the brand's API key reads every roster channel publicly (Data API v3); a creator who connected
their channel is also read through YouTube Analytics v2 with their Google refresh token. Writes the day's
`channel_report.csv` and `video_report.csv` (docs/landing.md) and restates the Analytics columns of the two previous
landing days, because YouTube keeps revising a day's figures for about three days.

Choices:
- Data API units are counted before each call against `youtube_daily_quota` per Pacific day (Google's reset); the
  pull stops before overspending, and on a 403 `quotaExceeded`. Channels pulled whole before the stop are written,
  the others are `skipped` in `_pull.json`; when no channel was pulled no file is written (the day stays
  "not delivered" rather than "delivered empty"). Analytics calls cost no Data API units.
- `subscriber_count` is the Data API's value, rounded by YouTube to 3 significant figures even for connected
  creators (Analytics has gains and losses, not a total): a documented loss against an exact export.
- Analytics days are Pacific days; the report date is taken as the landing date - 1, like the delivered export.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx

from influence_pipeline.sources.api import youtube_map as m
from influence_pipeline.sources.api.accounts import roster_accounts
from influence_pipeline.sources.api.client import AccessError, ApiClient, PullError, QuotaExhausted, RetryPolicy, redact
from influence_pipeline.sources.api.config import ApiSettings
from influence_pipeline.sources.api.landing_out import AccountOutcome, PullRecord, landing_file, utc_stamp, write_csv
from influence_pipeline.sources.api.state import CursorStore, Token, TokenStore

SOURCE = "youtube"
API_VERSION = "data-v3+analytics-v2"
PACIFIC = ZoneInfo("America/Los_Angeles")
WINDOW_DAYS = 14  # videos stay in the report for 14 days after posting
RESTATE_DAYS = 2  # with today's report date: Analytics for the last 3 days every night
PAGE = 50  # the Data API's maximum ids / maxResults per call
ENDPOINTS = ["GET /youtube/v3/channels", "GET /youtube/v3/playlistItems", "GET /youtube/v3/videos",
             "POST <oauth token url>", "GET /v2/reports"]
PUBLIC_ONLY = ("subscribers_gained, subscribers_lost, daily views, shares and is_short need the creator's YouTube "
               "Analytics authorisation: ask the creator to connect the channel")


class QuotaBudget:
    """Data API units spent per Pacific day, kept in the source's cursor file so several runs share one budget."""

    def __init__(self, store: CursorStore, budget: int, now: datetime):
        self.store, self.budget = store, budget
        self.day = now.astimezone(PACIFIC).date().isoformat()
        saved = store.get("quota") or {}
        self.before = saved.get("used", 0) if saved.get("day") == self.day else 0
        self.spent = 0  # by this run, for PullRecord.quota_used

    def spend(self, units: int, what: str) -> None:
        used = self.before + self.spent
        if used + units > self.budget:
            raise QuotaExhausted(f"youtube: the daily Data API budget is spent ({used} of {self.budget} units used on "
                                 f"{self.day} Pacific; {what} needs {units}); it resets at midnight Pacific time")
        self.spent += units
        self.store.put(quota={"day": self.day, "used": used + units})

    def refused(self) -> None:
        """Google said the quota is spent: later runs of the same Pacific day need not try."""
        self.store.put(quota={"day": self.day, "used": max(self.budget, self.before + self.spent)})


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
                                   classifier=m.data_classifier, policy=policy)
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
        return body or {}

    def channels(self, ids: list[str]) -> dict[str, dict]:
        found = {}
        for i in range(0, len(ids), PAGE):
            body = self._data("/youtube/v3/channels", {"part": "snippet,statistics,contentDetails",
                                                       "id": ",".join(ids[i:i + PAGE])})
            found.update({c["id"]: c for c in body.get("items") or []})
        return found

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
        access = body["access_token"]
        token = creator.token
        # Google refresh tokens do not rotate; keep a new one should Google ever send it
        creator.token = Token(access, (self.now + timedelta(seconds=int(body.get("expires_in", 3600)))).isoformat(),
                              body.get("refresh_token") or token.refresh_token, token.refresh_expires_at, token.extra)
        self.tokens.put(SOURCE, creator.channel_id, creator.token)
        creator.access = access
        return access

    def report(self, creator: Creator, params: dict) -> list[dict]:
        """One Analytics query for the creator's own channel; a stored access token refused mid-life is refreshed
        once (a token this run just obtained and still refused is an access problem, not staleness)."""
        stored = creator.token
        if creator.access is None and (not stored.access_token or stored.expires_within(self.now, 5 / 1440)):
            self._refresh(creator)
        for _ in range(2):
            value = creator.access or stored.access_token
            if value not in self.analytics.secrets:
                self.analytics.secrets.append(value)
            try:
                body, _ = self.analytics.get("/v2/reports", params={"ids": "channel==MINE", **params},
                                             headers={"Authorization": f"Bearer {value}"})
                return m.table(body)
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
    def pull(self) -> PullRecord:
        accounts = roster_accounts(self.settings.landing_dir, self.ds, SOURCE)
        ids = [a.platform_account_id for a in accounts]
        rec, rep = self.record, self.rep.isoformat()
        channel_rows, video_rows, creators, pulled = [], [], [], 0
        source_stop: PullError | None = None
        try:
            channels = self.channels(ids)
        except PullError as exc:  # quota spent, or the brand's key refused: no channel can be read this run
            channels, source_stop = {}, exc
            rec.warnings.append(str(exc))
        for cid in ids:
            if source_stop is not None:
                status = "skipped" if isinstance(source_stop, QuotaExhausted) else "stopped"
                rec.accounts.append(AccountOutcome(cid, "none", status, str(source_stop)))
                continue
            if cid not in channels:
                rec.accounts.append(AccountOutcome(cid, "none", "stopped", "youtube: the Data API does not know this "
                                                   "channel id (deleted, or mistyped in the roster)"))
                continue
            try:
                videos = self.videos(self.recent_uploads(channels[cid]))
            except QuotaExhausted as exc:
                source_stop = exc
                rec.warnings.append(str(exc))
                rec.accounts.append(AccountOutcome(cid, "none", "skipped", str(exc)))
                continue
            except PullError as exc:
                rec.accounts.append(AccountOutcome(cid, "public", "failed", str(exc)))
                continue
            pulled += 1
            rows = [m.video_row(rep, v, None) for v in videos]
            day, outcome = None, AccountOutcome(cid, "public", "partial", PUBLIC_ONLY)
            token = self.tokens.get(SOURCE, cid)
            if token is not None:
                creator = Creator(cid, token)
                try:
                    creator.days = {r["day"]: r for r in self.report(creator, {
                        "startDate": (self.rep - timedelta(days=RESTATE_DAYS)).isoformat(), "endDate": rep,
                        "metrics": m.DAY_METRICS, "dimensions": "day", "sort": "day"})}
                    per_video = self.video_report(creator, rows, self.rep)
                except AccessError as exc:
                    outcome = AccountOutcome(cid, "public", "stopped", f"{exc} (public figures written)")
                except PullError as exc:
                    outcome = AccountOutcome(cid, "public", "partial", f"{exc} (public figures written)")
                else:
                    creators.append(creator)
                    day = creator.days.get(rep)
                    rows = [m.video_row(rep, v, per_video.get(v["id"])) for v in videos]
                    outcome = AccountOutcome(cid, "creator", "ok" if day else "partial", "" if day else
                                             f"YouTube Analytics has no figures for {rep} yet: left empty, filled "
                                             "by the next nights' restatement")
            rec.accounts.append(outcome)
            channel_rows.append(m.channel_row(rep, channels[cid], day))
            video_rows += rows
        if source_stop is not None:
            rec.incomplete = str(source_stop)
        if pulled:
            for name, columns, rows in (("channel_report.csv", m.CHANNEL_COLUMNS, channel_rows),
                                        ("video_report.csv", m.VIDEO_COLUMNS, video_rows)):
                rec.files[name] = write_csv(landing_file(self.settings.landing_dir, SOURCE, self.ds, name), columns,
                                            rows)
        self.restate(creators)
        rec.quota_used, rec.requests = self.budget.spent, sum(
            c.stats.requests for c in (self.data, self.analytics, self.oauth))
        rec.retries = sum(c.stats.retries for c in (self.data, self.analytics, self.oauth))
        return rec

    def restate(self, creators: list[Creator]) -> None:
        """Rewrite the two previous landing days' files with fresh Analytics figures, only where they changed (an
        unchanged restatement leaves the files, and so ingestion, alone)."""
        for back in range(1, RESTATE_DAYS + 1):
            landing, report_date = self.ds - timedelta(days=back), self.rep - timedelta(days=back)
            for name in ("channel_report.csv", "video_report.csv"):
                path = landing_file(self.settings.landing_dir, SOURCE, landing, name)
                if not path.exists():
                    continue
                with path.open(encoding="utf-8", newline="") as handle:
                    reader = csv.DictReader(handle)
                    old, columns = list(reader), list(reader.fieldnames or [])
                new = old
                for creator in creators:
                    try:
                        fresh = {} if name == "channel_report.csv" else self.video_report(
                            creator, [r for r in new if r.get("channel_id") == creator.channel_id], report_date)
                    except PullError as exc:
                        self.record.warnings.append(f"restating {landing}/{name} for {creator.channel_id}: {exc}")
                        continue
                    new = m.restate(new, creator.channel_id, (creator.days or {}).get(report_date.isoformat()),
                                    fresh)
                if new != old:
                    self.record.files[f"{landing.isoformat()}/{name}"] = write_csv(path, columns, new)


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
