"""Path aggregates and the heuristic attribution models: pure Polars, frames in and frames out.

A path aggregate frame has one row per customer journey shape: `path` (list[str], channels in touch order),
`conversions` (f64), `value` (f64, conversion value) and `nulls` (f64, journeys of that shape that did not convert).
Every function here takes a DataFrame or a LazyFrame, leaves it untouched and returns a new DataFrame.
"""
from __future__ import annotations

import polars as pl

from influence_pipeline.transforms.numeric import stable_sum

MEASURES = ("conversions", "value", "nulls")
PATH_SCHEMA = {"path": pl.List(pl.String), "conversions": pl.Float64, "value": pl.Float64, "nulls": pl.Float64}

HEURISTIC_COLUMNS = ("channel", "first_touch_conversions", "first_touch_value", "last_touch_conversions",
                     "last_touch_value", "linear_conversions", "linear_value")


def as_path_frame(paths: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Any frame with the path-aggregate columns → a LazyFrame with exactly those columns and types, empty paths
    dropped (a journey with no touch has no channel to credit)."""
    return (paths.lazy().select(*PATH_SCHEMA).cast(PATH_SCHEMA)
            .filter(pl.col("path").list.len() > 0))


def aggregate_paths(paths: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Path aggregates → one row per distinct path, its conversions, value and nulls summed (first-seen order)."""
    return (as_path_frame(paths).group_by("path", maintain_order=True)
            .agg(*[stable_sum(pl.col(m)).alias(m) for m in MEASURES]).collect())


def collapse_repeats(paths: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Path aggregates → the same with consecutive repeats of a channel collapsed (A>A>B>A → A>B>A), identical
    paths re-aggregated."""
    element = pl.element()
    collapsed = as_path_frame(paths).with_columns(
        pl.col("path").list.eval(element.filter(element.ne_missing(element.shift(1)))))
    return aggregate_paths(collapsed)


def unique_touches(paths: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Path aggregates → the same with only the first touch of each channel kept (A>B>A>C → A>B>C), identical
    paths re-aggregated."""
    unique = as_path_frame(paths).with_columns(pl.col("path").list.unique(maintain_order=True))
    return aggregate_paths(unique)


def build_heuristic_credit(paths: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Path aggregates → one row per channel (sorted) with the first-touch, last-touch and linear credit, each in
    conversions and value.

    First touch gives all of a path's conversions and value to its first channel, last touch to its last; linear
    gives 1/len(path) of them to every touch, a repeated channel once per touch (as ChannelAttribution's
    `heuristic_models` does), so repeats are deliberately not collapsed. A channel seen only on non-converting paths
    gets a row of zeros."""
    length = pl.col("path").list.len()
    touches = (as_path_frame(paths)
               .with_columns(length=length, position=pl.int_ranges(0, length))
               .explode("path", "position")
               .rename({"path": "channel"}))
    first = pl.col("position") == 0
    last = pl.col("position") == pl.col("length") - 1
    share = 1.0 / pl.col("length")
    return (touches.group_by("channel")
            .agg(first_touch_conversions=stable_sum(pl.col("conversions").filter(first)),
                 first_touch_value=stable_sum(pl.col("value").filter(first)),
                 last_touch_conversions=stable_sum(pl.col("conversions").filter(last)),
                 last_touch_value=stable_sum(pl.col("value").filter(last)),
                 linear_conversions=stable_sum(pl.col("conversions") * share),
                 linear_value=stable_sum(pl.col("value") * share))
            .select(HEURISTIC_COLUMNS)
            .sort("channel")
            .collect())
