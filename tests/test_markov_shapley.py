"""Exact Markov removal effects and Shapley values, against hand-worked examples and independent brute force."""
from itertools import permutations
from math import factorial

import numpy as np
import polars as pl
import pytest

from influence_pipeline.transforms.attribution.markov import (
    _coupling_states,
    _removal_effects,
    build_transition_counts,
    markov_removal_effects,
)
from influence_pipeline.transforms.attribution.paths import collapse_repeats
from influence_pipeline.transforms.attribution.shapley import shapley_values


def frame(*rows) -> pl.DataFrame:
    """(path "A>B", conversions, value, nulls) tuples → a path-aggregate frame."""
    return pl.DataFrame({"path": [p.split(">") for p, *_ in rows], "conversions": [float(r[1]) for r in rows],
                         "value": [float(r[2]) for r in rows], "nulls": [float(r[3]) for r in rows]})


def by_channel(df: pl.DataFrame) -> dict[str, dict]:
    return {r["channel"]: r for r in df.to_dicts()}


def random_paths(rng: np.random.Generator, n: int, channels: list[str], max_len: int) -> list[tuple]:
    rows = []
    for _ in range(n):
        path = ">".join(channels[i] for i in rng.integers(0, len(channels), rng.integers(1, max_len + 1)))
        rows.append((path, int(rng.integers(0, 4)), float(rng.gamma(2.0, 25.0)), int(rng.integers(0, 6))))
    return rows


# --- Markov -------------------------------------------------------------------------------------------------------

def test_published_example():
    # A>B>A>B>B>A, A>B>B>A>A, A>A, one conversion each, no nulls: collapsed, the chain is start→A, A→B or
    # A→conversion (½ each), B→A. P = 1; without A nothing converts; without B, A→B goes to null, P = ½.
    out = by_channel(markov_removal_effects(frame(("A>B>A>B>B>A", 1, 10, 0), ("A>B>B>A>A", 1, 20, 0),
                                                  ("A>A", 1, 30, 0))))
    assert out["A"]["removal_effect"] == pytest.approx(1.0) and out["B"]["removal_effect"] == pytest.approx(0.5)
    assert out["A"]["markov_conversions"] == pytest.approx(2.0) and out["B"]["markov_conversions"] == pytest.approx(1.0)
    assert out["A"]["markov_value"] == pytest.approx(40.0) and out["B"]["markov_value"] == pytest.approx(20.0)


