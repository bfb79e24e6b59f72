"""Runtime settings, read from the environment once, at start.

Everything that differs between a laptop and production comes from here: where the data lives, which warehouse to
load, the PII key and the business-rules file. Nothing reads the environment at import time; `load_settings()` is
called by the CLI and the flows at start so a missing secret fails before any work is done.
"""
from __future__ import annotations

import math
import os
import secrets
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_KEY_FILE = ".pii_key"
#: A PII key shorter than this, or with less estimated entropy, is refused: the hashes of e-mails and IPs are only as
#: hard to reverse as the key is to guess.
MIN_PII_KEY_BYTES = 32
MIN_PII_KEY_BITS = 128
MAKE_KEY_HINT = 'python -c "import secrets; print(secrets.token_hex(32))"'
#: The umask every entry point applies (apply_output_mode): the lake, warehouse, reports, validation results and BI
#: copy hold business data, so nobody but the owner (and, in group mode, the owner's group: a BI tool) reads them.
OUTPUT_UMASKS = {"private": 0o077, "group": 0o027}


def duckdb_url(path: Path) -> str:
    """`duckdb:///<path>` with the path %-encoded where a URL needs it, so `duckdb_path` (SQLAlchemy's make_url)
    gives it back exactly: a data dir may hold `%41`, `#`, `?`, quotes, spaces or any other legal character."""
    from sqlalchemy.engine import URL

    return URL.create("duckdb", database=str(path)).render_as_string(hide_password=False)


def duckdb_path(url: str) -> Path:
    """The database file a `duckdb:///…` URL names; the inverse of `duckdb_url`."""
    from sqlalchemy.engine import make_url

    return Path(make_url(url).database)


def check_duckdb_path(path: Path) -> None:
    """Refuse, at start, a DuckDB file DuckDB cannot write: DuckDB (2.0) names a database's write-ahead log by
    cutting its real path at the first `?` (`/d?x/w.duckdb` logs to `/d.wal?x/w.duckdb`), so its first commit fails."""
    if "?" in str(path):
        raise SettingsError(
            f"the DuckDB warehouse {path} cannot be written: DuckDB cuts a database path at its first '?' to name "
            "the write-ahead log, so the first commit would fail. Set INFLUENCE_WAREHOUSE_URL to a DuckDB file whose "
            "path holds no '?' (duckdb:////srv/influence/warehouse.duckdb) or to PostgreSQL; the data dir may keep "
            "its name (the lake, reports and landing files work there)."
        )


