"""Fake Instagram Graph API: serves a SampleWorld's instagram/<day>/ files in the Graph API's shapes, under
"/instagram/<version>/...".

Endpoints: GET /{ig-user-id} (profile fields), /{ig-user-id}/media and /stories (cursor pages, newest first; `paging.next`
embeds the token as the real API does), /{media-id}/insights (`{"data": [{"name", "period", "values": [{"value"}]}]}`),
and Business Discovery on the brand's id (`fields=business_discovery.username(h){...,media.limit(n).after(c){...}}`).
The feed edge also lists posts older than the 14-day window (from earlier sample days), as the real edge does.
Errors use the Graph API's JSON `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}` with HTTP 400.
"""
from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field

from influence_pipeline.fake_api.server import FakeRequest, FakeResponse, SampleWorld

FEED_METRICS = {"reach", "saved", "shares", "views", "likes", "comments", "total_interactions"}
STORY_METRICS = {"reach", "replies", "shares", "views", "navigation", "follows", "profile_visits",
                 "profile_activity", "total_interactions"}
_BD = re.compile(r"^business_discovery\.username\(([^)]*)\)\{(.*)\}$")
_MEDIA = re.compile(r"media((?:\.\w+\([^)]*\))*)\{([^}]*)\}")
_MOD = re.compile(r"\.(\w+)\(([^)]*)\)")


def _error(code: int, message: str, subcode: int | None = None, kind: str = "OAuthException",
           headers: dict | None = None) -> FakeResponse:
    err = {"message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEfFake"}
    if subcode is not None:
        err["error_subcode"] = subcode
    return FakeResponse(400, {"error": err}, headers or {})


def _cursor(i: int) -> str:
    return base64.b64encode(f"offset:{i}".encode()).decode()


def _offset(cursor: str | None) -> int:
    return int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0


