"""Defects seen in real deliveries, injected into a fraction of records (one defect per chosen record)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

UNKNOWN_CODES = ["SUMMER50", "FREE100", "VIP30", "TAKE20", "BFCM40", "STAFF50"]
FUTURE_SEC = 4_070_908_800  # 2099-01-01
DAY_S = 86_400


@dataclass(frozen=True)
class Spec:
    """Roles of a file's fields: which ones a defect may touch."""
    counts: tuple[str, ...] = ()
    money: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()  # full URLs or paths that may carry UTMs
    utm_values: tuple[str, ...] = ()  # bare utm_* columns
    codes: bool = False

    def kinds(self) -> list[str]:
        k = ["dup", "malformed"]
        k += ["type"] if self.counts or self.money or self.times else []
        k += ["missing"] if self.required else []
        k += ["negative"] if self.counts else []
        k += ["future"] if self.times else []
        k += ["utm"] if self.urls or self.utm_values else []
        k += ["code"] if self.codes else []
        return k


SPECS = {
    "roster/influencers.csv": Spec(times=("signed_on",), required=("influencer_id", "email", "country")),
    "roster/social_accounts.csv": Spec(required=("influencer_id", "platform", "platform_account_id", "followers")),
    "roster/campaigns.csv": Spec(money=("fee", "gifted_product_cost"), times=("start_date", "end_date"),
                                 required=("campaign_id", "influencer_id", "fee", "currency")),
    "roster/tracking_links.csv": Spec(required=("link_id", "url", "utm_campaign"), urls=("url",),
                                      utm_values=("utm_source", "utm_campaign", "utm_content")),
    "roster/discount_codes.csv": Spec(counts=("discount_pct",), times=("valid_from", "valid_to"),
                                      required=("code", "influencer_id")),
    "instagram/users.ndjson": Spec(counts=("followers_count", "follows_count", "media_count"), times=("fetched_at",),
                                   required=("id", "followers_count")),
    "instagram/media.ndjson": Spec(counts=("like_count", "comments_count"), times=("timestamp", "fetched_at"),
                                   required=("id", "owner", "timestamp", "media_product_type")),
    "instagram/media_insights.ndjson": Spec(counts=("reach", "saved", "shares", "views", "impressions"),
                                            required=("media_id", "reach")),
    "instagram/story_insights.ndjson": Spec(counts=("reach", "replies", "shares", "link_clicks"),
                                            required=("media_id", "reach")),
    "tiktok/user_info.ndjson": Spec(counts=("followers_count", "following_count", "total_likes", "videos_count",
                                            "follower_count", "likes_count", "video_count"),
                                    times=("fetched_at",), required=("username", "followers_count", "follower_count")),
    "tiktok/videos.ndjson": Spec(counts=("video_views", "plays", "likes", "comments", "shares", "favorites", "reach"),
                                 times=("create_time", "fetched_at"), required=("item_id", "username", "create_time")),
    "youtube/channel_report.csv": Spec(counts=("subscriber_count", "subscribers_gained", "subscribers_lost", "views"),
                                       times=("date",), required=("date", "channel_id", "subscriber_count")),
    "youtube/video_report.csv": Spec(counts=("views", "likes", "comments", "shares"), times=("published_at",),
                                     required=("date", "video_id", "views")),
    "web_events/events.ndjson": Spec(times=("event_at",), required=("event_id", "event_at", "anonymous_id",
                                                                      "event_type"), urls=("page_url",)),
    "orders/orders.ndjson": Spec(money=("total_price", "subtotal_price", "total_discounts"),
                                 times=("created_at", "updated_at"), required=("id", "created_at", "customer",
                                                                               "total_price", "currency"),
                                 urls=("landing_site",), codes=True),
    "signups/signups.csv": Spec(times=("created_at",), required=("signup_id", "email", "created_at"),
                                urls=("landing_url",)),
}


def _future(v, rng):
    if isinstance(v, int):
        return FUTURE_SEC + v % DAY_S if rng.random() < 0.5 else v + 3 * DAY_S
    if not isinstance(v, str) or len(v) < 10:
        return None
    if rng.random() < 0.5:
        return "2099" + v[4:]
    return (date.fromisoformat(v[:10]) + timedelta(days=3)).isoformat() + v[10:]


def _utm_url(url: str, rng) -> str | None:
    params = list(re.finditer(r"utm_[a-z]+=[^&]*", url))
    if not params:
        return None
    m = params[rng.integers(len(params))]
    name, val = m.group(0).split("=", 1)
    style = rng.integers(3)
    if style == 0:
        new = f"{name}={val.capitalize()}%20"  # trailing space pasted into the link builder
    elif style == 1:
        new = f"{name.upper()}={val.upper()}"
    else:
        new = f"{name}={val.replace('-', '%20').title()}"
    return url[:m.start()] + new + url[m.end():]


