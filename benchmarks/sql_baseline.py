"""Issue 18 baseline: the nightly engagement and attribution marts as hand-written DuckDB SQL (benchmarks/sql/*.sql),
run over the staging Parquet one night of the pipeline used, timed, and compared row for row with what that night
published.

    python -m benchmarks.sql_baseline --data-dir DIR --date YYYY-MM-DD [--bench-json BENCH] [--json OUT]
    python -m benchmarks.sql_baseline --data-dir DIR --profile S|M|L [--json OUT]   # benchmark, then SQL: one run

DIR is a benchmarks.run --data-dir. The night's lake snapshot (lake/nights/<date>-*) holds the staging partitions the
night read and its published marts; partitions the night did not rewrite are the prior state it read back, so the
SQL reads those exactly where the pipeline did (older posts, stored account days, earlier visits). Date windows come
from transforms/windows.py and thresholds from the rules, so both sides are asked the same question.

Three times are reported per stage: the SQL; the pipeline's own Polars calls for the same outputs, replayed in this
process (benchmarks/polars_subset.py); and the whole Prefect stage from benchmarks.run's JSON (BENCH, or the run
--profile made), which also builds marts the SQL does not.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

from influence_pipeline.rules_file import load_rules
from influence_pipeline.transforms.windows import run_windows

SQL_DIR = Path(__file__).parent / "sql"
BENCH_START = date(2026, 11, 1)  # benchmarks.run generates its sample from this day
FLOAT_TOLERANCE = 1e-9
# output → (SQL file it is built in, published table, its partition column, key columns, columns not reproduced)
OUTPUTS = {
    "fct_post_engagement": ("engagement", "fct_post_engagement", "posted_date", ["post_id"], ["post_niche"]),
    "fct_account_daily": ("engagement", "fct_account_daily", "metric_date", ["account_id", "metric_date"], []),
    "fct_visit": ("attribution", "fct_visit", "visit_date", ["visit_id"], []),
    "fct_attribution": ("attribution", "fct_attribution", "converted_date",
                        ["conversion_id", "model", "credited_to"], []),
}
STAGE_OF_FILE = {"engagement": "engagement", "attribution": "attribution"}  # benchmarks.run stage names


def statements(sql_file: Path) -> list[tuple[str, str]]:
    """A .sql file → its (name, statement) blocks, each introduced by a `-- name:` line."""
    blocks = re.split(r"^-- name: *(\S+) *$", sql_file.read_text(), flags=re.M)
    return [(name, body.strip()) for name, body in zip(blocks[1::2], blocks[2::2])]


def night_dir(data_dir: Path, ds: date) -> Path:
    found = sorted((data_dir / "lake" / "nights").glob(f"{ds}-*"))
    if not found:
        raise SystemExit(f"no night {ds} under {data_dir / 'lake' / 'nights'}")
    return found[-1]


def parameters(night: Path, ds: date) -> tuple[dict, object]:
    """Every $name the SQL files use: paths of the night's Parquet, its windows, and the rules' values."""
    rules = load_rules()
    w = run_windows(ds, rules)
    e, a = rules.engagement, rules.attribution
    day = timedelta(days=1)

    def layer(kind: str, table: str) -> str:
        return str(night / kind / table / "*" / "*.parquet")

    def today(table: str) -> str:
        return str(night / "staging" / table / f"landing_date={ds}" / "*.parquet")

    params = {
        "ds": ds,
        **{t: layer("staging", t) for t in ("stg_post_snapshots", "stg_account_daily", "stg_web_events", "stg_orders",
                                            "stg_order_discount_codes", "stg_signups")},
        **{f"{t}_today": today(t) for t in ("stg_social_accounts", "stg_campaigns", "stg_tracking_links",
                                            "stg_discount_codes")},
        **{f"{t}_published": layer("marts", t) for t in ("fct_post_engagement", "fct_account_daily", "fct_visit")},
        # engagement windows
        "snapshots_first": w.snapshots_first, "account_snapshots_first": w.account_snapshots_first,
        "posted_first": w.posted_first, "posted_last": w.posted_last,
        "older_posts_first": w.older_posts.first, "older_posts_last": w.older_posts.last,
        "growth_first": ds - timedelta(days=e.anomaly_window_days + 1),
        "anomaly_first": ds - timedelta(days=e.anomaly_window_days),
        "window_first": ds - timedelta(days=e.window_days),
        "stored_days_first": w.stored_days.first, "stored_days_last": w.stored_days.last,
        "last_n_posts": e.last_n_posts, "shrink_k": e.shrink_prior_posts, "target_min": e.target_min,
        "target_max": e.target_max, "anomaly_min_history": e.anomaly_min_history_days, "anomaly_z": e.anomaly_z,
        "anomaly_min_change": e.anomaly_min_change, "er_collapse_ratio": e.er_collapse_ratio,
        # attribution windows and rules
        "events_first": w.events_first, "visits_first": w.visits.first, "visits_last": w.visits.last,
        "journey_visits_first": w.journey_visits.first, "journey_visits_last": w.journey_visits.last,
        "conversions_first": w.conversions.first, "conversions_last": w.conversions.last,
        "timeout_minutes": a.session_timeout_minutes, "lookback_days": a.lookback_days,
        "own_hosts": a.own_hosts, "search_hosts": a.search_hosts, "social_hosts": a.social_hosts,
        "influencer_mediums": list(a.influencer_mediums), "paid_search_mediums": list(a.paid_search_mediums),
        "email_mediums": list(a.email_mediums), "social_mediums": list(a.social_mediums),
        "direct_never_last": a.direct_never_last_touch, "pb_first": a.position_based.first,
        "pb_middle": a.position_based.middle, "pb_last": a.position_based.last,
        "half_life_days": a.time_decay_half_life_days,
    }
    assert w.visits.first - day == w.journey_visits.last
    return params, rules


def lookup_tables(con: duckdb.DuckDBPyConnection, rules) -> None:
    """The rules' per-platform EMV units, tiers and currency rates as small tables the SQL joins to (values, not SQL
    text)."""
    units = ["view", "like", "comment", "share", "save", "story_interaction"]
    emv_units = pl.DataFrame([{"platform": p, **{u: float(v.get(u, 0)) for u in units}} for p, v in rules.emv.items()])
    tiers = pl.DataFrame({"tier": list(rules.tiers), "minimum": list(rules.tiers.values())})
    # Rates as integer millionths, as transforms/attribution/conversions.to_reporting rounds them.
    rates = pl.DataFrame({"currency": list(rules.currency_rates),
                          "micro": [round(r * 1_000_000) for r in rules.currency_rates.values()]})
    for name, frame in (("emv_units", emv_units), ("tiers", tiers), ("rates", rates)):
        con.register(f"{name}_frame", frame)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_frame")  # name, not a value
        con.unregister(f"{name}_frame")


def run_file(con: duckdb.DuckDBPyConnection, name: str, params: dict) -> tuple[dict[str, float], float]:
    """Run a .sql file's statements in order → (wall seconds per statement, CPU seconds of the process in all)."""
    seconds, cpu = {}, time.process_time()
    for step, sql in statements(SQL_DIR / f"{name}.sql"):
        used = {k: params[k] for k in set(re.findall(r"\$(\w+)", sql))}
        started = time.perf_counter()
        con.execute(sql, used)
        seconds[step] = time.perf_counter() - started
    return seconds, time.process_time() - cpu