@dataclass
class FakeInstagram:
    world: SampleWorld
    brand_token: str = "brand-token"
    brand_id: str = "17841400000000001"
    creator_tokens: dict[str, str] = field(default_factory=dict)  # ig user id -> token
    page_size: int = 25  # the most items a page holds, whatever `limit` asks
    rate_limit_next: int = 0  # the next N requests answer code 80002 with the BUC header
    rate_limit_wait_minutes: int = 0  # estimated_time_to_regain_access in those answers
    usage_pct: int = 5  # call_count / total_time the BUC header reports on every answer
    expired_tokens: set[str] = field(default_factory=set)  # answer 190/463
    revoked_tokens: set[str] = field(default_factory=set)  # answer 190/458
    withheld: dict[str, set[str]] = field(default_factory=dict)  # media id -> metrics left out of `data`
    no_insights: set[str] = field(default_factory=set)  # media ids whose insights answer code 100
    vanished: set[str] = field(default_factory=set)  # story ids gone (not listed, insights code 100)
    garbled: dict[str, dict] = field(default_factory=dict)  # media id -> fields served over its own (None drops one)
    story_bump: int = 0  # added to served story metrics, to tell a later pull's values from an earlier one's
    prefix: str = "/instagram"
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    # --- the world as the API sees it -------------------------------------------------------------------------------
    def _cached(self, name: str, build):
        """The world's files are read once per world day (tests move `world.day` forward)."""
        key = (name, self.world.day)
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def _media(self) -> dict[str, dict]:
        return self._cached("media", self._load_media)

    def _load_media(self) -> dict[str, dict]:
        """Feed posts from every sample day up to today (latest version of each), live stories from today only."""
        found: dict[str, dict] = {}
        for day in [d for d in self.world.days("instagram") if d <= self.world.day]:
            for rec in self.world.ndjson("instagram", "media.ndjson", day):
                if rec.get("media_product_type") != "STORY" or day == self.world.day:
                    found[rec["id"]] = rec
        stories_today = {r["id"] for r in self.world.ndjson("instagram", "media.ndjson")
                         if r.get("media_product_type") == "STORY"}
        return {k: v for k, v in found.items() if v.get("media_product_type") != "STORY" or k in stories_today}

    def _insights(self, media_id: str) -> dict | None:
        return self._cached("insights", self._load_insights).get(media_id)

    def _load_insights(self) -> dict[str, dict]:
        found: dict[str, dict] = {}
        for day in [d for d in self.world.days("instagram") if d <= self.world.day]:  # later days win
            for name in ("media_insights.ndjson", "story_insights.ndjson"):
                found.update({r["media_id"]: r for r in self.world.ndjson("instagram", name, day)})
        return found

    def _users(self) -> dict[str, dict]:
        return self._cached("users", lambda: {u["id"]: u for u in self.world.ndjson("instagram", "users.ndjson")})

    # --- HTTP -------------------------------------------------------------------------------------------------------
    def _usage_header(self, wait: int = 0) -> dict[str, str]:
        entry = {"type": "instagram", "call_count": self.usage_pct, "total_cputime": 1, "total_time": self.usage_pct,
                 "estimated_time_to_regain_access": wait}
        return {"x-business-use-case-usage": json.dumps({self.brand_id: [entry]})}

    def handle(self, request: FakeRequest) -> FakeResponse:
        response = self._route(request)
        response.headers = {**self._usage_header(), **response.headers}
        return response

    def _route(self, request: FakeRequest) -> FakeResponse:
        token = request.bearer() or request.arg("access_token")
        if not token:
            return _error(104, "An access token is required to request this resource.")
        if token in self.expired_tokens:
            return _error(190, "Error validating access token: Session has expired.", 463)
        if token in self.revoked_tokens:
            return _error(190, "Error validating access token: The user has not authorized application.", 458)
        owner_of = {t: i for i, t in self.creator_tokens.items()}
        if token != self.brand_token and token not in owner_of:
            return _error(190, "Invalid OAuth access token - Cannot parse access token", 467)
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return _error(80002, "There have been too many calls to this Instagram account. Wait a bit and try "
                          "again.", kind="OAuthException", headers=self._usage_header(self.rate_limit_wait_minutes))
        parts = [p for p in request.path.split("/") if p]
        if len(parts) < 2 or not re.fullmatch(r"v\d+\.\d+", parts[0]):
            return _error(2500, "Unknown path components", kind="OAuthException")
        node, edge = parts[1], (parts[2] if len(parts) > 2 else None)
        if node == self.brand_id and token == self.brand_token and edge is None:
            return self._business_discovery(request)
        users, media = self._users(), self._media()
        if node in users:
            if owner_of.get(token) != node:
                return _error(10, "(#10) Application does not have permission for this action")
            return self._user(request, users[node], media, edge, token)
        if node in media and edge == "insights":
            if owner_of.get(token) != media[node]["owner"]["id"]:
                return _error(10, "(#10) Application does not have permission for this action")
            return self._media_insights(request, media[node])
        return _error(100, f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due "
                      "to missing permissions, or does not support this operation", 33, "GraphMethodException")

    @staticmethod
    def _fields(record: dict, fields: str) -> dict:
        return {f: record[f] for f in fields.split(",") if f and f in record}

    def _user(self, request: FakeRequest, user: dict, media: dict, edge: str | None, token: str) -> FakeResponse:
        fields = request.arg("fields", "id")
        if edge is None:
            return FakeResponse(200, self._fields(user, fields))
        if edge not in ("media", "stories"):
            return _error(100, f"(#100) Tried accessing nonexisting field ({edge})", kind="IGApiException")
        wanted = [r for r in media.values() if r["owner"]["id"] == user["id"]
                  and (r["media_product_type"] == "STORY") == (edge == "stories") and r["id"] not in self.vanished]
        wanted.sort(key=lambda r: r["timestamp"], reverse=True)
        start, limit = _offset(request.arg("after")), min(int(request.arg("limit", "25")), self.page_size)
        page = wanted[start:start + limit]
        body: dict = {"data": [self._garble(self._fields(r, fields)) for r in page]}
        if page:
            body["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(start + len(page))}}
            if start + len(page) < len(wanted):  # the real API embeds the token in this URL
                body["paging"]["next"] = (f"https://graph.facebook.com/v24.0/{user['id']}/{edge}?access_token="
                                          f"{token}&fields={fields}&limit={limit}&after={_cursor(start + len(page))}")
        return FakeResponse(200, body)

    def _garble(self, served: dict) -> dict:
        changes = self.garbled.get(served.get("id"), {})
        served = {**served, **changes}
        return {k: v for k, v in served.items() if not (k in changes and changes[k] is None)}

    def _media_insights(self, request: FakeRequest, record: dict) -> FakeResponse:
        mid, story = record["id"], record["media_product_type"] == "STORY"
        if mid in self.no_insights or mid in self.vanished:
            return _error(100, "(#100) Media Posted Before Business Account Conversion" if not story else
                          f"Unsupported get request. Object with ID '{mid}' does not exist", 2108006 if not story
                          else 33, "IGApiException")
        values = dict(self._insights(mid) or {})
        values.pop("media_id", None)
        valid = set(STORY_METRICS if story else FEED_METRICS)
        if "impressions" in values:  # an older-API account: impressions instead of views
            valid = (valid - {"views"}) | {"impressions"}
        asked = [x for x in (request.arg("metric") or "").split(",") if x]
        for i, name in enumerate(asked):
            if name not in valid:
                return _error(100, f"(#100) metric[{i}] must be one of the following values: "
                              f"{', '.join(sorted(valid))}", kind="OAuthException")
        hidden = self.withheld.get(mid, set())
        data = [{"name": n, "period": "lifetime", "values": [{"value": values[n] + (self.story_bump if story else 0)}],
                 "title": n.replace("_", " ").title(), "description": "", "id": f"{mid}/insights/{n}/lifetime"}
                for n in asked if n in values and n not in hidden]
        return FakeResponse(200, {"data": data})

    def _business_discovery(self, request: FakeRequest) -> FakeResponse:
        match = _BD.match(request.arg("fields", ""))
        if not match:
            return FakeResponse(200, {"id": self.brand_id})
        handle, inner = match.groups()
        user = next((u for u in self._users().values() if u["username"] == handle), None)
        if user is None:
            return _error(110, f"(#110) Invalid user id: the user with username {handle} cannot be found", 2207013,
                          "IGApiException")
        media_match = _MEDIA.search(inner)
        plain = _MEDIA.sub("", inner)
        found = self._fields(user, plain)
        if media_match:
            mods = dict(_MOD.findall(media_match.group(1)))
            feed = sorted((r for r in self._media().values() if r["owner"]["id"] == user["id"]
                           and r["media_product_type"] != "STORY"), key=lambda r: r["timestamp"], reverse=True)
            start = _offset(mods.get("after"))
            limit = min(int(mods.get("limit", "25")), self.page_size)
            page = feed[start:start + limit]
            media: dict = {"data": [self._fields(r, media_match.group(2)) for r in page]}
            if start + len(page) < len(feed):
                media["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(start + len(page))}}
            found["media"] = media
        return FakeResponse(200, {"business_discovery": found, "id": self.brand_id})
