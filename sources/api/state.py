"""What a pull remembers between runs: cursors per source and the creators' tokens, as small JSON files under
`$INFLUENCE_DATA_DIR/state/` (owner-only, replaced atomically).

A cursor advances only after the landing file it covers is written, so a pull killed in between repeats its window
rather than skipping it. A rotating refresh token (TikTok, Shopify) is saved before the new access token is used: a
crash after the platform rotated it must not leave us holding only the old, now dead, one.
"""
from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from influence_pipeline.atomic import write_atomic

STATE_DIR = "state"


def _write_private(path: Path, payload: dict) -> None:
    def write(tmp: Path) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1, sort_keys=True)

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, write)


class CursorStore:
    """Per-source cursors (`state/pull/<source>.json`): e.g. Shopify's `updated_at` high-water mark."""

    def __init__(self, data_dir: Path, source: str):
        self.path = data_dir / STATE_DIR / "pull" / f"{source}.json"

    def read(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get(self, key: str, default=None):
        return self.read().get(key, default)

    def put(self, **values) -> None:
        _write_private(self.path, {**self.read(), **values})


def utc_instant(stamp: str) -> datetime:
    """A stored expiry; one written without an offset (by hand, by another tool) is taken as UTC."""
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass
class Token:
    """One credential for one account: a creator's own (insights) or the brand's (public stats)."""

    access_token: str
    expires_at: str | None = None  # ISO 8601 UTC; None: does not expire (an API key, a Shopify offline token)
    refresh_token: str | None = None
    refresh_expires_at: str | None = None
    extra: dict = field(default_factory=dict)  # platform ids the token unlocks (TikTok open_id, an IG user id)

    def expires_within(self, now: datetime, days: float) -> bool:
        return self.expires_at is not None and utc_instant(self.expires_at) <= now + timedelta(days=days)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and utc_instant(self.expires_at) <= now

    def renewal(self, now: datetime, warning_days: float) -> tuple[str, str | None]:
        """(state, until): when the creator must authorise again - `connected`, `renew soon` (within
        `warning_days`) or `expired` - and that moment (None: no known end). A refresh token renews the access token
        by itself (TikTok's live 24 h), so its end is the one that needs a human when there is one."""
        until = self.refresh_expires_at if self.refresh_token else self.expires_at
        if until is None:
            return "connected", None
        end = utc_instant(until)
        if end <= now:
            return "expired", until
        return ("renew soon" if end <= now + timedelta(days=warning_days) else "connected"), until

    def expiry_warning(self, account: str, now: datetime, warning_days: float, action: str) -> str | None:
        """The pull's warning about an authorisation ending within `warning_days` or already ended (an access token
        issued before still works until its own end), None otherwise. Names the account, never the token."""
        state, until = self.renewal(now, warning_days)
        if state == "connected":
            return None
        verb, when = ("expires", "before then") if state == "renew soon" else ("expired", "now")
        return f"{account}: the creator's authorisation {verb} on {until[:10]}: {action} {when}"

    def __repr__(self) -> str:  # a token printed in a traceback or a log must not leak
        return f"Token(expires_at={self.expires_at!r}, has_refresh={self.refresh_token is not None})"


class TokenStore:
    """Creators' tokens by platform and account (`state/tokens.json`, mode 0600), written by `influence connect`
    and by refresh. The roster says who has connected; this file is where their tokens live."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> TokenStore:
        return cls(data_dir / STATE_DIR / "tokens.json")

    def _all(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get(self, platform: str, account_id: str) -> Token | None:
        entry = self._all().get(platform, {}).get(account_id)
        return None if entry is None else Token(**entry)

    def accounts(self, platform: str) -> list[str]:
        return sorted(self._all().get(platform, {}))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Every platform's pull and `influence connect` update this one file: read-change-write under a flock, or a
        YouTube refresh could write back a TikTok refresh token that TikTok has just rotated away."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def put(self, platform: str, account_id: str, token: Token) -> None:
        with self._locked():
            everything = self._all()
            everything.setdefault(platform, {})[account_id] = asdict(token)
            _write_private(self.path, everything)

    def remove(self, platform: str, account_id: str) -> None:
        with self._locked():
            everything = self._all()
            everything.get(platform, {}).pop(account_id, None)
            _write_private(self.path, everything)
