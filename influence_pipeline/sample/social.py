"""Daily platform exports (Instagram, TikTok, YouTube) and the click pressure each campaign link gets."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from .common import DAY, FOLLOWERS, epoch, ig_ts, iso_z, rng_for
from .posts import CAROUSEL, IMAGE, LOOKBACK, REEL, STORY, YT_SHORT, build_posts, follower_paths
from .world import PLATFORMS, World

MEDIA_TYPE = {IMAGE: ("IMAGE", "FEED"), CAROUSEL: ("CAROUSEL_ALBUM", "FEED"), REEL: ("VIDEO", "REELS")}
KEEP = LOOKBACK * DAY


def _i(x) -> int:
    return int(x)


class Social:
    """Deterministic social world; each method renders one landing day."""

    def __init__(self, w: World, seed: int):
        self.w = w
        self.s0 = w.start - timedelta(days=LOOKBACK)
        self.real, self.bought = follower_paths(w, seed)
        self.p = build_posts(w, seed, self.real, self.bought)
        self.plat = np.array([PLATFORMS.index(a.platform) for a in w.accounts])
        rng = rng_for(seed, FOLLOWERS, 1)
        n = len(w.accounts)
        # accounts are pulled one after another, a couple of seconds apart
        self.offset = np.zeros(n, dtype=np.int64)
        for p in range(3):
            idx = np.flatnonzero(self.plat == p)
            self.offset[idx] = np.arange(len(idx)) * 2 + rng.integers(0, 2, len(idx))
        self.follow_drift = rng.integers(0, 4, n)
        self.loss = rng.uniform(0.0002, 0.001, n)
        self.catalog = rng.uniform(0.005, 0.03, n)[:, None] * rng.lognormal(0, 0.2, (n, self.real.shape[1]))
        self.by_plat = [np.flatnonzero(self.plat[self.p.acc] == p) for p in range(3)]

    def _col(self, day: date) -> int:
        return (day - self.s0).days

    def _followers(self, day: date) -> np.ndarray:
        j = self._col(day)
        return np.rint(self.real[:, j] + self.bought[:, j]).astype(np.int64)

    def _live(self, plat: int, fetch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posts of `plat` visible at each owner's fetch time: (post index, fetch time per post)."""
        idx = self.by_plat[plat]
        at = fetch[self.p.acc[idx]]
        age = at - self.p.sec[idx]
        keep = (age > 0) & (age <= np.where(self.p.kind[idx] == STORY, DAY, KEEP))
        idx = idx[keep]
        # newest first per account, as the APIs list them
        order = np.lexsort((-self.p.sec[idx], self.p.acc[idx]))
        return idx[order], at[keep][order]

    def _so_far(self, plat: int, fetch: np.ndarray, metric: np.ndarray | None) -> np.ndarray:
        """Per account: number (or metric sum) of non-story posts published before its fetch time."""
        idx = self.by_plat[plat]
        at = fetch[self.p.acc[idx]]
        m = (self.p.sec[idx] < at) & (self.p.kind[idx] != STORY)
        idx = idx[m]
        wts = None if metric is None else metric[idx] * self.p.frac(idx, at[m])
        return np.bincount(self.p.acc[idx], weights=wts, minlength=len(self.w.accounts))

    def instagram(self, day: date) -> dict[str, list[dict]]:
        fetch = epoch(day) + 7200 + self.offset
        fol = self._followers(day)
        media_n = self._so_far(0, fetch, None)
        j = self._col(day)
        users, media, ins, stories = [], [], [], []
        for a in np.flatnonzero(self.plat == 0):
            acc = self.w.accounts[a]
            users.append({"id": acc.account_id, "username": acc.username, "followers_count": _i(fol[a]),
                          "follows_count": acc.follows + j * _i(self.follow_drift[a]) // 10,
                          "media_count": acc.media_base + _i(media_n[a]), "fetched_at": ig_ts(fetch[a])})
        idx, at = self._live(0, fetch)
        fr = self.p.frac(idx, at)
        p = self.p
        for i, f in zip(idx.tolist(), fr.tolist()):
            acc = self.w.accounts[p.acc[i]]
            k = _i(p.kind[i])
            mid = p.ids[i]
            if k == STORY:
                mtype, prod = ("VIDEO" if _i(p.sec[i]) % 5 < 2 else "IMAGE"), "STORY"
                link = f"https://www.instagram.com/stories/{acc.username}/{mid}/"
            else:
                (mtype, prod), kind_path = MEDIA_TYPE[k], ("reel" if k == REEL else "p")
                link = f"https://www.instagram.com/{kind_path}/{p.codes[i]}/"
            rec = {"id": mid, "owner": {"id": acc.account_id}, "media_type": mtype, "media_product_type": prod,
                   "timestamp": ig_ts(p.sec[i]), "caption": p.texts[i], "permalink": link}
            if not acc.hide_likes:
                rec["like_count"] = _i(p.likes[i] * f)
            rec["comments_count"] = _i(p.comments[i] * f)
            rec["fetched_at"] = ig_ts(fetch[p.acc[i]])
            media.append(rec)
            if k == STORY:
                reach = _i(p.reach[i] * f)
                # Derived, not drawn: another draw would shift every later random value of the sample.
                views = reach + reach // 4 + _i(p.replies[i] * f)
                stories.append({"media_id": mid, "reach": reach, "replies": _i(p.replies[i] * f),
                                "shares": _i(p.shares[i] * f), "link_clicks": _i(p.clicks[i] * f), "views": views,
                                "navigation": views * 3 // 4, "profile_activity": reach // 40})
            else:
                ins.append({"media_id": mid, "reach": _i(p.reach[i] * f), "saved": _i(p.saved[i] * f),
                            "shares": _i(p.shares[i] * f),
                            ("impressions" if acc.alt_metric else "views"): _i(p.views[i] * f)})
        return {"users.ndjson": users, "media.ndjson": media, "media_insights.ndjson": ins,
                "story_insights.ndjson": stories}

    def tiktok(self, day: date) -> dict[str, list[dict]]:
        fetch = epoch(day) + 3 * 3600 + self.offset
        fol = self._followers(day)
        likes_sum = self._so_far(1, fetch, self.p.likes)
        n_videos = self._so_far(1, fetch, None)
        j = self._col(day)
        users, videos = [], []
        for a in np.flatnonzero(self.plat == 1):
            acc = self.w.accounts[a]
            # Accounts on an older export keep the earlier, Display API-style names (docs/landing.md).
            names = ("follower_count", "likes_count", "video_count") if acc.alt_metric else (
                "followers_count", "total_likes", "videos_count")
            users.append({"username": acc.username, "display_name": acc.title, names[0]: _i(fol[a]),
                          "following_count": acc.follows + j * _i(self.follow_drift[a]) // 10,
                          names[1]: acc.likes_base + _i(likes_sum[a]),
                          names[2]: acc.media_base + _i(n_videos[a]), "fetched_at": ig_ts(fetch[a])})
        idx, at = self._live(1, fetch)
        p = self.p
        for i, f in zip(idx.tolist(), p.frac(idx, at).tolist()):
            acc = self.w.accounts[p.acc[i]]
            videos.append({"item_id": p.ids[i], "username": acc.username, "create_time": _i(p.sec[i]),
                           ("plays" if acc.alt_metric else "video_views"): _i(p.views[i] * f),
                           "likes": _i(p.likes[i] * f), "comments": _i(p.comments[i] * f),
                           "shares": _i(p.shares[i] * f), "favorites": _i(p.favorites[i] * f),
                           "reach": _i(p.reach[i] * f), "video_duration": _i(p.duration[i]),
                           "fetched_at": ig_ts(fetch[p.acc[i]])})
        return {"user_info.ndjson": users, "videos.ndjson": videos}

    def youtube(self, day: date) -> dict[str, tuple[list[str], list[list]]]:
        """Reports for the previous, complete UTC day (`date` = landing day - 1)."""
        rep = day - timedelta(days=1)
        asof = np.full(len(self.w.accounts), epoch(day), dtype=np.int64)
        now, before = self._followers(day), self._followers(rep)
        idx_all = self.by_plat[2]
        gained_views = np.bincount(
            self.p.acc[idx_all],
            weights=self.p.views[idx_all] * (self.p.frac(idx_all, asof[0]) - self.p.frac(idx_all, asof[0] - DAY)),
            minlength=len(asof))
        j = self._col(day)
        channels, videos = [], []
        for a in np.flatnonzero(self.plat == 2):
            acc = self.w.accounts[a]
            lost = _i(round(before[a] * self.loss[a]))
            gained = _i(now[a] - before[a]) + lost
            if gained < 0:
                lost, gained = lost - gained, 0
            views = _i(gained_views[a] + now[a] * self.catalog[a, j])
            channels.append([rep.isoformat(), acc.account_id, acc.title, _i(now[a]), gained, lost, views])
        idx, at = self._live(2, asof)
        p = self.p
        for i, f in zip(idx.tolist(), p.frac(idx, at).tolist()):
            acc = self.w.accounts[p.acc[i]]
            videos.append([rep.isoformat(), acc.account_id, p.ids[i], iso_z(p.sec[i]), p.texts[i],
                           "true" if p.kind[i] == YT_SHORT else "false", _i(p.views[i] * f), _i(p.likes[i] * f),
                           _i(p.comments[i] * f), _i(p.shares[i] * f)])
        return {
            "channel_report.csv": (["date", "channel_id", "channel_title", "subscriber_count", "subscribers_gained",
                                    "subscribers_lost", "views"], channels),
            "video_report.csv": (["date", "channel_id", "video_id", "published_at", "title", "is_short", "views",
                                  "likes", "comments", "shares"], videos),
        }

    def link_weights(self, day: date) -> np.ndarray:
        """Expected relative clicks per campaign member on `day`: sponsored posts gaining reach that day, plus the
        standing bio link while the campaign runs. Bigger, more engaged audiences click more, sub-linearly."""
        w = self.w
        out = np.zeros(len(w.members))
        t0, t1 = epoch(day), epoch(day) + DAY
        p = self.p
        idx = np.flatnonzero((p.member >= 0) & (p.sec < t1) & (p.sec > t0 - KEEP))
        if len(idx):
            gain = p.frac(idx, t1) - p.frac(idx, t0)
            story = p.kind[idx] == STORY
            pressure = np.where(story, p.clicks[idx] * 3, 0.02 * p.reach[idx] ** 0.85) * gain
            np.add.at(out, p.member[idx], pressure)
        j = self._col(day)
        for mi, m in enumerate(w.members):
            c = w.campaigns[m.campaign]
            if c.start <= day <= c.end:
                acc = w.accounts[m.acc]
                out[mi] += 0.02 * (self.real[m.acc, j] * acc.er) ** 0.85
        return out
