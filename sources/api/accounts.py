"""Which accounts a pull reads: the roster's social accounts, as of the latest roster delivered on or before the day.

A pull runs before that night's ingest, so it reads the roster landing file itself (normalised the way staging
normalises it) rather than a staging table that may be a day old.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from influence_pipeline.transforms.staging.common import PLATFORM_ALIASES

ROSTER_FILE = "social_accounts.csv"


class RosterMissing(RuntimeError):
    """No roster was delivered on or before the day: a pull has no accounts to read."""


@dataclass(frozen=True)
class RosterAccount:
    platform: str  # instagram | tiktok | youtube
    platform_account_id: str  # IG user id, TikTok username, YouTube channel id
    handle: str  # without the @

    @property
    def account_id(self) -> str:
        return f"{self.platform}:{self.platform_account_id}"


def latest_roster(landing_dir: Path, ds: date) -> Path:
    folders = sorted(p for p in (landing_dir / "roster").glob("????-??-??")
                     if p.name <= ds.isoformat() and (p / ROSTER_FILE).is_file())
    if not folders:
        raise RosterMissing(f"no roster {ROSTER_FILE} under {landing_dir / 'roster'} on or before {ds}: "
                            "a pull needs the roster to know which accounts to read")
    return folders[-1] / ROSTER_FILE


def roster_accounts(landing_dir: Path, ds: date, platform: str) -> list[RosterAccount]:
    """The roster's accounts on `platform`, in roster order, each once; rows with an unknown platform or no id are
    the roster's problem (quarantined by its nightly), not the pull's."""
    seen: dict[str, RosterAccount] = {}
    with latest_roster(landing_dir, ds).open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            name = PLATFORM_ALIASES.get(" ".join((row.get("platform") or "").split()).lower())
            native = (row.get("platform_account_id") or "").strip()
            if name == platform and native and native not in seen:
                seen[native] = RosterAccount(name, native, (row.get("handle") or "").strip().lstrip("@"))
    return list(seen.values())
