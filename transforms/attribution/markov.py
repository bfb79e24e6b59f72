"""Exact first-order Markov attribution (removal effects): path aggregates in, one row per channel out.

The chain has the states (start), one per channel, (conversion) and (null). Each path, its consecutive repeats
collapsed, contributes its transitions start→c1→…→ck with weight conversions + nulls, then ck→(conversion) with
weight conversions and ck→(null) with weight nulls; a state's transition probabilities are its weights normalised.
Removing channel c redirects every transition into c to (null). Everything is solved exactly (sparse solves and a
dense Schur complement, see _visits), not simulated, so the same input always gives the same numbers; 20 000
channels take seconds (benchmarks/markov_paths.py, docs/performance.md).
"""
from __future__ import annotations

import numpy as np
import polars as pl
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from influence_pipeline.transforms.attribution.paths import collapse_repeats

MARKOV_SCHEMA = {"channel": pl.String, "removal_effect": pl.Float64, "markov_conversions": pl.Float64,
                 "markov_value": pl.Float64}
_BLOCK_LIMIT = 64  # largest strongly connected component left to the sparse part (see _visits)


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


def _removal_effects(counts: sparse.csr_array, n_channels: int, block_limit: int = _BLOCK_LIMIT) -> np.ndarray:
    """Transition weights (states as in build_transition_counts) → the removal effect of each channel."""
    transient = n_channels + 1  # (start) and the channels
    out_weight = np.asarray(counts.sum(axis=1)).ravel()[:transient]
    # A state no path leaves (zero weight) keeps a zero row: it is absorbing-by-default and never reached.
    scale = sparse.diags_array(np.divide(1.0, out_weight, out=np.zeros(transient), where=out_weight > 0))
    probabilities = scale @ counts[:transient]
    q = probabilities[:, :transient].tocsr()
    r = probabilities[:, n_channels + 1:n_channels + 2].toarray().ravel()
    if n_channels == 0 or not r.any():
        return np.zeros(n_channels)
    # I − Q is invertible: every state with outgoing weight lies on a path of positive weight that is absorbed.
    # N = (I − Q)⁻¹ counts expected visits. The chance of ever reaching c from (start) is N[0, c] / N[c, c]; with
    # c removed exactly the journeys that reach it are lost, so P − P_without_c = P(reach c) · P(conversion | c)
    # (strong Markov property). So the whole model needs row 0 of N, its diagonal and the absorption vector.
    visits_from_start, diagonal, absorbed = _visits(q, r, block_limit)
    reach = visits_from_start[1:] / diagonal[1:]
    return np.clip(reach * absorbed[1:] / absorbed[0], 0.0, 1.0)


