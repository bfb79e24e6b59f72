"""Fake YouTube: Data API v3, Analytics API v2 and Google's token endpoint, served from a sample world's
youtube/<day>/ CSVs.

Under the prefix "/youtube":
- "/youtube/data"      -> INFLUENCE_YOUTUBE_API_BASE_URL       (paths /youtube/v3/channels|playlistItems|videos)
- "/youtube/analytics" -> INFLUENCE_YOUTUBE_ANALYTICS_BASE_URL (path /v2/reports)
- "/youtube/oauth/token" -> INFLUENCE_YOUTUBE_OAUTH_TOKEN_URL

The Data API shows the world's "today" (`world.day` folder): channels with subscriberCount rounded down to 3
significant figures, and video statistics as strings. Analytics answers a report date `d` from folder `d + 1` (the
export for `d`), so it can answer for past days, and only for `ids=channel==<id>` of a channel the token's Google
login owns (or `MINE`, its first channel): any other channel gets 403 forbidden, like Google.

Switches: `quota` / `quota_exhausted` (403 quotaExceeded), `revoked` (channels whose refresh token gives
invalid_grant), `page_size` (caps playlistItems pages), `analytics_until` (Analytics has no figures after that date
yet, like YouTube's 2-3 day delay), `failures` (errors answered by the next Data API calls: 503 backendError, 403
rateLimitExceeded, 429...).
"""
from __future__ import annotations

from datetime import date, timedelta

from influence_pipeline.fake_api.server import FakeRequest, FakeResponse, SampleWorld

DAY_METRICS = {"views": "views", "subscribersGained": "subscribers_gained", "subscribersLost": "subscribers_lost"}
VIDEO_METRICS = {"views": "views", "likes": "likes", "comments": "comments", "shares": "shares"}


def three_figures(count: int) -> int:
    """A subscriber count the way the Data API shows it: rounded down to 3 significant figures."""
    factor = 10 ** max(0, len(str(count)) - 3)
    return count // factor * factor


def google_error(status: int, reason: str, message: str, domain: str = "global") -> FakeResponse:
    return FakeResponse(status, {"error": {"code": status, "message": message,
                                           "errors": [{"message": message, "domain": domain, "reason": reason}]}})


