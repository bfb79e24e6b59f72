"""Exact first-order Markov attribution (removal effects): path aggregates in, one row per channel out.

The chain has the states (start), one per channel, (conversion) and (null). Each path, its consecutive repeats
collapsed, contributes its transitions start→c1→…→ck with weight conversions + nulls, then ck→(conversion) with
weight conversions and ck→(null) with weight nulls; a state's transition probabilities are its weights normalised.
Removing channel c redirects every transition into c to (null). Everything is solved exactly (sparse LU), not
simulated, so the same input always gives the same numbers.
"""
from __future__ import annotations

import numpy as np
import polars as pl
from scipy import sparse
from scipy.sparse.linalg import splu

from influence_pipeline.transforms.attribution.paths import collapse_repeats

MARKOV_SCHEMA = {"channel": pl.String, "removal_effect": pl.Float64, "markov_conversions": pl.Float64,
                 "markov_value": pl.Float64}
_BLOCK = 512  # columns of (I − Q)⁻¹ solved at once


def build_transition_counts(collapsed: pl.DataFrame) -> tuple[list[str], sparse.csr_array]:
    """Path aggregates with repeats already collapsed → (channels sorted, transition weight matrix). States are
    numbered 0 = (start), 1…k = the channels in that order, k+1 = (conversion), k+2 = (null)."""
    collapsed = collapsed.with_row_index("path_id")
    channels = sorted(collapsed["path"].explode().unique().drop_nulls().to_list())
    size = len(channels) + 3
    if collapsed.is_empty():
        return channels, sparse.csr_array((size, size))
    codes = pl.DataFrame({"channel": channels, "state": np.arange(1, len(channels) + 1, dtype=np.int64)})
    # explode keeps each path's touches contiguous and in order, so neighbours in the arrays are transitions
    touches = (collapsed.select("path_id", channel=pl.col("path")).explode("channel")
               .join(codes, on="channel", how="left", maintain_order="left"))
    path_id = touches["path_id"].to_numpy()
    state = touches["state"].to_numpy()
    conversions = collapsed["conversions"].to_numpy()
    nulls = collapsed["nulls"].to_numpy()
    weight = conversions + nulls

    # path_id is ascending and no path is empty, so the per-path arrays line up with each path's first/last touch
    is_last = np.r_[path_id[1:] != path_id[:-1], True]
    is_first = np.r_[True, is_last[:-1]]
    moves = ~is_last[:-1]  # touch i → touch i+1 of the same path
    last_state = state[is_last]
    conversion, null = len(channels) + 1, len(channels) + 2
    rows = np.concatenate([np.zeros(len(weight), dtype=np.int64), state[:-1][moves], last_state, last_state])
    cols = np.concatenate([state[is_first], state[1:][moves], np.full(len(weight), conversion),
                           np.full(len(weight), null)])
    weights = np.concatenate([weight, weight[path_id[:-1][moves]], conversions, nulls])
    # coo → csr sums the duplicate (row, col) pairs: one entry per transition, its total weight
    counts = sparse.coo_array((weights, (rows, cols)), shape=(size, size)).tocsr()
    return channels, counts


def markov_removal_effects(paths: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Path aggregates → one row per channel (sorted): `removal_effect` = 1 − P(conversion without the channel) /
    P(conversion), and the total conversions and value split among channels in proportion to it
    (`markov_conversions`, `markov_value`). No conversions at all → zeros; a channel on zero-weight paths only → 0."""
    collapsed = collapse_repeats(paths)
    channels, counts = build_transition_counts(collapsed)
    total_conversions = float(collapsed["conversions"].sum())
    total_value = float(collapsed["value"].sum())
    effects = _removal_effects(counts, len(channels))
    share = effects / effects.sum() if effects.sum() > 0 else np.zeros_like(effects)
    return pl.DataFrame({"channel": channels, "removal_effect": effects,
                         "markov_conversions": total_conversions * share, "markov_value": total_value * share},
                        schema=MARKOV_SCHEMA)


def _removal_effects(counts: sparse.csr_array, n_channels: int) -> np.ndarray:
    """Transition weights (states as in build_transition_counts) → the removal effect of each channel."""
    transient = n_channels + 1  # (start) and the channels
    out_weight = np.asarray(counts.sum(axis=1)).ravel()[:transient]
    # A state no path leaves (zero weight) keeps a zero row: it is absorbing-by-default and never reached.
    scale = sparse.diags_array(np.divide(1.0, out_weight, out=np.zeros(transient), where=out_weight > 0))
    probabilities = scale @ counts[:transient]
    q = probabilities[:, :transient].tocsc()
    r = probabilities[:, n_channels + 1:n_channels + 2].toarray().ravel()
    if n_channels == 0 or not r.any():
        return np.zeros(n_channels)
    # I − Q is invertible: every state with outgoing weight lies on a path of positive weight that is absorbed.
    lu = splu((sparse.diags_array(np.ones(transient)) - q).tocsc())
    absorbed = lu.solve(r)  # P(conversion | in state s)
    # N = (I − Q)⁻¹ counts expected visits. The chance of ever reaching c from (start) is N[0, c] / N[c, c]; with
    # c removed exactly the journeys that reach it are lost, so P − P_without_c = P(reach c) · P(conversion | c)
    # (strong Markov property). One factorisation serves every channel, and the effect needs no subtraction of
    # near-equal numbers. Column c of N is one solve; blocks of columns bound the memory for many channels.
    reach = np.empty(n_channels)
    for first in range(1, transient, _BLOCK):
        block = np.arange(first, min(first + _BLOCK, transient))
        unit = np.zeros((transient, len(block)))
        unit[block, np.arange(len(block))] = 1.0
        visits = lu.solve(unit)
        reach[block - 1] = visits[0] / visits[block, np.arange(len(block))]
    return np.clip(reach * absorbed[1:] / absorbed[0], 0.0, 1.0)