class SettingsError(RuntimeError):
    """A setting is missing or inconsistent; raised at start, before anything is read or written."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INFLUENCE_", extra="ignore")

    data_dir: Path = Path("data")
    warehouse_url: str | None = None
    pii_key: SecretStr | None = None
    rules_file: Path | None = None
    timezone: str = "UTC"  # the timezone landing days follow: a nightly without `ds` takes yesterday in it
    validation_engine: Literal["polars", "gx"] = "polars"  # who evaluates the rules GX records (same results)
    dask_address: str | None = None  # a Dask scheduler (tcp://host:8786): per-dataset steps run on its workers
    lock_wait_seconds: float = 600  # how long a run waits for another run on the same data dir before giving up
    output_mode: Literal["private", "group"] = "private"  # outputs 0600/0700, or 0640/0750 for a BI group
    landing_hard_links: bool = False  # read landing files that have other names (sources/safe_open.py says why not)
    # Retention: days after which landing files, raw partitions and quarantine partitions are purged (unset: kept
    # forever). Read as text so that a bad value gets a message naming the variable (retention_days).
    retention_landing_days: str | None = None
    retention_raw_days: str | None = None
    retention_quarantine_days: str | None = None

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"

    @property
    def resolved_warehouse_url(self) -> str:
        url = self.warehouse_url or duckdb_url((self.data_dir / "warehouse.duckdb").resolve())
        if url.startswith("duckdb:"):
            check_duckdb_path(duckdb_path(url))
        return url

    @property
    def embedded_warehouse_path(self) -> Path:
        """The embedded warehouse's file (a DuckDB URL's path, %-decoded as SQLAlchemy parses it)."""
        return duckdb_path(self.resolved_warehouse_url)

    @property
    def is_embedded_warehouse(self) -> bool:
        return self.resolved_warehouse_url.startswith("duckdb:")

    def pii_key_bytes(self) -> bytes:
        """The HMAC key for PII. Production (any non-embedded warehouse) must set INFLUENCE_PII_KEY; the embedded
        default may fall back to the dev key file that `influence dev-key` (or the demo) creates, so local reruns hash
        alike."""
        if self.pii_key is not None and self.pii_key.get_secret_value():
            return checked_pii_key(self.pii_key.get_secret_value().encode(), "INFLUENCE_PII_KEY")
        dev_file = self.data_dir / DEV_KEY_FILE
        if self.is_embedded_warehouse and dev_file.exists():
            return checked_pii_key(dev_file.read_text().strip().encode(), f"the dev key in {dev_file}")
        if self.is_embedded_warehouse:
            # Only the two ways to get a key: pointing at a command that also writes sample data (the demo) would
            # put fake records into what may be a real data dir.
            raise SettingsError(
                f"INFLUENCE_PII_KEY is not set and no dev key exists at {dev_file}. Either set INFLUENCE_PII_KEY "
                "(in production from your secret store, the same key every night, or hashes stop joining), or, for "
                "local development only, create a random dev key there with `influence dev-key`."
            )
        raise SettingsError(
            "INFLUENCE_PII_KEY must be set when INFLUENCE_WAREHOUSE_URL points at a production warehouse "
            f"({self.safe_warehouse_url()}): PII is hashed with it before anything is stored."
        )

    def retention_days(self) -> dict[str, int | None]:
        """{"landing", "raw", "quarantine"} → days kept (None: forever), from INFLUENCE_RETENTION_<KIND>_DAYS; a value
        that is no whole number of at least 1 raises SettingsError naming the variable."""
        days: dict[str, int | None] = {}
        for kind in ("landing", "raw", "quarantine"):
            value = (getattr(self, f"retention_{kind}_days") or "").strip()
            if value and not (value.isascii() and value.isdigit() and int(value) >= 1):
                raise SettingsError(
                    f"INFLUENCE_RETENTION_{kind.upper()}_DAYS={value!r} is not a whole number of days of at least 1; "
                    "leave it unset to keep them forever")
            days[kind] = int(value) if value else None
        return days

    def zone(self):
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"INFLUENCE_TIMEZONE={self.timezone!r} is not an IANA timezone (e.g. Europe/Berlin)") from None

    def safe_warehouse_url(self) -> str:
        """The warehouse URL with any password masked, for logs and messages."""
        from sqlalchemy.engine import make_url

        return make_url(self.resolved_warehouse_url).render_as_string(hide_password=True)


def _repeats_a_unit(key: bytes) -> bool:
    return any(len(key) % n == 0 and key == key[:n] * (len(key) // n) for n in range(1, len(key) // 2 + 1))


def checked_pii_key(key: bytes, source: str) -> bytes:
    """`key` if it has at least MIN_PII_KEY_BYTES bytes, MIN_PII_KEY_BITS of entropy as estimated from its byte
    frequencies and is no short unit repeated (so "a" * 64 or "password" * 4 fail); else SettingsError naming
    `source` and how to make one. The estimate cannot tell a random key from a well-mixed made-up one."""
    counts = Counter(key)
    bits = sum(n * math.log2(len(key) / n) for n in counts.values())
    problem = (f"it has {len(key)} bytes, fewer than {MIN_PII_KEY_BYTES}" if len(key) < MIN_PII_KEY_BYTES else
               f"it looks guessable ({len(counts)} distinct characters, about {bits:.0f} bits of entropy, fewer "
               f"than {MIN_PII_KEY_BITS})" if bits < MIN_PII_KEY_BITS else
               "it is a short sequence repeated" if _repeats_a_unit(key) else None)
    if problem:
        raise SettingsError(
            f"{source} is too weak for the PII key: {problem}. Hashed e-mails and IPs are only as safe as the key is "
            f"hard to guess. Make one with `{MAKE_KEY_HINT}` and keep it in your secret store (the same key every "
            "night: hashes made with another key do not join)."
        )
    return key


def apply_output_mode(settings: Settings) -> None:
    """Set the process umask from INFLUENCE_OUTPUT_MODE, so every file and folder a run creates from here on (lake,
    warehouse, reports, validation results, BI copy) is 0600/0700 ("private") or 0640/0750 ("group")."""
    os.umask(OUTPUT_UMASKS[settings.output_mode])


def load_settings() -> Settings:
    """Read and check settings (and the rules file they name); fails loudly on a missing secret, a weak PII key or a
    bad rules file, so no run starts half-configured. Applies the output mode: every entry point calls this first."""
    from influence_pipeline.rules_file import load_rules

    settings = Settings()
    apply_output_mode(settings)
    settings.pii_key_bytes()
    settings.zone()
    settings.retention_days()
    load_rules(settings.rules_file)
    return settings


def ensure_dev_pii_key(data_dir: Path) -> tuple[Path, bool]:
    """Create a random dev PII key under the data dir unless one exists; returns (path, created)."""
    path = data_dir / DEV_KEY_FILE
    if path.exists():
        return path, False
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(secrets.token_hex(32) + "\n")
    os.chmod(path, 0o600)
    return path, True
