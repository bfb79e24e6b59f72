"""Visitor journeys on the shop: sessions over several days and devices, page views, signups and checkouts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta

import numpy as np

from . import pools
from .common import DAY, SHOP, WEB, WEB_HOURS, WEEKDAY_WEB, epoch, iso_ms_z, rng_for, slug, uuid_bits, uuid_strings
from .shop import Shop
from .social import Social
from .world import World

INFLUENCER, ORGANIC, PAID, EMAIL, DIRECT, SOCIAL = range(6)
FIRST_MIX = np.array([0.0, 0.36, 0.17, 0.12, 0.25, 0.10])
RETURN_MIX = np.array([0.25, 0.15, 0.10, 0.15, 0.35])  # same channel as the first touch, organic, paid, email, direct
P_CONVERT = np.array([0.03, 0.022, 0.03, 0.04, 0.035, 0.012])
JOURNEYS = 8200  # non-influencer journeys a day at scale 1; ~5 events each, plus influencer traffic
INFLUENCER_SHARE = 0.24  # influencer journeys relative to the rest, before the day's campaign intensity
WARMUP = 10  # journeys started before the first landing day still spill events into it
MS = 1000
ETYPES = ("page_view", "signup", "checkout")
FIELDS = ("t", "hi", "lo", "etype", "url", "ref", "ua", "ip", "extra", "seq")
CHUNK_LINES = 500_000  # web event lines formatted and written at a time


class UrlPool:
    """Interned strings (URLs, referrers) with their JSON encoding computed once."""

    def __init__(self):
        self.items: list[str] = [""]
        self.index: dict[str, int] = {"": 0}
        self.json: list[str] = ['""']

    def add(self, s: str) -> int:
        if s not in self.index:
            self.index[s] = len(self.items)
            self.items.append(s)
            self.json.append(json.dumps(s, ensure_ascii=False))
        return self.index[s]

    def many(self, strings) -> np.ndarray:
        return np.array([self.add(s) for s in strings], dtype=np.int64)


def _group_cumsum(x: np.ndarray, first: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Running sum within consecutive groups; x at each group's first element must be 0."""
    c = np.cumsum(x)
    return c - c[first[group]]


