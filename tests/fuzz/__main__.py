"""`python -m tests.fuzz --cases 2000 --seed 1 --json out.json`: run a fuzz campaign, print its counts per source
and mutation, write the whole result (crashes included) as JSON; exit 1 when any case crashed. `--merge a.json
b.json --json all.json` adds up the results of campaigns of other seeds."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from tests.fuzz.campaign import merge_results, run_campaign

COLUMNS = ("tried", "rows_quarantined", "files_refused", "crashed")


def _table(title: str, rows: dict[str, dict]) -> str:
    lines = [f"{title:<32}" + "".join(f"{c:>18}" for c in COLUMNS)]
    lines += [f"{name:<32}" + "".join(f"{counts[c]:>18}" for c in COLUMNS) for name, counts in rows.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the result here")
    parser.add_argument("--only-case", type=int, action="append", help="run only this case index (repeatable)")
    parser.add_argument("--progress", type=int, default=100, help="print a line every N cases (0: never)")
    parser.add_argument("--merge", type=Path, nargs="+", help="add up these results of earlier runs instead")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # the product's per-file warnings would drown the table

    done = {"n": 0, "crashed": 0}

    def progress(case, outcome) -> None:
        done["n"] += 1
        done["crashed"] += outcome.status == "crashed"
        if outcome.status == "crashed":
            print(f"CRASH case {case.index} {case.dataset} {case.mutation} {case.container}/{case.reader}: "
                  f"{outcome.message.strip().splitlines()[-1][:200] if outcome.message.strip() else ''}",
                  file=sys.stderr, flush=True)
        if args.progress and done["n"] % args.progress == 0:
            print(f"{done['n']} cases, {done['crashed']} crashed", file=sys.stderr, flush=True)

    if args.merge:
        result = merge_results([json.loads(path.read_text()) for path in args.merge])
    else:
        result = run_campaign(args.cases, args.seed, args.only_case, progress)
    print(_table("source", result["by_source"]))
    print()
    print(_table("mutation", result["by_mutation"]))
    print()
    print(_table("container/reader", result["by_container"]))
    print()
    print(_table("total", {"all": result["totals"]}), f"\n{result['seconds']} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 1 if result["totals"]["crashed"] else 0


if __name__ == "__main__":
    sys.exit(main())
