"""Synthetic landing data for the pipeline: a seeded, day-by-day simulation written in the shapes of docs/landing.md."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path

from .common import DEFECTS, rng_for
from .defects import SPECS, dirty_csv, dirty_ndjson_chunks
from .io import csv_text, json_lines, ndjson_text, write_atomic
from .shop import Shop
from .social import Social
from .web import WARMUP, Web
from .world import build_world, roster_tables

__all__ = ["generate", "FILES"]

SIGNUP_HEADER = ["signup_id", "created_at", "email", "first_name", "list_name", "anonymous_id", "landing_url",
                 "consent"]
FILES = list(SPECS)  # "<source>/<file>", in the order they are written


class _Day:
    """Writes one landing day, injecting defects with a stream per (file, day)."""

    def __init__(self, out: Path, day: date, seed: int, rate: float, counts: dict[str, int]):
        self.out, self.day, self.seed, self.rate, self.counts = out, day, seed, rate, counts

    def _path(self, key: str) -> Path:
        source, name = key.split("/")
        return self.out / source / self.day.isoformat() / name

    def _rng(self, key: str):
        return rng_for(self.seed, DEFECTS, FILES.index(key), self.day.toordinal())

    def lines(self, key: str, lines: list[str]) -> None:
        self.stream(key, len(lines), [lines])

    def stream(self, key: str, n: int, chunks: Iterable[list[str]]) -> None:
        """Write a file of `n` lines given as consecutive chunks, defects injected, each chunk as it comes."""
        if self.rate > 0:
            chunks = dirty_ndjson_chunks(chunks, n, SPECS[key], self._rng(key), self.rate)

        def write(tmp: Path) -> None:
            with open(tmp, "w", encoding="utf-8", newline="\n") as out:
                for chunk in chunks:
                    self.counts[key] += len(chunk)
                    out.write(ndjson_text(chunk))

        write_atomic(self._path(key), write)

    def records(self, source: str, files: dict[str, list[dict]]) -> None:
        for name, recs in files.items():
            self.lines(f"{source}/{name}", json_lines(recs))

    def csv(self, key: str, header: list[str], rows: list[list]) -> None:
        if self.rate > 0:
            rows = dirty_csv(header, rows, SPECS[key], self._rng(key), self.rate)
        self.counts[key] += len(rows)
        write_atomic(self._path(key), csv_text(header, rows))


def generate(out: Path, start: date, days: int, scale: float = 1.0, seed: int = 42, dirty_rate: float = 0.0,
             on_day: Callable[[date], None] | None = None) -> dict[str, int]:
    """Write <source>/<YYYY-MM-DD>/<file> under the landing folder `out` for `days` days from `start`; return row counts per
    file name (e.g. {"web_events/events.ndjson": 712345, ...}) summed over days."""
    if days < 0 or scale <= 0 or not 0 <= dirty_rate <= 1:
        raise ValueError("need days >= 0, scale > 0 and 0 <= dirty_rate <= 1")
    out = Path(out)
    world = build_world(seed, start, days, scale)
    social = Social(world, seed)
    shop = Shop(world, seed)
    web = Web(world, social, shop, seed)
    for back in range(WARMUP, 0, -1):
        web.simulate(start - timedelta(days=back))
    counts = dict.fromkeys(FILES, 0)
    for i in range(days):
        day = start + timedelta(days=i)
        d = _Day(out, day, seed, dirty_rate, counts)
        for name, (header, rows) in roster_tables(world, day).items():
            d.csv(f"roster/{name}", header, rows)
        d.records("instagram", social.instagram(day))
        d.records("tiktok", social.tiktok(day))
        for name, (header, rows) in social.youtube(day).items():
            d.csv(f"youtube/{name}", header, rows)
        web.simulate(day)
        d.lines("orders/orders.ndjson", json_lines(shop.orders_records(day)))  # assigns the ids checkouts refer to
        d.stream("web_events/events.ndjson", *web.events_lines(day))
        d.csv("signups/signups.csv", SIGNUP_HEADER, shop.signup_rows(day))
        if on_day is not None:
            on_day(day)
    return counts