class FakeYouTube:
    prefix = "/youtube"

    def __init__(self, world: SampleWorld, *, api_key: str = "fake-yt-api-key", client_id: str = "fake-client-id",
                 client_secret: str = "fake-client-secret", refresh_tokens: dict[str, str] | None = None,
                 page_size: int | None = None, quota: int = 10_000, quota_exhausted: bool = False,
                 revoked: set[str] | None = None, analytics_until: date | None = None,
                 failures: list[tuple[int, str]] | None = None):
        self.world, self.api_key = world, api_key
        self.client_id, self.client_secret = client_id, client_secret
        # channel id -> the refresh token of the Google login owning it; a login owning several channels has one
        # token for all of them, and `channel==MINE` reads the first of them
        self.refresh_tokens = dict(refresh_tokens or {})
        self.page_size, self.quota, self.quota_exhausted = page_size, quota, quota_exhausted
        self.revoked, self.analytics_until = set(revoked or ()), analytics_until
        self.failures = list(failures or [])  # (status, reason) answered by the next Data API calls, uncharged
        self.units = 0  # Data API units charged
        self.access: dict[str, list[str]] = {}  # access token -> the channels its Google login owns
        self._cache: dict[tuple[str, date], list[dict[str, str]]] = {}

    def _csv(self, name: str, day: date | None = None) -> list[dict[str, str]]:
        """A day's export, read once: the world's files do not change, only which day is "today"."""
        key = (name, day or self.world.day)
        if key not in self._cache:
            self._cache[key] = self.world.csv("youtube", name, key[1])
        return self._cache[key]

    def handle(self, request: FakeRequest) -> FakeResponse:
        path = request.path
        if path.startswith("/data/youtube/v3/"):
            return self._data(request, path.removeprefix("/data/youtube/v3/"))
        if path == "/analytics/v2/reports":
            return self._analytics(request)
        if path == "/oauth/token" and request.method == "POST":
            return self._token(request)
        return google_error(404, "notFound", f"no such endpoint {path}")

    # --- Data API ---
    def _data(self, request: FakeRequest, method: str) -> FakeResponse:
        if request.headers.get("x-goog-api-key") != self.api_key and request.arg("key") != self.api_key:
            return google_error(400, "keyInvalid", "API key not valid. Please pass a valid API key.", "usageLimits")
        if self.failures:
            status, reason = self.failures.pop(0)
            return google_error(status, reason, f"fake failure: {reason}")
        if self.quota_exhausted or self.units >= self.quota:
            return google_error(403, "quotaExceeded", "The request cannot be completed because you have exceeded "
                                "your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.", "youtube.quota")
        handler = {"channels": self._channels, "playlistItems": self._playlist, "videos": self._videos}.get(method)
        if handler is None:
            return google_error(404, "notFound", f"unknown method {method}")
        self.units += 1
        return handler(request)

    def _ids(self, request: FakeRequest) -> list[str] | FakeResponse:
        ids = [i for i in (request.arg("id") or "").split(",") if i]
        if request.arg("maxResults") is not None:  # documented: maxResults is not supported with id
            return google_error(400, "incompatibleParameters", "maxResults cannot be used with id.")
        if len(ids) > 50:
            return google_error(400, "invalidParameter", "The request specifies more than 50 ids.")
        return ids

    def _channels(self, request: FakeRequest) -> FakeResponse:
        ids = self._ids(request)
        if isinstance(ids, FakeResponse):
            return ids
        today = {r["channel_id"]: r for r in self._csv("channel_report.csv")}
        known = self._known_videos()
        items = []
        for cid in ids:
            if cid not in today:
                continue
            row = today[cid]
            lifetime = sum(int(r["views"] or 0) for d in self._days()
                           for r in self._csv("channel_report.csv", d) if r["channel_id"] == cid)
            items.append({"kind": "youtube#channel", "id": cid,
                          "snippet": {"title": row["channel_title"], "description": "", "customUrl": ""},
                          "statistics": {"viewCount": str(lifetime), "hiddenSubscriberCount": False,
                                         "subscriberCount": str(three_figures(int(row["subscriber_count"]))),
                                         "videoCount": str(sum(v["channel_id"] == cid for v in known.values()))},
                          "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": "UU" + cid[2:]}}})
        return FakeResponse(200, {"kind": "youtube#channelListResponse", "etag": "fake",
                                  "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
                                  "items": items})

    def _days(self) -> list[date]:
        return [d for d in self.world.days("youtube") if d <= self.world.day]

    def _known_videos(self) -> dict[str, dict]:
        """Every video any export up to today listed, with its latest row (a video out of the 14-day window keeps
        the numbers it last had: the sample no longer tracks it)."""
        known: dict[str, dict] = {}
        for d in self._days():
            for row in self._csv("video_report.csv", d):
                known[row["video_id"]] = row
        return known

    def _playlist(self, request: FakeRequest) -> FakeResponse:
        playlist = request.arg("playlistId") or ""
        cid = "UC" + playlist[2:]
        if not playlist.startswith("UU") or not any(r["channel_id"] == cid
                                                    for r in self._csv("channel_report.csv")):
            return google_error(404, "playlistNotFound", "The playlist identified with the request's playlistId "
                                "parameter cannot be found.", "youtube.playlistItem")
        size = max(0, min(int(request.arg("maxResults") or 5), 50, self.page_size or 50))
        videos = sorted((v for v in self._known_videos().values() if v["channel_id"] == cid),
                        key=lambda v: v["published_at"], reverse=True)
        offset = int((request.arg("pageToken") or "tok0")[3:])
        page = videos[offset:offset + size]
        body = {"kind": "youtube#playlistItemListResponse", "etag": "fake",
                "pageInfo": {"totalResults": len(videos), "resultsPerPage": size},
                "items": [{"kind": "youtube#playlistItem", "id": f"{playlist}.{v['video_id']}",
                           "contentDetails": {"videoId": v["video_id"], "videoPublishedAt": v["published_at"]}}
                          for v in page]}
        if offset + size < len(videos):
            body["nextPageToken"] = f"tok{offset + size}"
        if offset:
            body["prevPageToken"] = f"tok{max(0, offset - size)}"
        return FakeResponse(200, body)

    def _videos(self, request: FakeRequest) -> FakeResponse:
        ids = self._ids(request)
        if isinstance(ids, FakeResponse):
            return ids
        known = self._known_videos()
        items = []
        for vid in ids:
            if vid not in known:
                continue
            v = known[vid]
            short = v["is_short"] == "true"
            items.append({"kind": "youtube#video", "id": vid,
                          "snippet": {"publishedAt": v["published_at"], "channelId": v["channel_id"],
                                      "title": v["title"], "description": "", "categoryId": "22"},
                          "contentDetails": {"duration": "PT42S" if short else "PT9M14S", "definition": "hd"},
                          "statistics": {"viewCount": v["views"], "likeCount": v["likes"], "favoriteCount": "0",
                                         "commentCount": v["comments"]}})
        return FakeResponse(200, {"kind": "youtube#videoListResponse", "etag": "fake",
                                  "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
                                  "items": items})

    # --- Google OAuth ---
    def _token(self, request: FakeRequest) -> FakeResponse:
        form = request.form()
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return FakeResponse(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        if form.get("grant_type") != "refresh_token":
            return FakeResponse(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
        owned = [c for c, t in self.refresh_tokens.items() if t == form.get("refresh_token")]
        if not owned or self.revoked & set(owned):
            return FakeResponse(400, {"error": "invalid_grant", "error_description": "Token has been expired or "
                                      "revoked."})
        access = f"ya29.fake-{len(self.access) + 1:04d}-{owned[0][-6:]}"
        self.access[access] = owned
        return FakeResponse(200, {"access_token": access, "expires_in": 3599, "token_type": "Bearer",
                                  "scope": "https://www.googleapis.com/auth/yt-analytics.readonly"})

    # --- Analytics ---
    def _analytics(self, request: FakeRequest) -> FakeResponse:
        owned = self.access.get(request.bearer() or "")
        if owned is None:
            return google_error(401, "authError", "Request had invalid authentication credentials. Expected OAuth 2 "
                                "access token, login cookie or other valid authentication credential.")
        asked = (request.arg("ids") or "").removeprefix("channel==")
        owner = owned[0] if asked == "MINE" else asked
        if owner not in owned:  # like Google: a channel the token's login does not own is refused, not empty
            return google_error(403, "forbidden", "Forbidden")
        try:
            start, end = date.fromisoformat(request.arg("startDate")), date.fromisoformat(request.arg("endDate"))
        except (TypeError, ValueError):
            return google_error(400, "badRequest", "Required: startDate and endDate (YYYY-MM-DD).")
        metrics = (request.arg("metrics") or "").split(",")
        dims = request.arg("dimensions") or ""
        if start > end:
            return google_error(400, "badRequest", "startDate must be on or before endDate.")
        if dims == "day" and set(metrics) <= set(DAY_METRICS):
            rows = [[d.isoformat(), *[int(r[DAY_METRICS[x]]) for x in metrics]]
                    for d in (start + timedelta(days=i) for i in range((end - start).days + 1)) if self._ready(d)
                    for r in self._csv("channel_report.csv", d + timedelta(days=1))
                    if r["channel_id"] == owner]
            return self._table(["day"], metrics, rows)
        if dims in ("video", "video,creatorContentType") and set(metrics) <= set(VIDEO_METRICS):
            limit = int(request.arg("maxResults") or 0)
            if not request.arg("sort") or not 0 < limit <= 200:
                return google_error(400, "badRequest", "The query is not supported: a video report needs sort and "
                                    "maxResults <= 200.")
            wanted = set((request.arg("filters") or "").removeprefix("video==").split(","))
            found = [r for r in self._csv("video_report.csv", end + timedelta(days=1))
                     if self._ready(end) and r["channel_id"] == owner and r["video_id"] in wanted]
            found.sort(key=lambda r: -int(r["views"]))
            first = int(request.arg("startIndex") or 1) - 1
            kind = ["SHORTS" if r["is_short"] == "true" else "VIDEO_ON_DEMAND" for r in found]
            rows = [[r["video_id"], *([k] if "," in dims else []), *[int(r[VIDEO_METRICS[x]]) for x in metrics]]
                    for r, k in zip(found, kind)][first:first + limit]
            return self._table(dims.split(","), metrics, rows)
        return google_error(400, "badRequest", f"The query is not supported: dimensions={dims} metrics="
                            f"{','.join(metrics)}")

    def _ready(self, day: date) -> bool:
        return day < self.world.day and (self.analytics_until is None or day <= self.analytics_until)

    @staticmethod
    def _table(dims: list[str], metrics: list[str], rows: list[list]) -> FakeResponse:
        headers = [{"name": d, "columnType": "DIMENSION", "dataType": "STRING"} for d in dims]
        headers += [{"name": x, "columnType": "METRIC", "dataType": "INTEGER"} for x in metrics]
        return FakeResponse(200, {"kind": "youtubeAnalytics#resultTable", "columnHeaders": headers, "rows": rows})
