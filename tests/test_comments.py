"""Table and column comments reach both warehouses and the BI copy exactly as the contracts wrote them: no `%`
doubled for a DBAPI placeholder syntax the statements never go through, no quote, backslash, newline or non-ASCII
character altered."""
import dataclasses
from pathlib import Path

import duckdb
import polars as pl
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy.engine import make_url

import influence_pipeline.schemas.contract as model
from influence_pipeline.sinks.bi import VIEWS_DIR, prepare_readonly_copy, view_statements
from influence_pipeline.sinks.ddl import sql_literal
from influence_pipeline.sinks.warehouse import connect_warehouse

# Every character class a literal quoter or a paramstyle escaper could mangle, and placeholders of each DBAPI style.
TRICKY = ("Share ≥ 10 % of O'Brien's \"reach\" — 3 × C:\\temp\\new, 100%% %(name)s %s :name ? $1 🎯\n"
          "second line\tafter a tab; -- not a comment */ E'\\n'")
PROBES = {"comment_probe_view": "fct_visit", "comment_probe_table": "dim_customer"}  # partitioned / whole


def _probe(name: str, base: model.Contract) -> model.Contract:
    """A contract like `base` whose every description is TRICKY (one column's with a trailing newline, as a YAML
    block scalar leaves it), built through the same code as the real ones."""
    properties = tuple(dataclasses.replace(p, description=f"{TRICKY} [{p.name}]" + ("\n" if i == 0 else ""))
                       for i, p in enumerate(base.properties))
    return dataclasses.replace(base, name=name, description=f"  {TRICKY}\n", grain=f"{TRICKY} grain.\n",
                               properties=properties)


@pytest.fixture
def contracts(monkeypatch) -> dict[str, model.Contract]:
    """The real contracts plus the two probes, seen by every module that loads contracts."""
    real = model.load_contracts()
    with_probes = {**real, **{name: _probe(name, real[base]) for name, base in PROBES.items()}}
    monkeypatch.setattr(model, "load_contracts", lambda: with_probes)
    return with_probes


def _published(contracts: dict[str, model.Contract]) -> list[model.Contract]:
    return [c for c in contracts.values() if c.layer != "raw"]


def _expected(contracts: list[model.Contract]) -> tuple[dict, dict]:
    """(schema, table) → table comment and (schema, table, column) → column comment. The table comment is the
    description, the grain and the key, each as written (outer whitespace trimmed); a column's is its description."""
    tables, columns = {}, {}
    for c in contracts:
        key = f" Key: {', '.join(c.primary_key)}." if c.primary_key else ""
        tables[(c.layer, c.name)] = f"{c.description.strip()} Grain: {c.grain.strip()}{key}"
        columns.update({(c.layer, c.name, p.name): p.description for p in c.properties if p.description})
    return tables, columns


def _view_comments() -> dict[tuple[str, str], str]:
    """The readable views' comments: their files' leading comment lines, joined."""
    return {("marts", path.name.removesuffix(".sql")): " ".join(
                line.removeprefix("--").strip() for line in path.read_text(encoding="utf-8").splitlines()
                if line.startswith("--"))
            for path in VIEWS_DIR.iterdir() if path.name.endswith(".sql")}


def _empty_rows(contract: model.Contract) -> pa.Table:
    return pl.DataFrame(schema=model.polars_schema(contract)).to_arrow()


def _create_all(url: str, contracts: dict[str, model.Contract]) -> None:
    """Every contract table created by the warehouse writer (the nightly's path), then the readable views."""
    warehouse = connect_warehouse(url)
    try:
        for c in _published(contracts):
            warehouse.replace_table(c.layer, c.name, _empty_rows(c))
        warehouse.run_statements(view_statements())
    finally:
        warehouse.close()


def _only(actual: dict, expected: dict) -> dict:
    return {key: actual.get(key) for key in expected}


def _duckdb_comments(path: Path) -> tuple[dict, dict]:
    with duckdb.connect(str(path), read_only=True) as con:
        relations = con.sql("SELECT schema_name, table_name, comment FROM duckdb_tables() UNION ALL "
                            "SELECT schema_name, view_name, comment FROM duckdb_views() WHERE NOT internal").fetchall()
        columns = con.sql("SELECT schema_name, table_name, column_name, comment FROM duckdb_columns()").fetchall()
    return {(s, t): c for s, t, c in relations}, {(s, t, n): c for s, t, n, c in columns}


