"""dim_date: the calendar BI tools join every date column to (weeks start on Monday, ISO 8601)."""
from __future__ import annotations

from datetime import date

import polars as pl


def build_dim_date(first: date, last: date) -> pl.DataFrame:
    """A date range → one row per day with the parts analysts group by."""
    day = pl.col("date_day")
    return pl.DataFrame({"date_day": pl.date_range(first, last, "1d", eager=True)}).with_columns(
        year=day.dt.year().cast(pl.Int64), quarter=day.dt.quarter().cast(pl.Int64),
        month=day.dt.month().cast(pl.Int64), month_name=day.dt.strftime("%B"),
        month_start_date=day.dt.month_start(), week_start_date=day.dt.truncate("1w"),
        iso_year=day.dt.iso_year().cast(pl.Int64), iso_week=day.dt.week().cast(pl.Int64),
        day_of_month=day.dt.day().cast(pl.Int64), day_of_week=day.dt.weekday().cast(pl.Int64),
        day_name=day.dt.strftime("%A"), is_weekend=day.dt.weekday() >= 6)
