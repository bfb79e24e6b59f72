"""Influencer-level Markov attribution at scale: every creator account is a channel.

`python -m benchmarks.markov_paths --channels 20000 --paths 200000` times `markov_removal_effects` on synthetic path
aggregates shaped like influencer journeys: a handful of generic channels (organic, direct, email, paid search, other
social) that most journeys pass through, and creator channels drawn with a long-tailed popularity, so a few creators
appear on many paths and most on few. A journey touches one to three creators, sometimes returning to one after a
generic touch (A > organic > A), which ties creators and hubs into one large strongly connected component: the hard
case for exact removal effects. Prints the time, the peak memory and the chain's shape as JSON.
"""
from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import polars as pl

GENERIC = ("organic_search", "direct", "email", "paid_search", "other_social", "referral")


def influencer_paths(channels: int, paths: int, seed: int = 18) -> pl.DataFrame:
    """`paths` distinct path aggregates over `channels` channels (the generic ones included)."""
    rng = np.random.default_rng(seed)
    creators = np.array([f"creator_{i:05d}" for i in range(channels - len(GENERIC))])
    popularity = 1.0 / np.arange(1, len(creators) + 1) ** 0.8
    popularity /= popularity.sum()
    seen: dict[str, tuple[float, float, float]] = {}
    while len(seen) < paths:
        batch = max(1024, (paths - len(seen)) * 2)
        picks = rng.choice(len(creators), size=(batch, 3), p=popularity)
        n_creators = rng.choice([1, 2, 3], size=batch, p=[0.6, 0.3, 0.1])
        for row in range(batch):
            touches: list[str] = []
            for k in range(n_creators[row]):
                if rng.random() < 0.5:
                    touches.append(GENERIC[rng.integers(len(GENERIC))])
                touches.append(str(creators[picks[row, k]]))
                if rng.random() < 0.15:  # back to the creator after a generic touch
                    touches += [GENERIC[rng.integers(len(GENERIC))], str(creators[picks[row, k]])]
            if rng.random() < 0.4:
                touches.append(GENERIC[rng.integers(len(GENERIC))])
            key = ">".join(touches)
            if key not in seen:
                conversions = float(rng.integers(0, 3))
                seen[key] = (conversions, conversions * float(rng.gamma(2.0, 30.0)), float(rng.integers(0, 20)))
            if len(seen) >= paths:
                break
    keys = list(seen)
    return pl.DataFrame({"path": [k.split(">") for k in keys], "conversions": [seen[k][0] for k in keys],
                         "value": [seen[k][1] for k in keys], "nulls": [seen[k][2] for k in keys]})


def main() -> None:
    from scipy.sparse.csgraph import connected_components

    from influence_pipeline.transforms.attribution.markov import build_transition_counts, markov_removal_effects
    from influence_pipeline.transforms.attribution.paths import collapse_repeats

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=20_000)
    parser.add_argument("--paths", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    frame = influencer_paths(args.channels, args.paths, args.seed)
    names, counts = build_transition_counts(collapse_repeats(frame))
    transient = len(names) + 1
    _, labels = connected_components(counts[:transient, :transient], directed=True, connection="strong")
    started = time.perf_counter()
    effects = markov_removal_effects(frame)
    seconds = time.perf_counter() - started
    print(json.dumps({
        "channels": len(names), "distinct_paths": frame.height, "transitions": int(counts.nnz),
        "largest_strong_component": int(np.bincount(labels).max()), "seconds": round(seconds, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "removal_effect_sum": float(effects["removal_effect"].sum()),
    }))


if __name__ == "__main__":
    main()
