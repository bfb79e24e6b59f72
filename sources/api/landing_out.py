"""Where a pull puts what it fetched: the landing files a delivered export would be, plus a `_pull.json` record of the
pull itself (when, which API version and endpoints, which accounts were read and which were not, and why).

Files are replaced atomically, so the nightly reads a whole pull or the previous one. A source pulled several times a
day (Instagram stories) merges each pull into the day's file by key: a story that vanished keeps its last values.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from influence_pipeline.atomic import write_atomic

PULL_RECORD = "_pull.json"
#: A source whose landing folder is named for its data rather than its platform (docs/landing.md).
LANDING_FOLDERS = {"shopify": "orders"}


def landing_folder(source: str) -> str:
    return LANDING_FOLDERS.get(source, source)


def landing_file(landing_dir: Path, source: str, ds: date, name: str) -> Path:
    return landing_dir / landing_folder(source) / ds.isoformat() / name


def _ndjson(records: Iterable[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)


def write_ndjson(path: Path, records: Sequence[dict]) -> int:
    write_atomic(path, _ndjson(records))
    return len(records)


def read_ndjson(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def merge_ndjson(path: Path, records: Sequence[dict], key: str) -> int:
    """Write `records` over the day's file, keeping rows of earlier pulls whose `key` this pull did not return."""
    fresh = {r[key] for r in records}
    kept = [r for r in read_ndjson(path) if r.get(key) not in fresh]
    return write_ndjson(path, kept + list(records))


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict]) -> int:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row[c] for c in columns})
    write_atomic(path, buffer.getvalue())
    return len(rows)


@dataclass
class AccountOutcome:
    """How one account's pull went, and whether it was read with the creator's token or publicly:
    - `ok`; `partial`: some metrics withheld by the platform or not accessible without the creator's token;
    - `stopped`: a human must act (renew or grant a token, fix the roster): the message says what;
    - `failed`: the platform kept failing (retries spent, an answer we could not read): the next pull may succeed;
    - `skipped`: not attempted (not connected on a platform with no public route, a spent quota)."""

    account_id: str
    access: str  # creator | public | none
    status: str  # ok | partial | stopped | failed | skipped
    message: str = ""


@dataclass
class PullRecord:
    source: str
    landing_date: str
    api_version: str
    fetched_at: str
    endpoints: list[str] = field(default_factory=list)
    files: dict[str, int] = field(default_factory=dict)  # file name -> rows written
    accounts: list[AccountOutcome] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    quota_used: int | None = None
    warnings: list[str] = field(default_factory=list)
    pulls: int = 1  # pulls merged into this day's folder so far
    incomplete: str | None = None  # why the whole source stopped early (a spent quota, the shop's token), else None

    @property
    def stopped(self) -> list[AccountOutcome]:
        """Accounts whose data did not land for a reason someone should look at (not the by-design skips)."""
        return [a for a in self.accounts if a.status in ("stopped", "failed")]


def utc_stamp(moment: datetime) -> str:
    """The timestamp shape the Graph API uses (`2026-11-01T02:00:00+0000`), which every landing file accepts."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


#: How many earlier pulls of a day `_pull.json` keeps below the latest (a stories pull every 4 h, reruns).
KEEP_EARLIER = 20


def write_pull_record(landing_dir: Path, record: PullRecord) -> Path:
    """Write `record` as the day's latest pull; the earlier pulls of the day stay below it, newest first, so a stories
    pull does not hide what the daily pull's accounts said."""
    path = landing_file(landing_dir, record.source, date.fromisoformat(record.landing_date), PULL_RECORD)
    earlier: list[dict] = []
    if path.exists():
        previous = json.loads(path.read_text())
        record.pulls = previous.get("pulls", 0) + 1
        earlier = [{k: v for k, v in previous.items() if k != "earlier"}, *previous.get("earlier", [])]
    payload = {**asdict(record), "earlier": earlier[:KEEP_EARLIER]}
    return write_atomic(path, json.dumps(payload, indent=1, ensure_ascii=False) + "\n")


def read_pull_record(landing_dir: Path, source: str, ds: date) -> dict | None:
    path = landing_file(landing_dir, source, ds, PULL_RECORD)
    return json.loads(path.read_text()) if path.exists() else None
