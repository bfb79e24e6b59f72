"""Business rules: the packaged defaults in rules.yaml, merged with the user's override file if one is given."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

DEFAULTS_FILE = Path(__file__).with_name("rules.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Engagement(_Strict):
    target_min: float
    target_max: float
    window_days: int
    last_n_posts: int
    shrink_prior_posts: float
    anomaly_z: float
    anomaly_min_change: float
    anomaly_min_history_days: int
    er_collapse_ratio: float
    metrics_tracked_days: int


class PositionBased(_Strict):
    first: float
    middle: float
    last: float


class Attribution(_Strict):
    lookback_days: int
    session_timeout_minutes: int
    precedence: Literal["code_first", "links_only", "code_only"]
    path_transform: Literal["collapse", "none", "unique"]
    direct_never_last_touch: bool
    position_based: PositionBased
    time_decay_half_life_days: float
    restate_days: int
    shapley_max_channels: int
    own_hosts: str
    influencer_mediums: list[str]
    paid_search_mediums: list[str]
    email_mediums: list[str]
    social_mediums: list[str]
    search_hosts: str
    social_hosts: str


class Calendar(_Strict):
    first_year: int
    last_year: int


class LateData(_Strict):
    restate_days: int


class FullSnapshots(_Strict):
    min_ratio: float = Field(ge=0, le=1)  # 0 turns the check off


class Lake(_Strict):
    keep_nights: int


class Rules(_Strict):
    reporting_currency: str
    late_data: LateData
    full_snapshots: FullSnapshots
    lake: Lake
    calendar: Calendar
    currency_rates: dict[str, float]
    tiers: dict[str, int]
    engagement: Engagement
    attribution: Attribution
    emv: dict[str, dict[str, float]]
    niches: dict[str, list[str]]


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_rules(override_file: Path | None = None) -> Rules:
    """Defaults from rules.yaml, overridden key by key by `override_file`; unknown keys are an error, not ignored."""
    data = yaml.safe_load(DEFAULTS_FILE.read_text())
    if override_file is not None:
        data = _merge(data, yaml.safe_load(Path(override_file).read_text()) or {})
    return Rules.model_validate(data)
