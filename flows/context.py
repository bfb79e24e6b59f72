"""What every step of a run needs to know, resolved once at the start of the run from the settings."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from influence_pipeline.rules_file import load_rules
from influence_pipeline.settings import Settings
from influence_pipeline.transforms.business_rules import Rules


@dataclass(frozen=True)
class RunContext:
    run_id: str
    landing_dir: Path
    lake_dir: Path
    validation_dir: Path
    reports_dir: Path
    warehouse_url: str
    pii_key: bytes
    rules: Rules
    validation_engine: str = "polars"
    tables_dir: Path | None = None  # the lake snapshot a night builds (staging, quarantine, marts); raw is lake_dir's

    def __repr__(self) -> str:  # keep the key out of logs and Prefect's parameter views
        return f"RunContext(run_id={self.run_id!r}, lake_dir={str(self.lake_dir)!r})"

    @classmethod
    def from_settings(cls, settings: Settings, run_id: str) -> "RunContext":
        return cls(run_id, settings.landing_dir.resolve(), settings.lake_dir.resolve(),
                   (settings.data_dir / "validation").resolve(), (settings.data_dir / "reports").resolve(),
                   settings.resolved_warehouse_url,
                   settings.pii_key_bytes(), load_rules(settings.rules_file), settings.validation_engine)
