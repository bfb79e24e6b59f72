"""Shared helpers: seeded RNG streams, time formatting, ids, human-typed numbers."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np

SHOP = "https://shop.example.com"
DAY = 86_400
EPOCH = date(1970, 1, 1)
SHOP_TZ = timezone(timedelta(hours=-5))  # fixed offset: the shop reports in US Eastern standard time
# One RNG stream per subsystem (and per day where it matters) so a change in one never shifts another,
# and the clean world stays identical whatever the dirty rate.
WORLD, POSTS, FOLLOWERS, WEB, ORDERS, DEFECTS, SIGNUPS = range(1, 8)
WEEKDAY_POSTS = np.array([0.9, 1.05, 1.1, 1.15, 1.0, 0.8, 1.0])  # Mon..Sun
WEEKDAY_WEB = np.array([1.02, 0.98, 0.97, 1.0, 0.93, 0.95, 1.15])
# Shop-local (UTC-5) evening peak, expressed in UTC hours.
_LOCAL_HOURS = np.array([3, 2, 1.5, 1, 1, 1.2, 2, 3, 4, 5, 5.5, 6, 6.5, 6, 6, 6, 6.5, 7, 8, 9, 9.5, 9, 7, 5])
WEB_HOURS = np.roll(_LOCAL_HOURS, 5) / _LOCAL_HOURS.sum()


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    """Independent generator for (seed, keys...)."""
    return np.random.default_rng(np.random.SeedSequence([seed & 0xFFFF_FFFF_FFFF_FFFF, *keys]))


def epoch(d: date) -> int:
    return (d - EPOCH).days * DAY


def ig_ts(sec: int) -> str:
    """Graph API style: 2026-10-30T18:21:07+0000."""
    return datetime.fromtimestamp(int(sec), UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def iso_z(sec: int) -> str:
    return datetime.fromtimestamp(int(sec), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shop_ts(sec: int) -> str:
    return datetime.fromtimestamp(int(sec), SHOP_TZ).isoformat(timespec="seconds")


def iso_ms_z(ms: np.ndarray) -> list[str]:
    """Vectorised 2026-11-01T10:22:03.123Z."""
    return [s + "Z" for s in np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms").tolist()]


def uuids(rng: np.random.Generator, n: int) -> list[str]:
    return uuid_strings(*uuid_bits(rng, n))


def uuid_bits(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The two 64-bit halves of `n` random UUIDs, for formatting part by part with uuid_strings."""
    return rng.integers(0, 2**64, n, dtype=np.uint64), rng.integers(0, 2**64, n, dtype=np.uint64)


def uuid_strings(hi: np.ndarray, lo: np.ndarray) -> list[str]:
    """Format 128-bit values as version-4 UUIDs (version nibble and variant bits forced)."""
    hi = (hi & np.uint64(0xFFFF_FFFF_FFFF_0FFF)) | np.uint64(0x4000)
    lo = (lo & np.uint64(0x3FFF_FFFF_FFFF_FFFF)) | np.uint64(0x8000_0000_0000_0000)
    out = []
    for a, b in zip(hi.tolist(), lo.tolist()):
        s = f"{a:016x}{b:016x}"
        out.append(f"{s[:8]}-{s[8:12]}-{s[12:16]}-{s[16:20]}-{s[20:]}")
    return out


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64_id(rng: np.random.Generator, n: int) -> str:
    return "".join(_B64[i] for i in rng.integers(0, 64, n))


def ascii_fold(s: str) -> str:
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()


def slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", ascii_fold(s).lower()).strip("-")


def money(x: float) -> str:
    return f"{x:.2f}"


def human_count(n: int, style: float) -> str:
    """Follower count as a person types it into the CRM: 950, 12.5K, 1.2M (sometimes lower-case)."""
    if n < 1000:
        return str(int(round(n, -1)) if n >= 100 else n)
    if n < 1_000_000:
        v = n / 1000
        txt = f"{v:.1f}" if v < 100 else f"{v:.0f}"
        suffix = "k" if style < 0.15 else "K"
    else:
        txt, suffix = f"{n / 1e6:.1f}", ("m" if style < 0.15 else "M")
    if txt.endswith(".0"):
        txt = txt[:-2]
    return txt + suffix
