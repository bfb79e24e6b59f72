"""Which roster accounts a brand can read fully: each social account with its creator's token (if any), the access a
pull would use, and how the latest pull went — the answer to "whom do we still need to ask to connect?".

Read from the roster landing file, the token store and the `_pull.json` records; nothing is written.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from influence_pipeline.sources.api.accounts import roster_accounts
from influence_pipeline.sources.api.landing_out import PULL_RECORD
from influence_pipeline.sources.api.state import Token, TokenStore

CREATOR_PLATFORMS = ("instagram", "tiktok", "youtube")
#: Whether the brand's own credentials read an account the creator has not connected (Business Discovery, the
#: YouTube Data API); TikTok has no public route.
PUBLIC_ROUTE = {"instagram": True, "tiktok": False, "youtube": True}


@dataclass(frozen=True)
class AccountAccess:
    platform: str
    platform_account_id: str
    handle: str
    token: str  # connected | renew soon | expired | not connected
    token_until: str | None  # when the creator must authorise again (ISO 8601 UTC); None: no known end
    access: str  # what a pull reads it with: creator | public | none
    in_roster: bool  # False: a stored token for an account the roster no longer lists
    last_pull_date: str | None = None
    last_status: str | None = None  # ok | partial | stopped | failed | skipped, of the latest pull naming it
    last_message: str = ""


def token_state(token: Token | None, now: datetime, warning_days: int) -> tuple[str, str | None]:
    """(state, until) of a stored token (Token.renewal), `not connected` without one."""
    return ("not connected", None) if token is None else token.renewal(now, warning_days)


def _latest_pulls(landing_dir: Path, platform: str, ds: date) -> tuple[str | None, dict[str, dict]]:
    """The latest `_pull.json` of `platform` on or before `ds`: its date and its accounts by id."""
    records = sorted((p for p in (landing_dir / platform).glob(f"????-??-??/{PULL_RECORD}")
                      if p.parent.name <= ds.isoformat()), reverse=True)
    for path in records:
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a record being replaced or hand-edited: the one before it still says something
        return path.parent.name, {a["account_id"]: a for a in payload.get("accounts", []) if "account_id" in a}
    return None, {}


def roster_access(landing_dir: Path, store: TokenStore, ds: date, now: datetime,
                  warning_days: int) -> list[AccountAccess]:
    """Every social account of the latest roster on or before `ds`, per platform in roster order, then tokens stored
    for accounts the roster no longer lists."""
    out: list[AccountAccess] = []
    for platform in CREATOR_PLATFORMS:
        pulled_on, pulled = _latest_pulls(landing_dir, platform, ds)
        listed = roster_accounts(landing_dir, ds, platform)
        known = {a.platform_account_id for a in listed}
        rows = [(a.platform_account_id, a.handle, True) for a in listed]
        rows += [(account, "", False) for account in store.accounts(platform) if account not in known]
        for account, handle, in_roster in rows:
            state, until = token_state(store.get(platform, account), now, warning_days)
            usable = state in ("connected", "renew soon")
            # An expired authorisation stops the account's pull (a human must act) rather than falling back.
            access = "creator" if usable else "public" if state == "not connected" and PUBLIC_ROUTE[platform] \
                else "none"
            last = pulled.get(account, {})
            out.append(AccountAccess(platform, account, handle, state, until, access, in_roster,
                                     pulled_on if last else None, last.get("status"), last.get("message", "")))
    return out