def test_sql_literal_round_trips_any_text_on_duckdb_and_refuses_nul():
    for text in (TRICKY, "", "'", "''", "\\", "%", "10 %%"):
        assert duckdb.execute(f"SELECT {sql_literal(text)}").fetchall() == [(text,)]  # all: leaves no open result
    with pytest.raises(ValueError, match="NUL"):
        sql_literal("a\x00b")


def test_duckdb_warehouse_and_bi_copy_comments_equal_the_contracts(contracts, tmp_path):
    tables, columns = _expected(_published(contracts))
    tables.update(_view_comments())
    assert any("%" in text for text in [*tables.values(), *columns.values()])  # the real contracts' "10 %" too
    _create_all(f"duckdb:///{tmp_path / 'warehouse.duckdb'}", contracts)
    actual_tables, actual_columns = _duckdb_comments(tmp_path / "warehouse.duckdb")
    assert _only(actual_tables, tables) == tables
    assert _only(actual_columns, columns) == columns

    # The BI copy: partitioned facts become views over the snapshot's files, the rest tables; both commented.
    marts = [c for c in contracts.values() if c.layer == "marts"]
    snapshot = tmp_path / "snapshot" / "marts"
    for c in marts:
        if c.partition_column:
            part = snapshot / c.name / f"{c.partition_column}=2026-11-02" / "part-0.parquet"
            part.parent.mkdir(parents=True)
            pq.write_table(_empty_rows(c).drop_columns([c.partition_column]), part)
    copy = prepare_readonly_copy(snapshot, tmp_path / "bi" / "warehouse.duckdb")
    bi_tables, bi_columns = _expected(marts)
    bi_tables.update(_view_comments())
    actual_tables, actual_columns = _duckdb_comments(copy)
    assert _only(actual_tables, bi_tables) == bi_tables
    assert _only(actual_columns, bi_columns) == bi_columns
    with duckdb.connect(str(copy), read_only=True) as con:  # the probe went through the view path
        views = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'comment_probe_view'").fetchone()
    assert views == (1,)


@pytest.mark.postgres
def test_postgres_warehouse_comments_equal_the_contracts(contracts, pg_url):
    tables, columns = _expected(_published(contracts))
    tables.update(_view_comments())
    _create_all(pg_url, contracts)
    parsed = make_url(pg_url)
    with psycopg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                         password=parsed.password, dbname=parsed.database) as conn:
        assert conn.execute("SELECT " + sql_literal(TRICKY)).fetchone()[0] == TRICKY
        relations = conn.execute(
            "SELECT n.nspname, c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'v')").fetchall()
        described = conn.execute(
            "SELECT n.nspname, c.relname, a.attname, col_description(c.oid, a.attnum) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'v')").fetchall()
    actual_tables = {(s, t): c for s, t, c in relations}
    actual_columns = {(s, t, n): c for s, t, n, c in described}
    assert _only(actual_tables, tables) == tables
    assert _only(actual_columns, columns) == columns


@pytest.mark.postgres
def test_postgres_comments_stay_exact_on_a_server_reading_backslashes_as_escapes(contracts, pg_url, monkeypatch):
    # libpq applies PGOPTIONS at connect: the session starts the pre-9.1 way, where '\n' in a literal is a newline
    monkeypatch.setenv("PGOPTIONS", "-c standard_conforming_strings=off")
    probe = contracts["comment_probe_table"]
    warehouse = connect_warehouse(pg_url)
    try:
        warehouse.replace_table("marts", probe.name, _empty_rows(probe))
    finally:
        warehouse.close()
    monkeypatch.delenv("PGOPTIONS")
    parsed = make_url(pg_url)
    with psycopg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                         password=parsed.password, dbname=parsed.database) as conn:
        comment = conn.execute(
            "SELECT obj_description('marts.comment_probe_table'::regclass, 'pg_class')").fetchone()[0]
    assert comment == _expected([probe])[0][("marts", probe.name)]
    assert "C:\\temp\\new" in comment  # the backslashes, not a tab and a newline