def _coupling_states(pattern: sparse.csr_array, limit: int) -> np.ndarray:
    """States to treat densely so that the rest of the chain falls apart into strongly connected components of at
    most `limit` states: repeatedly, the best-connected tenth of every larger component. On influencer-level chains
    these are the hub channels and the most popular creators (about 1 600 of 20 000 channels)."""
    coupling = np.zeros(pattern.shape[0], dtype=bool)
    while True:
        rest = np.flatnonzero(~coupling)
        sub = pattern[rest][:, rest]
        _, labels = connected_components(sub, directed=True, connection="strong")
        sizes = np.bincount(labels)
        large = np.flatnonzero(sizes > limit)
        if not large.size:
            return coupling
        degree = np.asarray((sub + sub.T).sum(axis=1)).ravel()
        for label in large:
            members = np.flatnonzero(labels == label)
            take = members[np.argsort(-degree[members], kind="stable")[:max(1, len(members) // 10)]]
            coupling[rest[take]] = True


def _solve_chain(q: sparse.csr_array, rhs: sparse.csr_array) -> sparse.csr_array:
    """X = (I − q)⁻¹ rhs, i.e. X = rhs + q X, for a substochastic q whose strongly connected components are small.

    Each state's level is the longest path from it to a state that leads nowhere (over the components), so a state
    depends only on states of lower levels and on its own component: the levels are solved in order, each with one
    sparse product, and a component with a cycle with its small dense inverse. Stays sparse when, as here, few
    states reach a given column's states."""
    _, labels = connected_components(q, directed=True, connection="strong")
    edges = q.tocoo()
    source, target = labels[edges.row], labels[edges.col]
    between = source != target
    source, target = source[between], target[between]
    level = np.zeros(labels.max() + 1, dtype=np.int64)
    while True:  # longest-path levels over the condensation, a DAG: at most its depth rounds
        longer = level.copy()
        np.maximum.at(longer, source, level[target] + 1)
        if np.array_equal(longer, level):
            break
        level = longer
    state_level = level[labels]
    order = np.argsort(state_level, kind="stable")
    bounds = np.searchsorted(state_level[order], np.arange(level.max() + 2))
    q_o, rhs_o, labels_o = q[order][:, order].tocsr(), rhs[order].tocsr(), labels[order]
    sizes = np.bincount(labels)
    solved: list[sparse.csr_array] = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        block = rhs_o[lo:hi]
        if lo:
            block = (block + q_o[lo:hi, :lo] @ sparse.vstack(solved, format="csr")).tocsr()
        for label in np.unique(labels_o[lo:hi][sizes[labels_o[lo:hi]] > 1]):
            members = lo + np.flatnonzero(labels_o[lo:hi] == label)
            inverse = np.linalg.inv(np.eye(members.size) - q_o[members][:, members].toarray())
            rows = members - lo
            select = sparse.csr_array((np.ones(rows.size), (rows, np.arange(rows.size))), shape=(hi - lo, rows.size))
            block = (block + select @ sparse.csr_array(inverse @ block[rows].toarray() - block[rows].toarray())).tocsr()
        solved.append(block)
    inverse_order = np.empty_like(order)
    inverse_order[order] = np.arange(order.size)
    return sparse.vstack(solved, format="csr")[inverse_order]


def _block_diagonal_of_inverse(q: sparse.csr_array) -> np.ndarray:
    """diag((I − q)⁻¹) for q whose strongly connected components are small: ordered by its components I − q is block
    triangular, so its inverse's diagonal is that of each diagonal block's inverse (1 for a state on no cycle)."""
    _, labels = connected_components(q, directed=True, connection="strong")
    diagonal = 1.0 / (1.0 - q.diagonal())
    sizes = np.bincount(labels)
    for label in np.flatnonzero(sizes > 1):
        members = np.flatnonzero(labels == label)
        diagonal[members] = np.diag(np.linalg.inv(np.eye(members.size) - q[members][:, members].toarray()))
    return diagonal


def _column(values: np.ndarray) -> sparse.csr_array:
    return sparse.csr_array(values.reshape(-1, 1))


def _visits(q: sparse.csr_array, r: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row 0 and the diagonal of N = (I − Q)⁻¹, and N r, exactly and without one solve per state.

    The coupling states C (_coupling_states) are eliminated last. With E the others, A = I − Q = [[P, B], [Cᵀ, D]],
    X = P⁻¹B and Yᵀ = P⁻ᵀCᵀ (sparse: _solve_chain), the Schur complement S = D − Cᵀ X inverted densely, then
    N_EE = P⁻¹ + X S⁻¹ Y, N_EC = −X S⁻¹, N_CC = S⁻¹; diag(P⁻¹) comes from P's small components."""
    pattern = (q != 0).astype(np.int8)
    coupling = _coupling_states(pattern, limit)
    coupling[0] = False  # (start) has no incoming transition: it is never part of a cycle
    e, c = np.flatnonzero(~coupling), np.flatnonzero(coupling)
    q_e, q_e_t = q[e][:, e].tocsr(), q[e][:, e].T.tocsr()
    x = _solve_chain(q_e, (-q[e][:, c]).tocsr())  # B = −Q[E, C]
    y_t = _solve_chain(q_e_t, (-q[c][:, e]).T.tocsr())  # Cᵀ = −Q[C, E], transposed
    schur = np.eye(c.size) - q[c][:, c].toarray() + (q[c][:, e] @ x).toarray()  # D − Cᵀ X, Cᵀ = −Q[C, E]
    s_inv = np.linalg.inv(schur) if c.size else np.zeros((0, 0))
    x_s = x @ s_inv
    size = q.shape[0]
    diagonal, row0, absorbed = np.empty(size), np.empty(size), np.empty(size)
    diagonal[e] = _block_diagonal_of_inverse(q_e) + np.asarray(y_t.multiply(x_s).sum(axis=1)).ravel()
    diagonal[c] = np.diag(s_inv)
    start = np.zeros(e.size)
    start[0] = 1.0  # (start) is state 0, never a coupling state, so it is E's first
    row0[e] = _solve_chain(q_e_t, _column(start)).toarray().ravel() + y_t @ x_s[0]
    row0[c] = -x_s[0]
    w = _solve_chain(q_e, _column(r[e])).toarray().ravel()
    absorbed[c] = s_inv @ (r[c] + q[c][:, e] @ w)  # S⁻¹ (r_C − Cᵀ w)
    absorbed[e] = w - x @ absorbed[c]
    return row0, diagonal, absorbed