def compare(mine: pl.DataFrame, theirs: pl.DataFrame, keys: list[str], skip: list[str]) -> dict:
    """Same key set, then every column: floats within FLOAT_TOLERANCE, everything else (money included) exactly,
    null only against null."""
    columns = [c for c in theirs.columns if c not in skip]
    missing = [c for c in columns if c not in mine.columns]
    if missing:
        return {"equal": False, "problem": f"columns missing from SQL: {missing}"}
    mine, theirs = mine.select(columns), theirs.select(columns)
    joined = theirs.join(mine, on=keys, how="full", suffix="_sql", nulls_equal=True, coalesce=False)
    only_pipeline = joined.filter(pl.all_horizontal(pl.col(f"{k}_sql").is_null() for k in keys))
    only_sql = joined.filter(pl.all_horizontal(pl.col(k).is_null() for k in keys))
    both = joined.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in keys)
                         & pl.all_horizontal(pl.col(f"{k}_sql").is_not_null() for k in keys))
    differing = {}
    for c in columns:
        if c in keys:
            continue
        a, b = pl.col(c), pl.col(f"{c}_sql")
        if theirs.schema[c].is_float():
            same = (a.is_null() & b.is_null()) | ((a - b).abs() <= FLOAT_TOLERANCE)
        else:
            same = a.eq_missing(b.cast(theirs.schema[c], strict=False))
        bad = both.filter(~same.fill_null(False))
        if bad.height:
            differing[c] = {"rows": bad.height, "first": bad.select(*keys, c, f"{c}_sql").head(3).rows()}
    return {"equal": not (only_pipeline.height or only_sql.height or differing),
            "rows_pipeline": theirs.height, "rows_sql": mine.height,
            "only_in_pipeline": only_pipeline.select(keys).head(3).rows() if only_pipeline.height else [],
            "only_in_sql": only_sql.select(*(f"{k}_sql" for k in keys)).head(3).rows() if only_sql.height else [],
            "only_in_pipeline_count": only_pipeline.height, "only_in_sql_count": only_sql.height,
            "differing_columns": differing}


