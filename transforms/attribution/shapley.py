"""Exact Shapley-value attribution over channels (Zhao et al. 2018, "Shapley Value Methods for Attribution
Modeling in Online Advertising", the simplified form): path aggregates in, one row per channel out."""
from __future__ import annotations

import polars as pl

from influence_pipeline.transforms.attribution.paths import aggregate_paths, as_path_frame
from influence_pipeline.transforms.numeric import stable_sum

OTHER = "other"
SHAPLEY_SCHEMA = {"channel": pl.String, "shapley_conversions": pl.Float64, "shapley_value": pl.Float64,
                  "merged_channels": pl.String}


def channel_sets(paths: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Path aggregates → one row per distinct channel SET (`path` holds its channels sorted), conversions, value and
    nulls summed: the order and the repetition of touches are dropped."""
    # list.eval rather than list.sort: on a profile-L month's 177 k touch paths, Polars 2.1's list.sort of strings took
    # 3.2 s against 0.07 s (same result)
    return aggregate_paths(as_path_frame(paths).with_columns(pl.col("path").list.eval(pl.element().unique().sort())))


def shapley_values(paths: pl.DataFrame | pl.LazyFrame, max_channels: int = 30) -> pl.DataFrame:
    """Path aggregates → one row per channel (sorted): `shapley_conversions` and `shapley_value`, the exact Shapley
    values of the games v(S) = conversions (resp. value) of the paths whose channel set is a subset of S.

    Computed by the closed form φ_i = Σ_{T ∋ i} w(T) / |T|, w(T) = the conversions of paths whose set is exactly T:
    v = Σ_T w(T)·u_T is a weighted sum of unanimity games, the Shapley value of u_T gives 1/|T| to each member of T
    (symmetry, efficiency, null player), and the Shapley value is linear. So the channel values add up to the total
    conversions (and value) exactly, and a path's order never matters.

    Channel cap: with more than `max_channels` distinct channels, only the (max_channels − 1) channels with the most
    conversions on paths that contain them (ties by name) are kept; all others are merged into one channel named
    `other` (a channel really named "other" joins it) before computing, and that row's `merged_channels` lists them
    ("D, E, F"; null on every other row). A path touching several merged channels counts `other` once."""
    if max_channels < 1:
        raise ValueError(f"max_channels must be at least 1, got {max_channels}")
    sets = channel_sets(paths)
    members = sets.select(channel=pl.col("path"), conversions=pl.col("conversions")).explode("channel")
    merged: list[str] = []
    if members["channel"].n_unique() > max_channels:
        ranked = (members.filter(pl.col("channel") != OTHER).group_by("channel").agg(pl.col("conversions").sum())
                  .sort(["conversions", "channel"], descending=[True, False]))
        kept = ranked["channel"].head(max_channels - 1).to_list()
        merged = sorted(set(members["channel"].to_list()) - set(kept))
        element = pl.element()
        sets = channel_sets(sets.with_columns(pl.col("path").list.eval(
            pl.when(element.is_in(kept)).then(element).otherwise(pl.lit(OTHER)))))
    size = pl.col("path").list.len()
    return (sets.with_columns(size=size).explode("path").rename({"path": "channel"})
            .group_by("channel")
            # stable_sum: a float sum in arrival order differed in its last bits between Polars' engines
            .agg(shapley_conversions=stable_sum(pl.col("conversions") / pl.col("size")),
                 shapley_value=stable_sum(pl.col("value") / pl.col("size")))
            .with_columns(merged_channels=pl.when(pl.col("channel") == OTHER)
                          .then(pl.lit(", ".join(merged) if merged else None, dtype=pl.String)))
            .select(*SHAPLEY_SCHEMA).cast(SHAPLEY_SCHEMA).sort("channel"))