def dense_conversion_probability(rows: list[tuple], removed: str | None = None) -> float:
    """Independent brute force: the full transition matrix built touch by touch in Python, the removed channel's
    incoming transitions sent to (null), and P(start → conversion) read off a high power of the matrix."""
    states = ["(start)"] + sorted({c for p, *_ in rows for c in p.split(">")}) + ["(conversion)", "(null)"]
    index = {s: i for i, s in enumerate(states)}
    weights = np.zeros((len(states), len(states)))
    for path, conversions, _value, nulls in rows:
        touches = [c for i, c in enumerate(path.split(">")) if i == 0 or c != path.split(">")[i - 1]]
        steps = ["(start)"] + touches
        for a, b in zip(steps, steps[1:]):
            weights[index[a], index[b]] += conversions + nulls
        weights[index[touches[-1]], index["(conversion)"]] += conversions
        weights[index[touches[-1]], index["(null)"]] += nulls
    if removed is not None:
        weights[:, index["(null)"]] += weights[:, index[removed]]
        weights[:, index[removed]] = 0.0
    totals = weights.sum(axis=1, keepdims=True)
    matrix = np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)
    matrix[index["(conversion)"], index["(conversion)"]] = matrix[index["(null)"], index["(null)"]] = 1.0
    for _ in range(80):  # squaring: the matrix to the power 2⁸⁰, absorbed to machine precision
        matrix = matrix @ matrix
    return matrix[0, index["(conversion)"]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_removal_effects_equal_a_dense_brute_force(seed):
    rng = np.random.default_rng(seed)
    rows = random_paths(rng, 200, list("ABCDEFG"), 8)
    out = by_channel(markov_removal_effects(frame(*rows)))
    p = dense_conversion_probability(rows)
    for channel, row in out.items():
        expected = 1.0 - dense_conversion_probability(rows, removed=channel) / p
        assert row["removal_effect"] == pytest.approx(expected, abs=1e-9), channel
    total = sum(r[1] for r in rows)
    assert sum(r["markov_conversions"] for r in out.values()) == pytest.approx(total)


@pytest.mark.parametrize("seed, limit", [(0, 1), (1, 2), (2, 3), (3, 1), (4, 4)])
def test_coupling_states_eliminated_last_give_the_same_exact_effects(seed, limit):
    """Chains whose strongly connected components exceed `limit` route their best-connected states through the dense
    Schur complement (_visits); the effects must not move: equal to the all-sparse path and to brute force."""
    rng = np.random.default_rng(seed)
    rows = random_paths(rng, 300, list("ABCDEFGHIJKL"), 6)
    channels, counts = build_transition_counts(collapse_repeats(frame(*rows)))
    sparse_only = _removal_effects(counts, len(channels))
    coupled = _removal_effects(counts, len(channels), block_limit=limit)
    pattern = (counts[:len(channels) + 1, :len(channels) + 1] != 0).astype(np.int8)
    assert _coupling_states(pattern, limit).sum() >= 1  # the dense path really ran
    assert coupled == pytest.approx(sparse_only, abs=1e-12)
    p = dense_conversion_probability(rows)
    for channel, effect in zip(channels, coupled):
        assert effect == pytest.approx(1.0 - dense_conversion_probability(rows, removed=channel) / p, abs=1e-9)


def test_collapsing_before_is_harmless_and_input_untouched():
    rows = random_paths(np.random.default_rng(5), 100, list("ABCD"), 6)
    paths = frame(*rows)
    before = paths.clone()
    direct = markov_removal_effects(paths.lazy())
    assert direct.equals(markov_removal_effects(collapse_repeats(paths)))
    assert paths.equals(before)


def test_no_conversions_gives_zeros_not_nan():
    out = markov_removal_effects(frame(("A>B", 0, 0, 3), ("B", 0, 0, 1)))
    assert out["channel"].to_list() == ["A", "B"]
    assert out.select(pl.exclude("channel")).to_numpy().tolist() == [[0.0, 0.0, 0.0]] * 2


def test_single_channel_takes_everything():
    out = by_channel(markov_removal_effects(frame(("A", 3, 30, 2), ("A>A", 1, 5, 0))))
    assert out["A"]["removal_effect"] == pytest.approx(1.0)
    assert (out["A"]["markov_conversions"], out["A"]["markov_value"]) == (pytest.approx(4.0), pytest.approx(35.0))


def test_channel_only_on_null_paths_and_on_weightless_paths():
    # X ends only non-converting journeys: X → (null) always, so removing it loses nothing. Z is on a path with no
    # weight at all (0 conversions, 0 nulls): it is listed with effect 0. Y leads into A on a null path: in a
    # first-order chain Y → A can still convert, so Y keeps some credit.
    out = by_channel(markov_removal_effects(frame(("A", 2, 20, 2), ("A>X", 0, 0, 5), ("Z>A", 0, 0, 0),
                                                  ("Y>A", 0, 0, 1))))
    assert out["X"]["removal_effect"] == 0.0 and out["Z"]["removal_effect"] == 0.0
    assert out["Y"]["removal_effect"] > 0.0
    assert sum(r["markov_conversions"] for r in out.values()) == pytest.approx(2.0)


def test_empty_input_gives_an_empty_frame():
    out = markov_removal_effects(frame(("A", 1, 1, 1)).clear())
    assert out.is_empty() and out.columns == ["channel", "removal_effect", "markov_conversions", "markov_value"]


# --- Shapley ------------------------------------------------------------------------------------------------------

def test_shapley_three_channels_by_hand():
    # Paths (as sets) and conversions: {A} 3, {A,B} 6 (A>B and B>A>B together), {A,B,C} 3, {C} 1.
    # v(∅)=0 v(A)=3 v(B)=0 v(C)=1 v(AB)=9 v(AC)=4 v(BC)=1 v(ABC)=13.
    # Averaging A's marginal contributions over the 6 orders: ABC 3, ACB 3, BAC 9, BCA 12, CAB 3, CBA 12 → 42/6 = 7,
    # which the closed form gives directly: A = 3 + 6/2 + 3/3 = 7, B = 6/2 + 3/3 = 4, C = 3/3 + 1 = 2 (sum 13).
    out = by_channel(shapley_values(frame(("A", 3, 30, 0), ("A>B", 4, 40, 1), ("B>A>B", 2, 20, 0),
                                          ("C>B>A", 3, 30, 2), ("C", 1, 10, 0))))
    assert {c: r["shapley_conversions"] for c, r in out.items()} == {"A": pytest.approx(7.0),
                                                                     "B": pytest.approx(4.0),
                                                                     "C": pytest.approx(2.0)}
    assert out["A"]["shapley_value"] == pytest.approx(70.0)
    assert all(r["merged_channels"] is None for r in out.values())


def brute_force_shapley(rows: list[tuple], measure: int) -> dict[str, float]:
    """Marginal contributions averaged over every order of the channels, v(S) computed from the raw rows."""
    sets = [(frozenset(r[0].split(">")), r[measure]) for r in rows]
    channels = sorted({c for s, _ in sets for c in s})

    def v(coalition: frozenset) -> float:
        return sum(amount for s, amount in sets if s <= coalition)

    totals = dict.fromkeys(channels, 0.0)
    for order in permutations(channels):
        coalition: frozenset = frozenset()
        for channel in order:
            totals[channel] += v(coalition | {channel}) - v(coalition)
            coalition = coalition | {channel}
    return {c: t / factorial(len(channels)) for c, t in totals.items()}


def test_shapley_equals_brute_force_over_all_orders():
    rows = random_paths(np.random.default_rng(3), 60, list("ABCDE"), 5)
    out = by_channel(shapley_values(frame(*rows)))
    for column, measure in (("shapley_conversions", 1), ("shapley_value", 2)):
        expected = brute_force_shapley(rows, measure)
        assert {c: r[column] for c, r in out.items()} == pytest.approx(expected, abs=1e-9)


def test_shapley_is_efficient_and_order_blind():
    rows = random_paths(np.random.default_rng(4), 500, [f"c{i}" for i in range(12)], 9)
    out = shapley_values(frame(*rows))
    assert out["shapley_conversions"].sum() == pytest.approx(sum(r[1] for r in rows), abs=1e-9)
    assert out["shapley_value"].sum() == pytest.approx(sum(r[2] for r in rows), abs=1e-9)
    reversed_rows = [(">".join(reversed(p.split(">"))), *rest) for p, *rest in rows]
    backwards = shapley_values(frame(*reversed_rows))
    assert backwards["channel"].equals(out["channel"])
    assert backwards["shapley_conversions"].to_list() == pytest.approx(out["shapley_conversions"].to_list(), abs=1e-9)


def test_shapley_merges_the_smallest_channels_into_other():
    # Conversions on paths containing each channel: A 7, B 3, C 7, D 9, E 5. Cap 3 keeps D and A (A before C by
    # name) and merges B, C, E: {A,B}→{A,other} 3, {C}→{other} 3, {A,C,D}→{A,D,other} 4, {D,E}→{D,other} 5.
    paths = frame(("A>B>A", 1, 1, 0), ("B>A", 2, 2, 0), ("C", 3, 3, 0), ("A>C>D", 4, 4, 0), ("D>E", 5, 5, 0))
    out = by_channel(shapley_values(paths, max_channels=3))
    assert set(out) == {"A", "D", "other"}
    assert out["other"]["merged_channels"] == "B, C, E" and out["A"]["merged_channels"] is None
    assert out["A"]["shapley_conversions"] == pytest.approx(3 / 2 + 4 / 3)
    assert out["other"]["shapley_conversions"] == pytest.approx(3 / 2 + 3 + 4 / 3 + 5 / 2)
    assert sum(r["shapley_conversions"] for r in out.values()) == pytest.approx(15.0)
    assert set(by_channel(shapley_values(paths, max_channels=5))) == set("ABCDE")


def test_shapley_rejects_a_cap_below_one():
    with pytest.raises(ValueError, match="max_channels"):
        shapley_values(frame(("A", 1, 1, 0)), max_channels=0)


def test_an_influencer_level_chain_equals_the_dense_inverse():
    """A chain shaped like influencer journeys (hubs, long-tailed creators, one giant strongly connected component)
    takes the coupling path; every effect equals the dense (I − Q)⁻¹ reading N[0, c] / N[c, c] · h(c) / h(start)."""
    from benchmarks.markov_paths import influencer_paths

    paths = collapse_repeats(influencer_paths(400, 3000, seed=4))
    channels, counts = build_transition_counts(paths)
    transient = len(channels) + 1
    pattern = (counts[:transient, :transient] != 0).astype(np.int8)
    assert _coupling_states(pattern, 64).sum() > 0
    weights = counts.toarray()
    probabilities = weights / np.where(weights.sum(axis=1, keepdims=True) > 0, weights.sum(axis=1, keepdims=True), 1)
    n = np.linalg.inv(np.eye(transient) - probabilities[:transient, :transient])
    h = n @ probabilities[:transient, transient]
    expected = np.clip(n[0, 1:] / np.diag(n)[1:] * h[1:] / h[0], 0.0, 1.0)
    got = markov_removal_effects(paths)["removal_effect"].to_numpy()
    assert np.abs(got - expected).max() < 1e-12