def _mutate(rec: dict, kind: str, spec: Spec, rng) -> bool:
    """Apply one defect to a parsed record in place; False when the record has nothing it applies to."""
    def pick(fields):
        present = [f for f in fields if f in rec and rec[f] not in (None, "")]
        return present[rng.integers(len(present))] if present else None

    if kind == "type":
        f = pick(spec.counts + spec.money)
        if f is None:
            f = pick(spec.times)
            if f is None:
                return False
            rec[f] = 1_700_000_000 if isinstance(rec[f], str) else str(rec[f]) + "s"
            return True
        v = rec[f]
        rec[f] = ["abc", str(v).replace(".", ","), "N/A"][rng.integers(3)] if f in spec.money else (
            [f"{v}x", "", "n/a", f"{v} "][rng.integers(4)])
        return True
    if kind == "missing":
        f = pick(spec.required)
        if f is None:
            return False
        rec[f] = ""
        return True
    if kind == "negative":
        f = pick(spec.counts)
        if f is None or not str(rec[f]).lstrip("-").isdigit():
            return False
        rec[f] = -abs(int(rec[f])) or -1
        return True
    if kind == "future":
        f = pick(spec.times)
        new = _future(rec[f], rng) if f else None
        if new is None:
            return False
        rec[f] = new
        return True
    if kind == "utm":
        for f in spec.urls:
            if isinstance(rec.get(f), str) and (new := _utm_url(rec[f], rng)):
                rec[f] = new
                return True
        f = pick(spec.utm_values)
        if f is None:
            return False
        rec[f] = rec[f].upper() if rng.random() < 0.5 else rec[f].capitalize() + " "
        return True
    if kind == "code":
        unknown = UNKNOWN_CODES[rng.integers(len(UNKNOWN_CODES))]
        codes = rec.get("discount_codes") or []
        if codes and rng.random() < 0.5:
            c = codes[0]["code"]
            unknown = c[:-2] + c[-1] + c[-2] if c[-2:-1] != c[-1:] else unknown  # a typo'd affiliate code
        rec["discount_codes"] = [{"code": unknown, "amount": codes[0]["amount"] if codes else "5.00",
                                  "type": "percentage"}] + codes[1:]
        return True
    return False


def _plan(n: int, spec: Spec, rng, rate: float):
    """Yield (index, ordered kinds to try) for the records that get a defect."""
    kinds = spec.kinds()
    for i in np.flatnonzero(rng.random(n) < rate).tolist():
        yield i, [kinds[k] for k in rng.permutation(len(kinds))]


def dirty_ndjson_chunks(chunks: Iterable[list[str]], n: int, spec: Spec, rng, rate: float) -> Iterator[list[str]]:
    """A file of `n` lines given as consecutive chunks → its chunks with defects injected: the same lines, drawn from
    `rng` in the same order, however the file is cut."""
    plan = _plan(n, spec, rng, rate)
    due = next(plan, None)  # draws the whole plan's rows first, as one pass over the file did
    start = 0
    for chunk in chunks:
        out = list(chunk)
        extra: dict[int, str] = {}
        while due is not None and due[0] < start + len(out):
            i, kinds = due[0] - start, due[1]
            for kind in kinds:
                if kind == "dup":
                    extra[i] = out[i]
                elif kind == "malformed":
                    line = out[i]
                    out[i] = line[:int(rng.integers(len(line) // 3, len(line) - 1))]
                else:
                    rec = json.loads(out[i])
                    present = [f for f in spec.required if f in rec]
                    if kind == "missing" and present:
                        del rec[present[rng.integers(len(present))]]  # JSON exports drop the key outright
                    elif kind == "missing" or not _mutate(rec, kind, spec, rng):
                        continue
                    out[i] = json.dumps(rec, separators=(",", ":"), ensure_ascii=False)
                break
            due = next(plan, None)
        start += len(out)
        yield [x for i, line in enumerate(out) for x in ((line, extra[i]) if i in extra else (line,))]


def dirty_csv(header: list[str], rows: list[list], spec: Spec, rng, rate: float) -> list[list[str]]:
    out: list[list[str]] = []
    plan = dict(_plan(len(rows), spec, rng, rate))
    for i, row in enumerate(rows):
        row = [str(v) for v in row]
        kinds = plan.get(i, [])
        dup = False
        for kind in kinds:
            if kind == "dup":
                dup = True
            elif kind == "malformed":
                row = row + ["extra"] if rng.random() < 0.5 else row[:-1]
            else:
                rec = dict(zip(header, row))
                if not _mutate(rec, kind, spec, rng):
                    continue
                row = [str(rec[h]) for h in header]
            break
        out.append(row)
        if dup:
            out.append(row)
    return out
