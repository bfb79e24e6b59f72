"""Everything a run publishes, read back as a reader sees it: the warehouse's tables, the lake's current snapshot
(through DuckDB's Parquet reader) and the BI copy. Run ids and load timestamps differ by design and are left out."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from tests.conftest import TEST_PII_KEY
from tests.test_backfill import _tables


def lake_tables(lake: Path) -> dict[str, list]:
    """Every table of the lake's published snapshot, partition columns restored, rows sorted."""
    out = {}
    with duckdb.connect() as con:
        for layer in ("staging", "quarantine", "marts"):
            for table in sorted(p for p in (lake / "current" / layer).iterdir() if p.is_dir()):
                partitioned = next(table.rglob("*.parquet")).parent != table
                pattern = str(table / ("*/*.parquet" if partitioned else "*.parquet"))
                exclude = " EXCLUDE (_run_id)" if layer == "quarantine" else ""
                out[f"{layer}.{table.name}"] = con.execute(
                    f"SELECT *{exclude} FROM read_parquet(?, hive_partitioning = {str(partitioned).lower()}) "
                    "ORDER BY ALL", [pattern]).fetchall()
    return out


def bi_tables(copy: Path) -> dict[str, list]:
    """Every table and view of the BI copy's marts schema."""
    with duckdb.connect(str(copy), read_only=True) as con:
        return bi_rows(con)


def bi_rows(con) -> dict[str, list]:
    names = [n for (n,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' UNION ALL "
        "SELECT view_name FROM duckdb_views() WHERE schema_name = 'marts' AND NOT internal ORDER BY 1").fetchall()]
    return {n: con.execute(f'SELECT * FROM marts."{n}" ORDER BY ALL').fetchall() for n in names}


def published(data: Path) -> dict[str, object]:
    """The warehouse, the lake and the BI copy of a data dir, side by side."""
    return {"warehouse": _tables(data / "warehouse.duckdb"), "lake": lake_tables(data / "lake"),
            "bi": bi_tables(data / "bi" / "warehouse.duckdb")}


def published_night(data: Path) -> tuple[str, str]:
    """(lake's current snapshot, the snapshot the warehouse records): equal whenever no publication is under way."""
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        held = con.execute("SELECT snapshot_id FROM audit.published_night").fetchone()[0]
    return os.readlink(data / "lake" / "current").split("/")[-1], held


def assert_same(got: dict, expected: dict) -> None:
    """Sink by sink and table by table, so a failure names the table that differs."""
    assert got.keys() == expected.keys()
    for sink in expected:
        assert got[sink].keys() == expected[sink].keys(), sink
        for table, rows in expected[sink].items():
            assert got[sink][table] == rows, f"{sink}: {table}"


def use_data_dir(landing: Path, data: Path, monkeypatch) -> Path:
    """A data dir at `data` holding a copy of `landing`, made the one the pipeline's settings point at."""
    shutil.copytree(landing, data / "landing")
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(data))
    monkeypatch.setenv("INFLUENCE_PII_KEY", TEST_PII_KEY)
    monkeypatch.delenv("INFLUENCE_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("INFLUENCE_RULES_FILE", raising=False)
    return data
