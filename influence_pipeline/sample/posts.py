"""Follower paths and every post of the simulation, with lifetime metrics fixed at posting time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from . import pools
from .common import DAY, FOLLOWERS, POSTS, WEEKDAY_POSTS, b64_id, epoch, rng_for
from .world import PLATFORMS, World

LOOKBACK = 14  # posts are tracked for 14 days, so the simulation starts 14 days before the first landing day
IMAGE, CAROUSEL, REEL, STORY, TT_VIDEO, YT_SHORT, YT_LONG = range(7)
TAU = np.array([0.8, 0.9, 1.2, 0.15, 1.5, 1.5, 2.5])  # days to reach ~63 % of lifetime metrics
# Creators post mostly around lunch and in the evening (UTC hours, audience mostly in the Americas/Europe).
POST_HOURS = np.array([3, 2, 2, 1, 1, 1, 1, 1, 2, 2, 3, 4, 5, 5, 5, 5, 6, 7, 7, 6, 5, 5, 4, 4], dtype=float)


@dataclass
class Posts:
    acc: np.ndarray
    kind: np.ndarray
    sec: np.ndarray
    member: np.ndarray  # sponsoring campaign member, -1 for organic
    reach: np.ndarray
    likes: np.ndarray
    comments: np.ndarray
    saved: np.ndarray
    shares: np.ndarray
    views: np.ndarray  # views / impressions / plays
    replies: np.ndarray
    clicks: np.ndarray  # story link-sticker taps
    favorites: np.ndarray
    duration: np.ndarray
    ids: list[str]
    codes: list[str]  # shortcodes (Instagram) / empty
    texts: list[str]  # caption (Instagram, TikTok) or title (YouTube)

    def frac(self, idx: np.ndarray, at: np.ndarray | int) -> np.ndarray:
        """Share of lifetime metrics reached at time `at`: a saturating curve, most of it in the first days."""
        age = np.maximum(np.asarray(at) - self.sec[idx], 0) / DAY
        return 1.0 - np.exp(-age / TAU[self.kind[idx]])


def follower_paths(w: World, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(real, bought) followers at 00:00 UTC of each simulation day, shape (accounts, days + LOOKBACK + 1)."""
    rng = rng_for(seed, FOLLOWERS)
    n, cols = len(w.accounts), w.days + LOOKBACK + 1
    f0 = np.array([a.followers for a in w.accounts])
    g = np.array([a.growth for a in w.accounts])
    steps = rng.normal(0, 0.0015, (n, cols))
    walk = np.cumsum(steps, axis=1)
    j = np.arange(cols)
    real = f0[:, None] * np.exp(g[:, None] * (j - LOOKBACK) + walk - walk[:, [LOOKBACK]])
    bought = np.zeros_like(real)
    for a, acc in enumerate(w.accounts):
        if acc.spike_day >= 0:
            js = LOOKBACK + acc.spike_day
            # bought followers land overnight, then the platform slowly purges some of them
            bought[a, js:] = real[a, js] * (acc.spike_mult - 1) * 0.997 ** (j[js:] - js)
    return real, bought


def _caption(rng: np.random.Generator, w: World, acc: int, member: int, kind: int) -> str:
    a = w.accounts[acc]
    niche = w.influencers[a.inf].niche
    opts = pools.CAPTIONS[niche]
    text = opts[rng.integers(len(opts))]
    if a.platform == "youtube":
        return pools.YT_TITLES[4 if kind == YT_SHORT else rng.integers(4)].format(c=text)
    if kind == STORY:
        return ""
    tags = " ".join(pools.HASHTAGS[i] for i in sorted(rng.choice(len(pools.HASHTAGS), 2, replace=False)))
    if member >= 0:
        m = w.members[member]
        brand = pools.BRANDS[w.campaigns[m.campaign].brand][0]
        return f"{text} with {brand} 💛 Use code {m.code} for {m.pct}% off, link in bio #ad {tags}"
    return f"{text} {tags}"


