"""Every SQL example of the README runs, as printed, on the DuckDB warehouse, its BI copy and PostgreSQL, and
answers with the same number of rows on each: one nightly over the golden landing files, its published snapshot then
loaded into PostgreSQL by the same code that publishes a night there."""
import re
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import FIXTURE_DATE, FIXTURES, TEST_PII_KEY

README = Path(__file__).resolve().parents[1] / "README.md"
# One night of data holds no account with the 7 days of history a growth anomaly needs; every other example must
# answer with rows on it, or it would be testing nothing.
MAY_BE_EMPTY = ("is_growth_anomaly",)


def readme_statements() -> list[str]:
    """Each statement of each ```sql block, with the comment lines that introduce it."""
    blocks = re.findall(r"^```sql\n(.*?)^```", README.read_text(), re.S | re.M)
    return [s.strip() for block in blocks for s in re.split(r";[ \t]*$", block, flags=re.M) if _body(s)]


def _body(statement: str) -> str:
    return "\n".join(line for line in statement.splitlines() if not line.lstrip().startswith("--")).strip()


def _label(statement: str) -> str:
    """The comment line right above the statement: the question it answers."""
    comments = [line for line in statement.splitlines() if line.lstrip().startswith("--")]
    return comments[-1] if comments else _body(statement).splitlines()[0]


@pytest.fixture(scope="module")
def published_night(prefect_harness, tmp_path_factory) -> Path:
    """A data dir after one nightly over the golden landing files (DuckDB warehouse, BI copy, lake)."""
    import shutil

    from influence_pipeline.flows.nightly import nightly

    root = tmp_path_factory.mktemp("readme") / "data"
    shutil.copytree(FIXTURES / "landing", root / "landing")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("INFLUENCE_DATA_DIR", str(root))
        env.setenv("INFLUENCE_PII_KEY", TEST_PII_KEY)
        for name in ("INFLUENCE_WAREHOUSE_URL", "INFLUENCE_RULES_FILE"):
            env.delenv(name, raising=False)
        nightly(ds=date.fromisoformat(FIXTURE_DATE))
    return root


def _run_all(execute) -> tuple[dict[str, int], list[str]]:
    """Row count per statement, and a line per statement that failed or answered with nothing."""
    counts, problems = {}, []
    for statement in readme_statements():
        try:
            counts[statement] = len(execute(_body(statement)))
        except Exception as exc:  # every failure is reported, not only the first
            problems.append(f"{_label(statement)}\n    {type(exc).__name__}: {exc}")
            continue
        if counts[statement] == 0 and not any(marker in statement for marker in MAY_BE_EMPTY):
            problems.append(f"{_label(statement)}\n    returned no rows")
    return counts, problems


def _duckdb_counts(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        counts, problems = _run_all(lambda sql: con.execute(sql).fetchall())
    assert not problems, f"README SQL on {path}:\n" + "\n".join(problems)
    return counts


def test_the_readme_has_sql_examples_for_every_mart():
    statements = readme_statements()
    assert len(statements) >= 11
    assert {"fct_visit", "fct_conversion", "fct_attribution", "dim_customer", "mart_tier_benchmark",
            "mart_campaign_performance", "campaign_scorecard"} <= {m for s in statements
                                                                   for m in re.findall(r"marts\.(\w+)", s)}


def test_readme_sql_runs_on_duckdb_and_the_bi_copy(published_night):
    warehouse = _duckdb_counts(published_night / "warehouse.duckdb")
    assert _duckdb_counts(published_night / "bi" / "warehouse.duckdb") == warehouse


@pytest.mark.postgres
def test_readme_sql_runs_on_postgres_with_the_same_answers(published_night, pg_url):
    from influence_pipeline.sinks.bi import view_statements
    from influence_pipeline.sinks.snapshots import current
    from influence_pipeline.sinks.sync import load_snapshot
    from influence_pipeline.sinks.warehouse import connect_warehouse

    with duckdb.connect(str(published_night / "warehouse.duckdb"), read_only=True) as con:
        audit = pl.from_arrow(con.sql("SELECT * FROM audit.run_sources").to_arrow_table())
    night = current((published_night / "lake").resolve())
    warehouse = connect_warehouse(pg_url)
    try:
        load_snapshot(warehouse, None, night, audit, night.run_id, view_statements())
    finally:
        warehouse.close()
    parsed = make_url(pg_url)
    with psycopg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                         password=parsed.password, dbname=parsed.database, autocommit=True) as conn:
        counts, problems = _run_all(lambda sql: conn.execute(sql).fetchall())
    assert not problems, "README SQL on PostgreSQL:\n" + "\n".join(problems)
    assert counts == _duckdb_counts(published_night / "warehouse.duckdb")