def published(con: duckdb.DuckDBPyConnection, night: Path, table: str, column: str, first: date, last: date
              ) -> pl.DataFrame:
    """The night's own output: its partitions of `table` the night rewrote."""
    path = str(night / "marts" / table / "*" / "*.parquet")
    # `column` is a partition column name of ours (an identifier); the path and dates are parameters.
    return con.sql(f"SELECT * FROM read_parquet($path, hive_partitioning = true) WHERE {column} BETWEEN $first AND $last",
                   params={"path": path, "first": first, "last": last}).pl()


def owned_range(output: str, params: dict) -> tuple[date, date]:
    return {"fct_post_engagement": (params["posted_first"], params["posted_last"]),
            "fct_account_daily": (params["ds"], params["ds"]),
            "fct_visit": (params["visits_first"], params["visits_last"]),
            "fct_attribution": (params["conversions_first"], params["conversions_last"])}[output]


def run(data_dir: Path, ds: date, bench: dict, repeat: int = 3) -> dict:
    """SQL and the pipeline's matching Polars calls, each `repeat` times alternately (the fastest run counts: the
    others differ by page cache and this machine's other work), then the SQL's rows against the published ones."""
    from benchmarks import polars_subset

    night = night_dir(data_dir, ds)
    params, rules = parameters(night, ds)
    files = [name for name in dict.fromkeys(f for f, *_ in OUTPUTS.values()) if (SQL_DIR / f"{name}.sql").exists()]
    sql_runs, polars_runs = [], []
    load_before = os.getloadavg()  # other work on the machine slows wall seconds more than CPU seconds
    for _ in range(repeat):
        con = duckdb.connect()  # a fresh database each time: no temp table or cache of the previous run
        con.execute("SET TimeZone = 'UTC'")  # the lake's timestamps are UTC, and the pipeline's dates are UTC dates
        # Intermediate tables need no row order (every statement orders what it depends on): DuckDB may then
        # materialise them without keeping the scan order.
        con.execute("SET preserve_insertion_order = false")
        lookup_tables(con, rules)
        sql_runs.append({name: run_file(con, name, params) for name in files})
        polars_seconds, frames = polars_subset.run(night, ds, rules)
        polars_runs.append(polars_seconds)
    stages = {s["name"]: s["seconds"] for s in bench.get("stages", [])}
    result = {"data_dir": str(data_dir), "night": night.name, "date": str(ds), "repeat": repeat,
              "duckdb": duckdb.__version__, "polars": pl.__version__, "cpus": os.cpu_count(),
              "load_average_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
              "stages": {}, "outputs": {}}
    for name in files:
        sql_wall = [sum(run[name][0].values()) for run in sql_runs]
        sql_cpu = [run[name][1] for run in sql_runs]
        pol_wall = [run[name][0] for run in polars_runs]
        pol_cpu = [run[name][1] for run in polars_runs]
        stage_s = stages.get(STAGE_OF_FILE[name])
        best = sql_runs[sql_wall.index(min(sql_wall))][name][0]
        result["stages"][name] = {
            "sql_seconds": round(min(sql_wall), 4), "polars_same_outputs_seconds": round(min(pol_wall), 4),
            "polars_over_sql": round(min(pol_wall) / min(sql_wall), 2),
            "sql_cpu_seconds": round(min(sql_cpu), 4), "polars_same_outputs_cpu_seconds": round(min(pol_cpu), 4),
            "polars_over_sql_cpu": round(min(pol_cpu) / min(sql_cpu), 2),
            "pipeline_stage_seconds": stage_s, "stage_over_sql": round(stage_s / min(sql_wall), 2) if stage_s else None,
            "sql_seconds_all_runs": [round(x, 4) for x in sql_wall],
            "polars_seconds_all_runs": [round(x, 4) for x in pol_wall],
            "sql_seconds_by_statement": {k: round(v, 4) for k, v in best.items()}}
    for output, (file, table, column, keys, skip) in OUTPUTS.items():
        if file not in files:
            continue
        mine = con.sql(f"SELECT * FROM {output}").pl()  # a table name of ours, not a value
        theirs = published(con, night, table, column, *owned_range(output, params))
        replay = compare(frames[output], theirs, keys, skip)  # does the Polars replay rebuild what the night published?
        result["outputs"][output] = {"stage": file, "rows": mine.height, "not_compared": skip,
                                     **compare(mine, theirs, keys, skip), "polars_replay_equal": replay["equal"]}
    return result


