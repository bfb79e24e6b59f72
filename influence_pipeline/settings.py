"""Runtime settings, read from the environment once, at start.

Everything that differs between a laptop and production comes from here: where the data lives, which warehouse to
load, the PII key and the business-rules file. Nothing reads the environment at import time; `load_settings()` is
called by the CLI and the flows at start so a missing secret fails before any work is done.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_KEY_FILE = ".pii_key"


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

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"

    @property
    def resolved_warehouse_url(self) -> str:
        return self.warehouse_url or f"duckdb:///{(self.data_dir / 'warehouse.duckdb').resolve()}"

    @property
    def is_embedded_warehouse(self) -> bool:
        return self.resolved_warehouse_url.startswith("duckdb:")

    def pii_key_bytes(self) -> bytes:
        """The HMAC key for PII. Production (any non-embedded warehouse) must set INFLUENCE_PII_KEY; the embedded
        default may fall back to the dev key file that `influence dev-key` (or the demo) creates, so local reruns hash
        alike."""
        if self.pii_key is not None and self.pii_key.get_secret_value():
            return self.pii_key.get_secret_value().encode()
        dev_file = self.data_dir / DEV_KEY_FILE
        if self.is_embedded_warehouse and dev_file.exists():
            return dev_file.read_text().strip().encode()
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


def load_settings() -> Settings:
    """Read and check settings (and the rules file they name); fails loudly on a missing secret or a bad rules file,
    so no run starts half-configured."""
    from influence_pipeline.rules_file import load_rules

    settings = Settings()
    settings.pii_key_bytes()
    settings.zone()
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
