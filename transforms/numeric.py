"""Float aggregates that give the same bits on every run.

A float sum depends on the order of its terms, and Polars sums a column chunk by chunk: the same values read from a
different number of Parquet files can differ in the last bit, and a rerun or a backfill would then not reproduce a
published table exactly. These sort the values and add them strictly in sequence.
"""
from __future__ import annotations

import polars as pl


def stable_sum(values: pl.Expr) -> pl.Expr:
    """Sum in ascending order of value, one term after the other (0 for no values)."""
    return values.drop_nulls().sort().cum_sum().last().fill_null(0.0)


def stable_mean(values: pl.Expr) -> pl.Expr:
    """Mean of the non-null values, summed as stable_sum; null when there are none."""
    count = values.drop_nulls().len()
    return pl.when(count > 0).then(stable_sum(values) / count)
