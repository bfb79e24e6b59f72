"""A fuzz campaign: N cases of one seed, their outcomes counted per source (dataset) and mutation, every crash kept
with what reproduces it (`python -m tests.fuzz --seed S --only-case I`)."""
from __future__ import annotations

import platform
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from tests.fuzz.runner import Case, Outcome, make_case, run_case
from tests.fuzz.seeds import build_origin

ORIGINS = ("fixture", "sample")


def _counter() -> dict:
    return {"tried": 0, "handled": 0, "rows_in": 0, "rows_quarantined": 0, "cases_with_quarantine": 0,
            "files_refused": 0, "crashed": 0}


def _count(counts: dict, case: Case, outcome: Outcome) -> None:
    counts["tried"] += 1
    counts["rows_in"] += outcome.rows_in
    counts["rows_quarantined"] += outcome.rows_quarantined
    counts["cases_with_quarantine"] += outcome.rows_quarantined > 0
    counts["handled"] += outcome.status == "handled"
    counts["files_refused"] += outcome.status == "refused"
    counts["crashed"] += outcome.status == "crashed"


def run_campaign(cases: int, seed: int, only: list[int] | None = None,
                 on_case: Callable[[Case, Outcome], None] | None = None) -> dict:
    """Run cases 0..`cases`-1 (or only the indexes in `only`) of `seed`; return the counts, the crashes and the
    slowest cases as a JSON-ready dict."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fuzz-origins-") as work:
        origins = {name: build_origin(name, Path(work), seed) for name in ORIGINS}
        total, by_source, by_mutation, by_container = _counter(), defaultdict(_counter), defaultdict(_counter), \
            defaultdict(_counter)
        by_source_mutation = defaultdict(lambda: defaultdict(_counter))
        crashes, slowest = [], []
        for index in only if only is not None else range(cases):
            case = make_case(index, seed, origins)
            outcome = run_case(case, origins[case.origin])
            for counts in (total, by_source[case.dataset], by_mutation[case.mutation],
                           by_container[f"{case.container}/{case.reader}"],
                           by_source_mutation[case.dataset][case.mutation]):
                _count(counts, case, outcome)
            where = {"case": index, "origin": case.origin, "dataset": case.dataset, "mutation": case.mutation,
                     "container": case.container, "reader": case.reader, "file": case.rel,
                     "bytes": len(case.data)}
            if outcome.status == "crashed":
                crashes.append({**where, "error": outcome.message})
            slowest = sorted([*slowest, {**where, "seconds": round(outcome.seconds, 3)}],
                             key=lambda s: -s["seconds"])[:10]
            if on_case is not None:
                on_case(case, outcome)
    return {
        "seed": seed, "cases": total["tried"], "seconds": round(time.perf_counter() - started, 1),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "totals": total, "by_source": dict(sorted(by_source.items())),
        "by_mutation": dict(sorted(by_mutation.items())), "by_container": dict(sorted(by_container.items())),
        "by_source_and_mutation": {s: dict(sorted(m.items())) for s, m in sorted(by_source_mutation.items())},
        "crashes": crashes, "slowest": slowest,
    }


def merge_results(results: list[dict]) -> dict:
    """Campaigns of several seeds → one result: counts added up, crashes and the slowest cases of all kept."""
    def add(into: dict, counts: dict) -> dict:
        for key, value in counts.items():
            into[key] = add(into.get(key, {}), value) if isinstance(value, dict) else into.get(key, 0) + value
        return into

    merged = {"seeds": [r["seed"] for r in results], "cases": sum(r["cases"] for r in results),
              "seconds": round(sum(r["seconds"] for r in results), 1), "machine": results[0]["machine"]}
    for section in ("totals", "by_source", "by_mutation", "by_container", "by_source_and_mutation"):
        merged[section] = {}
        for result in results:
            add(merged[section], result[section])
    merged["crashes"] = [{"seed": r["seed"], **c} for r in results for c in r["crashes"]]
    merged["slowest"] = sorted(({"seed": r["seed"], **s} for r in results for s in r["slowest"]),
                               key=lambda s: -s["seconds"])[:10]
    return merged
