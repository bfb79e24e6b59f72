"""The readable summary the demo ends with: what was loaded, where it is, and how to look at it."""
from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table

from influence_pipeline.settings import Settings
from influence_pipeline.sinks.snapshots import CURRENT


def landing_notes(summary) -> list[str]:
    """What a night's landing lacked and held besides (a RunSummary in, readable lines out): per source folder, the
    expected files not delivered — those whose alternative came instead (GA4 for the tracker) said so — then the
    paths no run reads (status `unexpected` in audit.run_sources)."""
    from influence_pipeline.schemas.raw import BY_NAME

    delivered = {name for name, info in summary.ingested.items() if info["status"] != "missing"}
    missing: dict[str, list[str]] = {}
    for name, info in summary.ingested.items():
        if info["status"] == "missing":
            instead = [alt for alt in BY_NAME[name].alternatives if alt in delivered]
            note = f" ({', '.join(instead)} delivered instead)" if instead else ""
            missing.setdefault(BY_NAME[name].source, []).append(f"{info['file']}{note}")
    lines = [f"{summary.ds} missing in {source}/: {', '.join(files)}" for source, files in sorted(missing.items())]
    if summary.unexpected:
        lines.append(f"{summary.ds} unexpected (not read): {', '.join(summary.unexpected)}")
    return lines


def print_landing_notes(console: Console, summaries: list) -> None:
    for summary in summaries:
        for line in landing_notes(summary):
            console.print(line, highlight=False, markup=False)


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
        if name.startswith("stg_"):  # a mart's partitions are rewritten by several runs: counted below, once
            table.add_row(name, f"{rows:,}")
    if settings.is_embedded_warehouse:
        _add_mart_rows(table, settings)
    console.print(table)
    if settings.is_embedded_warehouse:
        _print_insights(console, settings)
    console.print(f"raw rows ingested: {sum(ingested.values()):,} from {len(ingested)} landing datasets; "
                  f"quarantined with a reason: {sum(quarantined.values()):,} "
                  f"({', '.join(f'{n} {c:,}' for n, c in quarantined.most_common(3) if c) or 'none'})")
    print_landing_notes(console, summaries)
    lake = settings.lake_dir.resolve() / CURRENT
    console.print(f"Parquet lake: [bold]{lake}[/bold] (the published night: staging/<table>/landing_date=YYYY-MM-DD/"
                  "part-0.parquet)")
    console.print(f"Warehouse:    [bold]{settings.safe_warehouse_url()}[/bold] (schemas staging, marts, quarantine, "
                  "audit)")
    # GX's data docs need CDNs to draw their tables (they are kept stripped of them, to open offline): the
    # validation page is where every rule's outcome is readable.
    console.print(f"Validation:   [bold]{summaries[-1].validation_page or summaries[-1].validation_results}[/bold] "
                  f"(every rule, failed first; GX data docs, offline copy: {summaries[-1].data_docs})")
    console.print(f"Report:       [bold]{summaries[-1].report}[/bold] (charts; open it in a browser)")
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


TIER_ER = """
    SELECT tier, sum(accounts) AS accounts, round(median(er_median) * 100, 2) AS median_er_pct,
           round(100 * sum(share_meeting_target * accounts) / sum(accounts)) AS pct_on_target
    FROM marts.mart_tier_benchmark WHERE platform = 'instagram'
      AND month_start_date = (SELECT max(month_start_date) FROM marts.mart_tier_benchmark)
    GROUP BY tier ORDER BY median_er_pct DESC"""
TOP_CAMPAIGNS = """
    SELECT campaign_id AS campaign, influencer_id AS influencer, round(cost, 0) AS cost,
           round(max(net_revenue) FILTER (WHERE model = 'code'), 0) AS rev_code,
           round(max(net_revenue) FILTER (WHERE model = 'last_touch'), 0) AS rev_last,
           round(max(roas) FILTER (WHERE model = 'last_touch'), 2) AS roas_last
    FROM marts.mart_campaign_performance GROUP BY ALL
    ORDER BY roas_last DESC NULLS LAST, campaign, influencer LIMIT 5"""


def _connect(settings: Settings):
    import duckdb

    return duckdb.connect(str(settings.embedded_warehouse_path), read_only=True)


def _add_mart_rows(table: Table, settings: Settings) -> None:
    with _connect(settings) as con:
        marts = con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY ALL").fetchall()
        for (name,) in marts:
            rows = con.execute(f'SELECT count(*) FROM marts."{name}"').fetchone()[0]  # names from the catalog
            table.add_row(f"marts.{name}", f"{rows:,}")


def _print_insights(console: Console, settings: Settings) -> None:
    """The two questions the product exists to answer, on the data just loaded."""
    with _connect(settings) as con:
        for title, sql in (("Instagram engagement rate by tier (latest month)", TIER_ER),
                           ("Top campaign × influencer by ROAS (revenue: code and last-touch models)", TOP_CAMPAIGNS)):
            result = con.execute(sql)
            table = Table(title=title)
            for column in result.description:
                table.add_column(column[0], justify="left" if column[0] in ("campaign", "influencer", "tier") else "right")
            for row in result.fetchall():
                table.add_row(*["–" if v is None else str(v) for v in row])
            console.print(table)
