"""The cast: influencers, their social accounts, campaigns, tracking links and discount codes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from . import pools
from .common import SHOP, WORLD, ascii_fold, b64_id, human_count, money, rng_for, slug

PLATFORMS = ("instagram", "tiktok", "youtube")
LABELS = {"instagram": (["instagram", "Instagram", "IG"], [0.7, 0.2, 0.1]),
          "tiktok": (["tiktok", "TikTok"], [0.7, 0.3]), "youtube": (["youtube", "YT"], [0.8, 0.2])}


@dataclass
class Influencer:
    id: str
    first: str
    last: str
    email: str
    country: str
    currency: str
    signed_on: date
    niche: str


@dataclass
class Account:
    inf: int
    platform: str
    label: str  # platform as typed in the CRM
    account_id: str
    username: str
    title: str
    niche_text: str
    followers: float  # at the start of the simulation
    typed_followers: str
    er: float  # engagement rate: (likes + comments) per follower and post
    hide_likes: bool
    alt_metric: bool  # older API: `impressions` (Instagram) / `plays` (TikTok)
    main_rate: float  # feed posts or videos per day
    story_rate: float
    short_share: float
    growth: float  # daily organic follower growth
    spike_day: int  # landing-day index of a bought-follower spike, -1 for none
    spike_mult: float
    follows: int
    media_base: int
    likes_base: int


@dataclass
class Member:
    """One influencer in one campaign: the deal, its tracking link and its affiliate code."""
    campaign: int
    inf: int
    acc: int
    fee: str
    currency: str
    gifted: str
    commission: str
    link_id: str
    url: str
    product: int
    code: str
    pct: int
    valid_from: date
    valid_to: date
    post_days: list[date] = field(default_factory=list)


@dataclass
class Campaign:
    id: str
    name: str
    slug: str
    brand: int
    start: date
    end: date
    announce: date
    members: list[int] = field(default_factory=list)


@dataclass
class World:
    start: date
    days: int
    scale: float
    influencers: list[Influencer]
    accounts: list[Account]
    campaigns: list[Campaign]
    members: list[Member]
    products: list[tuple[int, str, float]]  # (brand index, slug, USD price)


def _unique(base: str, taken: set[str], sep: str = "") -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{sep}{n}", n + 1
    taken.add(name)
    return name


def _influencers(rng: np.random.Generator, n: int, start: date) -> list[Influencer]:
    weights = np.array([c[1] for c in pools.COUNTRIES])
    emails: set[str] = set()
    out = []
    for i in range(n):
        first = pools.FIRST_NAMES[rng.integers(len(pools.FIRST_NAMES))]
        last = pools.LAST_NAMES[rng.integers(len(pools.LAST_NAMES))]
        country, _, currency = pools.COUNTRIES[rng.choice(len(weights), p=weights / weights.sum())]
        local = slug(f"{first}.{last}").replace("-", ".")
        domain = pools.EMAIL_DOMAINS[rng.integers(len(pools.EMAIL_DOMAINS))]
        email = _unique(local, emails) + "@" + domain
        signed = start - timedelta(days=int(rng.integers(60, 900)))  # before any campaign in the window
        niche = pools.NICHES[rng.integers(len(pools.NICHES))]
        out.append(Influencer(f"INF-{i + 1:04d}", first, last, email, country, currency, signed, niche))
    return out


def _handle(rng: np.random.Generator, inf: Influencer, taken: set[str]) -> str:
    f, s = slug(inf.first).replace("-", ""), slug(inf.last).replace("-", "")
    forms = [f + s, f"{f}.{s}", f"{f}_{inf.niche}", f"the{f}{s[:1]}", f"{f}{s}{rng.integers(10, 99)}",
             f"{f}.{inf.niche}"]
    return _unique(forms[rng.integers(len(forms))], taken)


def _accounts(rng: np.random.Generator, infs: list[Influencer], days: int) -> list[Account]:
    taken: set[str] = set()
    out = []
    for k, inf in enumerate(infs):
        n_acc = rng.choice([1, 2, 3], p=[0.3, 0.45, 0.25])
        plats = rng.choice(3, size=n_acc, replace=False, p=[0.5, 0.32, 0.18])
        base = rng.normal(4.1, 0.72)  # log10 followers: micro is the mode, tails reach sub-nano and mega
        for p in sorted(plats.tolist()):
            plat = PLATFORMS[p]
            lg = float(np.clip(base + rng.normal(0, 0.25) + (0.1, 0.15, -0.2)[p], 2.3, 7.1))
            fol = 10 ** lg
            er = 0.07 * (fol / 1000) ** -0.25 * rng.lognormal(0, 0.25) * (1.0, 1.4, 0.6)[p]
            labels, lp = LABELS[plat]
            user = _handle(rng, inf, taken)
            if plat == "instagram":
                acc_id = str(17841400000000000 + int(rng.integers(10**9, 9 * 10**9)))
            elif plat == "tiktok":
                acc_id = user
            else:
                acc_id = "UC" + b64_id(rng, 22)
            title = f"{inf.first} {inf.last}" if rng.random() < 0.6 else f"{inf.first} | {inf.niche.title()}"
            spike = int(rng.integers(1, days)) if days > 1 and rng.random() < 0.05 else -1
            typed = human_count(int(fol * rng.uniform(0.75, 1.0)), float(rng.random()))  # stale, typed at signing
            niche_opts = pools.NICHE_TEXT[inf.niche]
            out.append(Account(
                inf=k, platform=plat, label=labels[rng.choice(len(labels), p=lp)], account_id=acc_id, username=user,
                title=title, niche_text=niche_opts[rng.integers(len(niche_opts))], followers=fol,
                typed_followers=typed, er=float(np.clip(er, 0.004, 0.2)),
                hide_likes=plat == "instagram" and rng.random() < 0.05,
                alt_metric=plat != "youtube" and rng.random() < 0.3,
                main_rate=float(rng.uniform(*{"instagram": (2, 5), "tiktok": (3, 8), "youtube": (0.5, 3)}[plat]) / 7),
                story_rate=float(rng.uniform(0, 1.2)) if plat == "instagram" else 0.0,
                short_share=float(rng.uniform(0.2, 0.8)), growth=float(rng.normal(0.0012, 0.0015)),
                spike_day=spike, spike_mult=float(rng.uniform(1.2, 1.6)),
                follows=int(rng.integers(80, 2500)), media_base=int(rng.integers(40, 1500)),
                likes_base=int(fol * rng.uniform(5, 30))))
    return out


def _campaigns(rng: np.random.Generator, w: World) -> None:
    n_inf = len(w.influencers)
    n = max(2, int(rng.poisson(2.0 * max(w.scale, 0.25) * (w.days + 35) / 7)))
    starts = sorted(int(x) for x in rng.integers(-35, max(w.days - 2, 1), n))
    names: set[str] = set()
    codes: set[str] = set()
    # each influencer's accounts, in account order: scanning every account per member was quadratic (profile XL:
    # 29 k members × 100 k accounts)
    owned: dict[int, list[int]] = {}
    for a, account in enumerate(w.accounts):
        owned.setdefault(account.inf, []).append(a)
    niche = np.array([i.niche for i in w.influencers])
    for ci, off in enumerate(starts):
        b = int(rng.integers(len(pools.BRANDS)))
        brand, niches, _ = pools.BRANDS[b]
        st = w.start + timedelta(days=off)
        theme = pools.CAMPAIGN_THEMES[rng.integers(len(pools.CAMPAIGN_THEMES))]
        name = _unique(f"{brand} {theme} {st.year}", names, " #")
        end = st + timedelta(days=7 * int(rng.integers(2, 9)) - 1)
        c = Campaign(f"CMP-{ci + 1:03d}", name, slug(name), b, st, end, st - timedelta(days=int(rng.integers(3, 15))))
        weight = np.where(np.isin(niche, list(niches)), 3.0, 1.0)
        size = int(np.clip(2 + rng.poisson(5), 2, min(12, n_inf)))
        for k in sorted(rng.choice(n_inf, size=size, replace=False, p=weight / weight.sum()).tolist()):
            c.members.append(len(w.members))
            w.members.append(_member(rng, w, ci, c, k, codes, owned[k]))
        w.campaigns.append(c)


def _member(rng: np.random.Generator, w: World, ci: int, c: Campaign, k: int, codes: set[str],
            accs: list[int]) -> Member:
    """The deal for influencer `k` (whose accounts are `accs`); the tracking link and code go with their biggest
    (Instagram-leaning) account."""
    inf = w.influencers[k]
    acc = max(accs, key=lambda a: w.accounts[a].followers * (1.3 if w.accounts[a].platform == "instagram" else 1))
    a = w.accounts[acc]
    fx = pools.FX[inf.currency]
    fee = a.followers * rng.uniform(0.008, 0.02) * fx  # roughly 8-20 per thousand followers
    if a.followers < 5000 and rng.random() < 0.5:
        fee = 0.0  # gifted-only deal, common with nano creators
    fee = round(fee / 25) * 25 if fee < 1000 else round(fee / 100) * 100
    gifted = 0.0 if rng.random() < 0.3 else rng.uniform(20, 250) * fx
    prods = [i for i, p in enumerate(w.products) if p[0] == c.brand]
    prod = prods[rng.integers(len(prods))]
    n_link = len(w.members) + 1
    url = (f"{SHOP}/products/{w.products[prod][1]}?utm_source={a.platform}&utm_medium=influencer"
           f"&utm_campaign={c.slug}&utm_content={a.username}")
    pct = int(rng.choice([10, 15, 20, 25], p=[0.3, 0.4, 0.2, 0.1]))
    first = ascii_fold(inf.first).upper().replace(" ", "")
    candidates = itertools.chain(
        (f"{first}{pct}", f"{first}{ascii_fold(inf.last)[:1].upper()}{pct}"),
        (f"{first}{pct}{s}" for s in "ABCDEFGHJKLMNPQRSTUVWXYZ"), (f"{first}{pct}{n}" for n in itertools.count(2)))
    code = next(x for x in candidates if x not in codes)
    codes.add(code)
    n_posts = int(rng.integers(1, 5))
    span = max(1, min((c.end - c.start).days, 21))
    post_days = sorted(c.start + timedelta(days=int(d)) for d in rng.integers(0, span, n_posts))
    return Member(ci, k, acc, money(fee), inf.currency, money(gifted),
                  f"{rng.choice([0.0, 0.05, 0.08, 0.10, 0.12, 0.15, 0.20]):.2f}", f"LNK-{n_link:05d}", url, prod,
                  code, pct, c.start, c.end + timedelta(days=7), post_days)


def build_world(seed: int, start: date, days: int, scale: float) -> World:
    rng = rng_for(seed, WORLD)
    infs = _influencers(rng, max(10, round(150 * scale)), start)
    products = [(b, p, price) for b, (_, _, items) in enumerate(pools.BRANDS) for p, price in items]
    w = World(start, days, scale, infs, _accounts(rng, infs, days), [], [], products)
    _campaigns(rng, w)
    return w


def roster_tables(w: World, day: date) -> dict[str, tuple[list[str], list[list]]]:
    """Full CRM snapshot as of `day`: campaigns show up once announced."""
    infs = [[i.id, f"{i.first} {i.last}", i.email, i.country, i.signed_on.isoformat()] for i in w.influencers]
    accs = [[w.influencers[a.inf].id, a.label, a.account_id, "@" + a.username, a.niche_text, a.typed_followers]
            for a in w.accounts]
    camps, links, codes = [], [], []
    for c in w.campaigns:
        if c.announce > day:
            continue
        for mi in c.members:
            m = w.members[mi]
            inf_id = w.influencers[m.inf].id
            a = w.accounts[m.acc]
            camps.append([c.id, c.name, pools.BRANDS[c.brand][0], inf_id, c.start.isoformat(), c.end.isoformat(),
                          m.fee, m.currency, m.gifted, m.commission])
            links.append([m.link_id, c.id, inf_id, m.url, a.platform, "influencer", c.slug, a.username])
            codes.append([m.code, inf_id, c.id, str(m.pct), m.valid_from.isoformat(), m.valid_to.isoformat()])
    return {
        "influencers.csv": (["influencer_id", "full_name", "email", "country", "signed_on"], infs),
        "social_accounts.csv": (["influencer_id", "platform", "platform_account_id", "handle", "niche", "followers"],
                                accs),
        "campaigns.csv": (["campaign_id", "campaign_name", "brand", "influencer_id", "start_date", "end_date", "fee",
                           "currency", "gifted_product_cost", "commission_rate"], camps),
        "tracking_links.csv": (["link_id", "campaign_id", "influencer_id", "url", "utm_source", "utm_medium",
                                "utm_campaign", "utm_content"], links),
        "discount_codes.csv": (["code", "influencer_id", "campaign_id", "discount_pct", "valid_from", "valid_to"],
                               codes),
    }