class Web:
    def __init__(self, w: World, social: Social, shop: Shop, seed: int):
        self.w, self.social, self.shop, self.seed = w, social, shop, seed
        self.urls = u = UrlPool()
        self.products = u.many(f"{SHOP}/products/{p[1]}" for p in w.products)
        self.site = u.many(SHOP + p for p in pools.SITE_PAGES)
        self.cart = u.add(f"{SHOP}/cart")
        self.thanks = u.add(f"{SHOP}/checkout/thank-you")
        self.internal = np.concatenate([self.products, self.products, self.site, [self.cart]])
        self.organic = np.concatenate([self.site[:4], self.products, self.site[5:7]])
        self.search_ref = u.many(r for r, _ in pools.SEARCH_REFERRERS)
        self.search_p = np.array([p for _, p in pools.SEARCH_REFERRERS])
        self.paid = u.many(f"{SHOP}/products/{p[1]}?utm_source=google&utm_medium=cpc"
                           f"&utm_campaign={slug(pools.BRANDS[p[0]][0])}-search" for p in w.products)
        self.social_ref = u.many(r for r, _, _ in pools.SOCIAL_REFERRERS)
        self.social_p = np.array([p for _, _, p in pools.SOCIAL_REFERRERS])
        self.social_utm = np.array([[u.add(f"{SHOP}/products/{p[1]}?utm_source={net}&utm_medium=social"
                                           f"&utm_campaign=always-on") for p in w.products]
                                    for _, net, _ in pools.SOCIAL_REFERRERS])
        self.link_url = u.many(m.url for m in w.members)
        self.link_plat = np.array([("instagram", "tiktok", "youtube").index(w.accounts[m.acc].platform)
                                   for m in w.members], dtype=np.int64)
        self.plat_ref = u.many(pools.PLATFORM_REFERRERS[p] for p in ("instagram", "tiktok", "youtube"))
        ua = [x for x, _ in pools.USER_AGENTS]
        self.ua_p = np.array([p for _, p in pools.USER_AGENTS])
        self.ua_json = [json.dumps(x) for x in ua + [pools.IN_APP_UA["instagram"], pools.IN_APP_UA["tiktok"]]]
        self.ips = [f"203.0.113.{i}" for i in range(1, 255)] + [f"198.51.100.{i}" for i in range(1, 255)]
        self.ips += [f"2001:db8:{i:x}::{j:x}" for i in range(1, 9) for j in range(1, 33)]
        self.buckets: dict[date, list[dict]] = {}
        self.seq = 0
        self.intensity = 0.0

    def _email_url(self, sess_day: np.ndarray) -> np.ndarray:
        """Weekly newsletter (sent Tuesdays) links; utm_campaign names the send date."""
        tuesday = sess_day - (sess_day + 3 - 1) % 7  # 1970-01-01 was a Thursday
        uniq, inv = np.unique(tuesday, return_inverse=True)
        idx = self.urls.many(f"{SHOP}/collections/new-arrivals?utm_source=newsletter&utm_medium=email"
                             f"&utm_campaign=weekly-{date.fromordinal(date(1970, 1, 1).toordinal() + int(t))}"
                             for t in uniq)
        return idx[inv]

    def simulate(self, day: date) -> None:
        """Start the day's journeys; their events land in the buckets of the days they happen."""
        rng = rng_for(self.seed, WEB, day.toordinal())
        scale = self.w.scale
        n_other = int(rng.poisson(JOURNEYS * scale * WEEKDAY_WEB[day.weekday()]))
        weights = self.social.link_weights(day)
        total = float(weights.sum())
        self.intensity = total if self.intensity == 0 else 0.8 * self.intensity + 0.2 * total
        g = float(np.clip(np.sqrt(total / self.intensity), 0.6, 1.8)) if total > 0 else 0.0
        n_inf = int(rng.poisson(n_other * INFLUENCER_SHARE * g))
        n = n_inf + n_other
        ch0 = np.concatenate([np.zeros(n_inf, np.int64), rng.choice(6, n_other, p=FIRST_MIX)])
        link0 = np.concatenate([rng.choice(len(weights), n_inf, p=weights / total) if n_inf else
                                np.zeros(0, np.int64), np.full(n_other, -1)]).astype(np.int64)
        n_sess = np.minimum(rng.geometric(0.6, n), 6)
        two_dev = (n_sess > 1) & (rng.random(n) < 0.3)
        t0 = epoch(day) * MS + rng.choice(24, n, p=WEB_HOURS) * 3_600_000 + rng.integers(0, 3_600_000, n)
        first = np.concatenate([[0], np.cumsum(n_sess)[:-1]])
        S = int(n_sess.sum())
        js = np.repeat(np.arange(n), n_sess)
        k = np.arange(S) - first[js]
        last = k == n_sess[js] - 1
        gap = np.where(k == 0, 0, np.minimum(rng.exponential(1.3, S), 2.5) * DAY * MS + 1_200_000).astype(np.int64)
        ts = t0[js] + _group_cumsum(gap, first, js)
        back = rng.choice(5, S, p=RETURN_MIX)
        ch = np.where(k == 0, ch0[js], np.where(back == 0, ch0[js], np.array([0, 1, 2, 3, 4])[back]))
        link = np.where(ch == INFLUENCER, link0[js], -1)
        dev = np.where(two_dev[js] & (k > 0), np.where(last, 1, rng.integers(0, 2, S)), 0)
        conv = rng.random(n) < P_CONVERT[ch0] * (1 + 0.3 * (n_sess - 1))
        sig = rng.random(n) < 0.045
        sig_k = (rng.random(n) * n_sess).astype(np.int64)

        # devices: two anonymous ids per journey (the second used only by two-device journeys)
        d_hi = rng.integers(0, 2**64, (n, 2), dtype=np.uint64)
        d_lo = rng.integers(0, 2**64, (n, 2), dtype=np.uint64)
        d_ua = rng.choice(len(self.ua_p), (n, 2), p=self.ua_p)
        plat0 = np.where(link0 >= 0, self.link_plat[np.maximum(link0, 0)], -1)
        in_app = (plat0 >= 0) & (plat0 < 2) & (rng.random(n) < 0.6)  # Instagram/TikTok in-app browsers
        d_ua[:, 0] = np.where(in_app, len(self.ua_p) + plat0, d_ua[:, 0])
        d_ip = rng.integers(0, len(self.ips), (n, 2))

        # page views
        conv_s = conv[js] & last
        npv = np.where(rng.random(S) < 0.38, 1, np.minimum(rng.geometric(0.3, S) + 1, 12))
        npv = np.where(conv_s, np.maximum(npv, 3), npv)
        P = int(npv.sum())
        sp = np.repeat(np.arange(S), npv)
        pfirst = np.concatenate([[0], np.cumsum(npv)[:-1]])
        kp = np.arange(P) - pfirst[sp]
        pgap = np.where(kp == 0, 0, (20 + rng.exponential(100, P)) * MS).astype(np.int64)
        tp = ts[sp] + _group_cumsum(pgap, pfirst, sp) + rng.integers(0, MS, P)
        url, ref = self._landing(rng, ch, link, ts // (DAY * MS), S)
        purl = np.where(kp == 0, url[sp], self.internal[rng.integers(0, len(self.internal), P)])
        last_pv = kp == npv[sp] - 1
        purl = np.where(conv_s[sp] & last_pv, self.cart, purl)
        pref = np.where(kp == 0, ref[sp], np.roll(purl, 1))

        # signups and checkouts
        person = np.full(n, -1)
        need = np.flatnonzero(conv | sig)
        person[need] = self.shop.persons_for(rng, conv[need])
        s_sig = first + sig_k
        pv_sig = pfirst[s_sig] + (rng.random(n) * npv[s_sig]).astype(np.int64)
        jsig = np.flatnonzero(sig)
        t_sig = tp[pv_sig[jsig]] + rng.integers(10_000, 60_000, len(jsig))
        dev_sig = dev[s_sig[jsig]]
        self.shop.add_signups(rng, t_sig, person[jsig], d_hi[jsig, dev_sig], d_lo[jsig, dev_sig],
                              [self.urls.items[i] for i in url[s_sig[jsig]]])
        jc = np.flatnonzero(conv)
        s_conv = first[jc] + n_sess[jc] - 1
        t_conv = tp[pfirst[s_conv] + npv[s_conv] - 1] + rng.integers(60_000, 400_000, len(jc))
        dev_c = dev[s_conv]
        intents = self.shop.add_checkouts(
            rng, t_conv, person[jc], [self.urls.items[i] for i in url[s_conv]],
            [self.urls.items[i] for i in ref[s_conv]], [self.ips[i] for i in d_ip[jc, dev_c]], link0[jc],
            sig[jc])
        self.shop.add_offline(rng, day, weights, n_inf, len(jc))

        pj = js[sp]
        pdev = dev[sp]
        ev = {
            "t": np.concatenate([tp, t_sig, t_conv]),
            "hi": np.concatenate([d_hi[pj, pdev], d_hi[jsig, dev_sig], d_hi[jc, dev_c]]),
            "lo": np.concatenate([d_lo[pj, pdev], d_lo[jsig, dev_sig], d_lo[jc, dev_c]]),
            "etype": np.concatenate([np.zeros(P, np.int8), np.ones(len(jsig), np.int8), np.full(len(jc), 2, np.int8)]),
            "url": np.concatenate([purl, purl[pv_sig[jsig]], np.full(len(jc), self.thanks)]),
            "ref": np.concatenate([pref, pref[pv_sig[jsig]], np.full(len(jc), self.cart)]),
            "ua": np.concatenate([d_ua[pj, pdev], d_ua[jsig, dev_sig], d_ua[jc, dev_c]]),
            "ip": np.concatenate([d_ip[pj, pdev], d_ip[jsig, dev_sig], d_ip[jc, dev_c]]),
            "extra": np.concatenate([np.full(P, -1), person[jsig], intents]),
        }
        m = len(ev["t"])
        ev["seq"] = self.seq + np.arange(m)
        self.seq += m
        ev_day = ev["t"] // (DAY * MS)
        for d in np.unique(ev_day).tolist():
            at = date(1970, 1, 1) + timedelta(days=d)
            # Warm-up days are never written; kept, ten of them held ~16 GB at profile XL.
            if at < self.w.start:
                continue
            sel = ev_day == d
            self.buckets.setdefault(at, []).append({k2: v[sel] for k2, v in ev.items()})

    def _landing(self, rng: np.random.Generator, ch: np.ndarray, link: np.ndarray, sday: np.ndarray, S: int):
        """Landing URL and referrer of each session, by channel."""
        prod = rng.integers(0, len(self.products), S)
        soc = rng.choice(len(self.social_p), S, p=self.social_p)
        lk = np.maximum(link, 0)
        plat = self.link_plat[lk]
        url = np.select(
            [ch == INFLUENCER, ch == ORGANIC, ch == PAID, ch == EMAIL, ch == DIRECT],
            [self.link_url[lk], self.organic[rng.integers(0, len(self.organic), S)],
             self.paid[prod], self._email_url(sday),
             np.where(rng.random(S) < 0.6, self.site[0], self.products[prod])],
            np.where(rng.random(S) < 0.5, self.social_utm[soc, prod], self.products[prod]))
        ig_stripped = (plat == 0) & (rng.random(S) < 0.2)  # some in-app opens send no referrer
        ref = np.select(
            [ch == INFLUENCER, ch == ORGANIC, ch == PAID, ch == SOCIAL],
            [np.where(ig_stripped, 0, self.plat_ref[plat]),
             self.search_ref[rng.choice(len(self.search_p), S, p=self.search_p)], self.search_ref[0],
             self.social_ref[soc]], 0)
        return url, ref

    def events_lines(self, day: date) -> tuple[int, Iterator[list[str]]]:
        """The day's web events as NDJSON lines: how many, and the lines in chunks of CHUNK_LINES. A profile-XL day
        holds 20 M events; built as one list of strings, it took more memory than the machine's 24 GB."""
        chunks = self.buckets.pop(day, [])
        if not chunks:
            return 0, iter(())
        ev = {k: np.concatenate([c[k] for c in chunks]) for k in FIELDS}
        order = np.lexsort((ev["seq"], ev["t"]))
        ev = {k: v[order] for k, v in ev.items()}
        n = len(order)
        id_hi, id_lo = uuid_bits(rng_for(self.seed, WEB, day.toordinal(), 1), n)
        return n, (self._lines(ev, id_hi, id_lo, slice(s, s + CHUNK_LINES)) for s in range(0, n, CHUNK_LINES))

    def _lines(self, ev: dict[str, np.ndarray], id_hi: np.ndarray, id_lo: np.ndarray, part: slice) -> list[str]:
        ids = uuid_strings(id_hi[part], id_lo[part])
        at = iso_ms_z(ev["t"][part])
        anon = uuid_strings(ev["hi"][part], ev["lo"][part])
        uj, uaj, ips, shop = self.urls.json, self.ua_json, self.ips, self.shop
        out = []
        for i, (e, u, r, a, ip, x) in enumerate(zip(*(ev[k][part].tolist()
                                                      for k in ("etype", "url", "ref", "ua", "ip", "extra")))):
            line = (f'{{"event_id":"{ids[i]}","event_at":"{at[i]}","anonymous_id":"{anon[i]}",'
                    f'"event_type":"{ETYPES[e]}","page_url":{uj[u]},"referrer":{uj[r]},"user_agent":{uaj[a]},'
                    f'"ip":"{ips[ip]}"')
            if e == 2:
                cid, oid = shop.checkout_ids(x)
                line += f',"customer_id":{cid},"order_id":{oid}}}'
            elif e == 1:
                line += f',"email":{json.dumps(shop.persons[x].email, ensure_ascii=False)}}}'
            else:
                line += "}"
            out.append(line)
        return out
