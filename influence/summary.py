"""The readable summary the demo ends with: what was loaded, where it is, and how to look at it."""
from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table

from influence.settings import Settings


def print_demo_summary(console: Console, settings: Settings, summaries: list) -> None:
    staged: Counter[str] = Counter()
    ingested: Counter[str] = Counter()
    quarantined: Counter[str] = Counter()
    for summary in summaries:
        staged.update(summary.staged)
        ingested.update({name: info["rows"] for name, info in summary.ingested.items()})
        quarantined.update(summary.quarantined)
    table = Table(title=f"{len(summaries)} nightly runs, {summaries[0].ds} → {summaries[-1].ds}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in staged.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(f"raw rows ingested: {sum(ingested.values()):,} from {len(ingested)} landing datasets; "
                  f"quarantined with a reason: {sum(quarantined.values()):,} "
                  f"({', '.join(f'{n} {c:,}' for n, c in quarantined.most_common(3) if c) or 'none'})")
    lake = settings.lake_dir.resolve()
    console.print(f"Parquet lake: [bold]{lake}[/bold] (staging/<table>/landing_date=YYYY-MM-DD/part-0.parquet)")
    console.print(f"Warehouse:    [bold]{settings.safe_warehouse_url()}[/bold] (schemas staging, quarantine, audit)")
    console.print(f"Data docs:    [bold]{summaries[-1].data_docs}[/bold]")
    console.print("\nLook at the outputs (DuckDB reads the lake directly):")
    console.print(
        "  .venv/bin/influence query \"SELECT platform, count(DISTINCT post_id) AS posts, sum(likes) AS likes "
        f"FROM read_parquet('{lake}/staging/stg_post_snapshots/*/*.parquet', hive_partitioning=true) "
        "WHERE landing_date = (SELECT max(landing_date) FROM staging.stg_post_snapshots) GROUP BY platform\"",
        soft_wrap=True, highlight=False, markup=False)
    console.print(
        "  .venv/bin/influence query \"SELECT dataset, sum(rows_in) AS rows_in, sum(rows_published) AS published, "
        "sum(rows_quarantined) AS quarantined FROM audit.run_sources GROUP BY dataset ORDER BY dataset\"",
        soft_wrap=True, highlight=False, markup=False)
