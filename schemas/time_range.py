"""The plausible range of landing dates and timestamps (rules.yaml's plausible_time), and its bounds as each engine
compares them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from influence_pipeline.schemas.contract import Property


@dataclass(frozen=True)
class PlausibleTime:
    """The range a date or timestamp must lie in (rules.yaml's plausible_time): from `earliest`, to the landing date
    plus the contract's maxDaysAfterLanding, or plus `latest_days_after_landing` for a field whose contract sets none."""
    earliest: date
    latest_days_after_landing: int


def configured_plausible_time() -> PlausibleTime:
    """plausible_time of the rules the settings name (INFLUENCE_RULES_FILE, else the packaged defaults)."""
    from influence_pipeline.rules_file import load_rules
    from influence_pipeline.settings import Settings

    rules = load_rules(Settings().rules_file).plausible_time
    return PlausibleTime(rules.earliest, rules.latest_days_after_landing)


def earliest_limit(prop: Property, earliest: date) -> tuple[Any, Any, str]:
    """The earliest acceptable value — for Polars, for GX and for people (as future_limit)."""
    if prop.logical_type == "date":
        return earliest, datetime.combine(earliest, time()), str(earliest)
    limit = datetime.combine(earliest, time(), tzinfo=timezone.utc)
    return limit, limit, f"{limit:%Y-%m-%d %H:%M} UTC"


def future_limit(prop: Property, landing_date: date, days: int) -> tuple[Any, Any, str]:
    """The latest acceptable value — for Polars, for GX (pandas holds dates as midnight datetimes) and for people."""
    last_day = landing_date + timedelta(days=days)
    if prop.logical_type == "date":
        return last_day, datetime.combine(last_day, time()), str(last_day)
    limit = datetime.combine(last_day + timedelta(days=1), time(), tzinfo=timezone.utc) - timedelta(microseconds=1)
    return limit, limit, f"{limit:%Y-%m-%d %H:%M} UTC"