def show(result: dict) -> None:
    print(f"night {result['night']} ({result['data_dir']}), best of {result['repeat']} runs, load average "
          f"{result['load_average_1m_before_after']} on {result['cpus']} CPUs")
    for name, s in result["stages"].items():
        print(f"  stage {name:<12} SQL {s['sql_seconds']:7.3f} s | pipeline's Polars, same outputs "
              f"{s['polars_same_outputs_seconds']:7.3f} s ({s['polars_over_sql']}x SQL; CPU {s['polars_over_sql_cpu']}x) "
              f"| whole pipeline stage "
              f"{s['pipeline_stage_seconds'] or float('nan'):7.3f} s ({s['stage_over_sql']}x SQL)")
    for name, o in result["outputs"].items():
        print(f"  {name:<22} rows SQL {o['rows']:>8,} pipeline {o.get('rows_pipeline', 0):>8,}  equal: "
              f"{'yes' if o['equal'] else 'NO'}" + (f"  (not compared: {', '.join(o['not_compared'])})"
                                                     if o["not_compared"] else "")
              + ("" if o["polars_replay_equal"] else "  [Polars replay differs from the published rows]"))
        if not o["equal"]:
            if o.get("problem"):
                print(f"      {o['problem']}")
            for side in ("only_in_pipeline", "only_in_sql"):
                if o.get(f"{side}_count"):
                    print(f"      {side}: {o[f'{side}_count']} rows, e.g. {o[side]}")
            for c, d in o.get("differing_columns", {}).items():
                print(f"      {c}: {d['rows']} rows differ, e.g. (key…, pipeline, sql) {d['first']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--date", type=date.fromisoformat, help="the night (default: the benchmarked one)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--bench-json", type=Path, help="benchmarks.run --json output of the same data dir")
    parser.add_argument("--profile", help="first run benchmarks.run at this profile into --data-dir (one run, both)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bench = {}
    if args.profile:
        from benchmarks.run import PROFILES, run_benchmark

        os.environ.update(DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false", GX_ANALYTICS_ENABLED="false")
        bench = run_benchmark(args.profile, PROFILES[args.profile]["days"], args.data_dir)
    elif args.bench_json and args.bench_json.exists():
        bench = json.loads(args.bench_json.read_text())
    ds = args.date or (BENCH_START + timedelta(days=bench["day"] - 1) if bench else None)
    if ds is None:
        parser.error("--date is needed without --profile or --bench-json")
    result = run(args.data_dir, ds, bench, args.repeat)
    result["benchmark"] = {k: bench.get(k) for k in ("profile", "scale", "day", "wall_seconds", "stages")} if bench else None
    show(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