def build_posts(w: World, seed: int, real: np.ndarray, bought: np.ndarray) -> Posts:
    rng = rng_for(seed, POSTS)
    s0 = w.start - timedelta(days=LOOKBACK)
    n_days = w.days + LOOKBACK
    plat = np.array([PLATFORMS.index(a.platform) for a in w.accounts])
    wk = WEEKDAY_POSTS[[(s0 + timedelta(days=j)).weekday() for j in range(n_days)]]
    main = rng.poisson(np.array([a.main_rate for a in w.accounts])[:, None] * wk[None, :])
    story = rng.poisson(np.array([a.story_rate for a in w.accounts])[:, None] * wk[None, :])
    acc_m, day_m = np.nonzero(main)
    acc_m, day_m = np.repeat(acc_m, main[acc_m, day_m]), np.repeat(day_m, main[acc_m, day_m])
    acc_s, day_s = np.nonzero(story)
    acc_s, day_s = np.repeat(acc_s, story[acc_s, day_s]), np.repeat(day_s, story[acc_s, day_s])
    short = np.array([a.short_share for a in w.accounts])
    k_main = np.where(plat[acc_m] == 0, rng.choice([IMAGE, CAROUSEL, REEL], len(acc_m), p=[0.4, 0.25, 0.35]),
                      np.where(plat[acc_m] == 1, TT_VIDEO,
                               np.where(rng.random(len(acc_m)) < short[acc_m], YT_SHORT, YT_LONG)))
    sp_acc, sp_day, sp_mem = [], [], []
    for mi, m in enumerate(w.members):
        for d in m.post_days:
            j = (d - s0).days
            if 0 <= j < n_days:
                sp_acc.append(m.acc), sp_day.append(j), sp_mem.append(mi)
    sp_acc, sp_day = np.array(sp_acc, dtype=np.int64), np.array(sp_day, dtype=np.int64)
    u = rng.random(len(sp_acc))
    k_sp = np.where(plat[sp_acc] == 0, np.where(u < 0.3, STORY, np.where(u < 0.75, REEL, CAROUSEL)),
                    np.where(plat[sp_acc] == 1, TT_VIDEO, np.where(u < 0.3, YT_SHORT, YT_LONG)))
    acc = np.concatenate([acc_m, acc_s, sp_acc]).astype(np.int64)
    day = np.concatenate([day_m, day_s, sp_day]).astype(np.int64)
    kind = np.concatenate([k_main, np.full(len(acc_s), STORY), k_sp]).astype(np.int64)
    member = np.concatenate([np.full(len(acc_m) + len(acc_s), -1), np.array(sp_mem, dtype=np.int64)])
    n = len(acc)
    hour = rng.choice(24, n, p=POST_HOURS / POST_HOURS.sum())
    sec = epoch(s0) + day * DAY + hour * 3600 + rng.integers(0, 3600, n)
    order = np.lexsort((np.arange(n), sec))
    acc, day, kind, member, sec = acc[order], day[order], kind[order], member[order], sec[order]

    spike_sec = np.array([epoch(w.start) + a.spike_day * DAY if a.spike_day >= 0 else 2**62 for a in w.accounts])
    er = np.array([a.er for a in w.accounts])[acc] * rng.lognormal(0, 0.35, n)
    er *= np.where(sec >= spike_sec[acc], 0.85, 1.0) * np.where(member >= 0, 0.8, 1.0)
    f = real[acc, day]
    likes = f * er * np.select([kind == REEL, kind == CAROUSEL], [1.3, 1.15], 1.0)
    U = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731 - keeps the metric formulas readable
    reach = np.select(
        [kind <= CAROUSEL, kind == REEL, kind == STORY],
        [np.maximum(f * U(0.12, 0.35), likes * U(1.3, 2.0)), f * U(0.25, 1.2) * rng.lognormal(0, 0.5, n),
         f * U(0.04, 0.12)], 0.0)
    views = np.select([kind <= CAROUSEL, kind == REEL, kind == TT_VIDEO, kind >= YT_SHORT],
                      [reach * U(1.15, 1.8), reach * U(1.2, 2.2), likes / U(0.04, 0.12), likes / U(0.03, 0.07)], 0.0)
    reach = np.where(kind == TT_VIDEO, views * U(0.6, 0.9), reach)
    story = kind == STORY
    sponsored = member >= 0
    clicks = np.where(story & sponsored, reach * U(0.01, 0.04),
                      np.where(story & (U(0, 1) < 0.2), reach * U(0, 0.005), 0.0))
    duration = np.where(sponsored, rng.integers(20, 61, n), rng.integers(8, 91, n))

    ids, codes, texts = [], [], []
    ig_id = 17_900_000_000_000_000 + np.cumsum(rng.integers(1_000, 90_000_000, n))
    tt_low = rng.integers(0, 2**32, n)
    for i in range(n):
        p = plat[acc[i]]
        if p == 0:
            ids.append(str(int(ig_id[i]))), codes.append(b64_id(rng, 11))
        elif p == 1:
            # TikTok item ids carry the creation time in their top 32 bits
            ids.append(str((int(sec[i]) << 32) + int(tt_low[i]))), codes.append("")
        else:
            ids.append(b64_id(rng, 11)), codes.append("")
        texts.append(_caption(rng, w, int(acc[i]), int(member[i]), int(kind[i])))
    return Posts(acc, kind, sec, member, reach, np.where(story, 0.0, likes),
                 np.where(story, 0.0, likes * np.where(plat[acc] == 1, U(0.005, 0.03), U(0.01, 0.05))),
                 likes * U(0.02, 0.12), np.where(story, reach * U(0.0005, 0.004), likes * U(0.005, 0.05)),
                 views, reach * U(0.001, 0.01), clicks, likes * U(0.03, 0.15), duration, ids, codes, texts)
