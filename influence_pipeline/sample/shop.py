"""Shopify orders (with refunds re-delivered later) and newsletter signups, tied to visitors by the web journeys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from . import pools
from .common import DAY, ORDERS, SHOP, WEB_HOURS, epoch, iso_z, money, rng_for, shop_ts, slug, uuid_strings
from .world import World

MS = 1000
CURRENCIES, CURRENCY_P = ["USD", "EUR", "GBP"], [0.8, 0.12, 0.08]
LISTS, LIST_P = ["newsletter", "vip-early-access", "restock-alerts"], [0.8, 0.12, 0.08]
STORE_CODES = {"WELCOME10": 10}  # the shop's own codes, not affiliate codes


@dataclass
class Person:
    first: str
    last: str
    email: str
    customer_id: int | None = None


@dataclass
class Order:
    t: int  # created, epoch ms
    person: int
    landing: str
    referrer: str
    ip: str
    currency: str
    lines: float
    codes: list[tuple[str, float, str]]
    shipping: float
    tax: float
    status: str
    test: bool
    source: str
    refund: tuple[int, float, str] | None = None  # (epoch ms, amount, new status)
    id: int | None = None
    name: str = ""
    refund_id: int = 0


class Shop:
    def __init__(self, w: World, seed: int):
        self.w, self.seed = w, seed
        self.persons: list[Person] = []
        self.orders: list[Order] = []
        self.customers: list[int] = []  # persons with a delivered order, for returning buyers
        self.created: dict[date, list[int]] = {}
        self.refunded: dict[date, list[int]] = {}
        self.signups: dict[date, list[tuple]] = {}
        self._valid: dict[date, list[int]] = {}
        self.next_id, self.next_name, self.next_customer = 5_712_300_000_000, 1001, 7_401_200_000_000
        self.next_refund, self.next_signup = 912_300_000_000, 1

    def _person(self, rng: np.random.Generator) -> int:
        first = pools.FIRST_NAMES[rng.integers(len(pools.FIRST_NAMES))]
        last = pools.LAST_NAMES[rng.integers(len(pools.LAST_NAMES))]
        n = len(self.persons)
        domain = pools.EMAIL_DOMAINS[rng.integers(len(pools.EMAIL_DOMAINS))]
        self.persons.append(Person(first, last, f"{slug(first)}.{slug(last)}.{n}@{domain}".replace("-", "")))
        return n

    def persons_for(self, rng: np.random.Generator, converting: np.ndarray) -> np.ndarray:
        """A person per journey that leaves an identity; some buyers are returning customers."""
        back = converting & (rng.random(len(converting)) < 0.15)
        out = []
        for b in back.tolist():
            if b and self.customers:
                out.append(self.customers[rng.integers(len(self.customers))])
            else:
                out.append(self._person(rng))
        return np.array(out, dtype=np.int64)

    def add_signups(self, rng, t_ms, persons, hi, lo, landing_urls) -> None:
        anon = uuid_strings(hi, lo)
        rows = [(int(t) + int(rng.integers(1_000, 5_000)), int(p), a, u) for t, p, a, u in
                zip(t_ms.tolist(), persons.tolist(), anon, landing_urls)]
        # signups from places the tracker does not see (pop-ups blocked, in-store tablets)
        for t in rng.choice(t_ms, int(rng.binomial(len(t_ms), 0.12))) if len(t_ms) else []:
            rows.append((int(t) + int(rng.integers(-DAY * MS // 2, DAY * MS // 2)), self._person(rng), "", ""))
        for t, p, a, u in rows:
            extra = (LISTS[rng.choice(3, p=LIST_P)], "true" if rng.random() < 0.92 else "false")
            self.signups.setdefault(date(1970, 1, 1) + timedelta(days=t // (DAY * MS)), []).append((t, p, a, u, *extra))

    def _valid_codes(self, day: date) -> list[int]:
        # Asked once per word-of-mouth checkout; a scan of every member each time dominated profile XL's generation.
        if day not in self._valid:
            self._valid[day] = [i for i, m in enumerate(self.w.members) if m.valid_from <= day <= m.valid_to]
        return self._valid[day]

    def _code(self, rng, mi: int) -> tuple[str, float, str]:
        m = self.w.members[mi]
        # Shopify keeps the code as the customer typed it
        return (m.code.lower() if rng.random() < 0.1 else m.code), m.pct, "percentage"

    def add_checkouts(self, rng, t_ms, persons, landings, referrers, ips, links, signed_up) -> np.ndarray:
        out = []
        for t, p, land, ref, ip, lk, su in zip(t_ms.tolist(), persons.tolist(), landings, referrers, ips,
                                               links.tolist(), signed_up.tolist()):
            day = date(1970, 1, 1) + timedelta(days=t // (DAY * MS))
            m = self.w.members[lk] if lk >= 0 else None
            codes = []
            if m is not None and m.valid_from <= day <= m.valid_to and rng.random() < 0.45:
                codes.append(self._code(rng, lk))
            elif rng.random() < 0.02 and (valid := self._valid_codes(day)):
                codes.append(self._code(rng, valid[rng.integers(len(valid))]))  # word of mouth, no click
            elif su and rng.random() < 0.3:
                codes.append(("WELCOME10", 10, "percentage"))
            brand = self.w.campaigns[m.campaign].brand if m is not None else None
            out.append(self._new(rng, t, p, land.removeprefix(SHOP), ref, ip, codes, brand, "web", False))
        return np.array(out, dtype=np.int64)

    def add_offline(self, rng, day: date, weights: np.ndarray, n_inf: int, n_checkouts: int) -> None:
        """Orders without a tracked journey: affiliate code only (app, blocked tracker), and staff test orders."""
        valid = np.array(self._valid_codes(day), dtype=np.int64)
        n_code = int(rng.poisson(0.006 * n_inf)) if len(valid) else 0
        if n_code:
            wt = weights[valid] + 1e-9
            for mi in rng.choice(valid, n_code, p=wt / wt.sum()).tolist():
                t = epoch(day) * MS + int(rng.choice(24, p=WEB_HOURS)) * 3_600_000 + int(rng.integers(0, 3_600_000))
                app = rng.random() < 0.5
                source = ("iphone" if rng.random() < 0.6 else "android") if app else "web"
                brand = self.w.campaigns[self.w.members[mi].campaign].brand
                ip = f"198.51.100.{rng.integers(1, 255)}"
                self._new(rng, t, self._person(rng) if not self.customers or rng.random() < 0.85 else
                          self.customers[rng.integers(len(self.customers))], "" if app else "/", "", ip,
                          [self._code(rng, mi)], brand, source, False)
        for _ in range(int(rng.poisson(0.01 * n_checkouts))):
            t = epoch(day) * MS + int(rng.integers(14, 22)) * 3_600_000 + int(rng.integers(0, 3_600_000))
            n = len(self.persons)
            self.persons.append(Person("QA", "Tester", f"qa+{n}@example.com"))
            self._new(rng, t, n, "/", "", "198.51.100.10", [], None, "web", True)

    def _new(self, rng, t, person, landing, referrer, ip, codes, brand, source, test) -> int:
        cur = CURRENCIES[rng.choice(3, p=CURRENCY_P)]
        fx = pools.FX[cur]
        lines = 0.0
        for _ in range(min(int(rng.geometric(0.55)), 4)):
            prods = [p for p in self.w.products if brand is None or p[0] == brand or rng.random() < 0.4]
            _, _, usd = prods[rng.integers(len(prods))]
            price = usd if cur == "USD" else np.floor(usd * fx) + 0.9
            lines += price * (2 if rng.random() < 0.15 else 1)
        lines = round(lines, 2)
        shipping = 0.0 if lines >= 50 * fx else round(4.95 * fx, 2)
        if codes and codes[0][0] not in STORE_CODES and shipping > 0 and rng.random() < 0.1:
            codes.append(("FREESHIP", 0.0, "shipping"))  # a few orders stack a shipping code
        tax_rate = round(float(rng.uniform(0, 0.09)), 3) if cur == "USD" else 0.0  # EU/UK prices include VAT
        status = "pending" if rng.random() < 0.02 else "paid"
        o = Order(t, person, landing, referrer, ip, cur, lines, codes, shipping, tax_rate, status, test, source)
        if not test and status == "paid" and rng.random() < 0.05:
            rday = t // (DAY * MS) + int(rng.integers(1, 6))
            rt = rday * DAY * MS + int(rng.integers(13 * 3_600_000, 23 * 3_600_000))
            full = rng.random() < 0.6
            o.refund = (rt, 1.0 if full else round(float(rng.uniform(0.2, 0.7)), 2),
                        "refunded" if full else "partially_refunded")
            self.refunded.setdefault(date(1970, 1, 1) + timedelta(days=rday), []).append(len(self.orders))
        self.created.setdefault(date(1970, 1, 1) + timedelta(days=t // (DAY * MS)), []).append(len(self.orders))
        self.orders.append(o)
        return len(self.orders) - 1

    def checkout_ids(self, i: int) -> tuple[int, int]:
        o = self.orders[i]
        return self.persons[o.person].customer_id, o.id

    def _amounts(self, o: Order) -> dict:
        disc, ship_disc, codes = 0.0, 0.0, []
        for code, pct, kind in o.codes:
            amt = o.shipping if kind == "shipping" else round(o.lines * pct / 100, 2)
            disc += amt if kind != "shipping" else 0.0
            ship_disc += amt if kind == "shipping" else 0.0
            codes.append({"code": code, "amount": money(amt), "type": kind})
        subtotal = round(o.lines - disc, 2)
        total = round(subtotal + o.shipping - ship_disc + round(subtotal * o.tax, 2), 2)
        return {"total": total, "subtotal": subtotal, "discounts": round(disc + ship_disc, 2), "codes": codes}

    def _record(self, o: Order, refunded: bool) -> dict:
        p = self.persons[o.person]
        a = self._amounts(o)
        refunds, status, updated = [], o.status, o.t + 2_000 + o.id % 28_000
        if refunded:
            rt, share, status = o.refund
            amount = a["total"] if status == "refunded" else round(a["total"] * share, 2)
            refunds = [{"id": o.refund_id, "created_at": shop_ts(rt // MS),
                        "transactions": [{"amount": money(amount), "kind": "refund"}]}]
            updated = rt
        return {"id": o.id, "name": o.name, "created_at": shop_ts(o.t // MS), "updated_at": shop_ts(updated // MS),
                "customer": {"id": p.customer_id, "email": p.email, "first_name": p.first, "last_name": p.last},
                "email": p.email, "browser_ip": o.ip, "total_price": money(a["total"]),
                "subtotal_price": money(a["subtotal"]), "total_discounts": money(a["discounts"]),
                "currency": o.currency, "discount_codes": a["codes"], "landing_site": o.landing,
                "referring_site": o.referrer, "financial_status": status, "refunds": refunds, "test": o.test,
                "source_name": o.source}

    def orders_records(self, day: date) -> list[dict]:
        """Orders created on `day` (ids assigned now, in creation order) and earlier orders refunded on `day`."""
        rng = rng_for(self.seed, ORDERS, day.toordinal())
        new = sorted(self.created.pop(day, []), key=lambda i: (self.orders[i].t, i))
        for i in new:
            o = self.orders[i]
            self.next_id += int(rng.integers(5_000, 3_000_000))
            o.id, o.name = self.next_id, f"#{self.next_name}"
            self.next_name += 1
            p = self.persons[o.person]
            if p.customer_id is None:
                self.next_customer += int(rng.integers(1_000, 900_000))
                p.customer_id = self.next_customer
                if not o.test:
                    self.customers.append(o.person)
        out = [(self.orders[i].t, self._record(self.orders[i], False)) for i in new]
        for i in sorted(self.refunded.pop(day, []), key=lambda i: (self.orders[i].refund[0], i)):
            o = self.orders[i]
            if o.id is None:  # created before the first landing day: never delivered
                continue
            self.next_refund += int(rng.integers(1_000, 500_000))
            o.refund_id = self.next_refund
            out.append((o.refund[0], self._record(o, True)))
        return [r for _, r in sorted(out, key=lambda x: x[0])]

    def signup_rows(self, day: date) -> list[list[str]]:
        rows = []
        for t, p, anon, url, lst, consent in sorted(self.signups.pop(day, []), key=lambda r: (r[0], r[1])):
            person = self.persons[p]
            rows.append([f"SGN-{self.next_signup:07d}", iso_z(t // MS), person.email, person.first, lst, anon, url,
                         consent])
            self.next_signup += 1
        return rows
