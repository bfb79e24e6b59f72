"""The lake → warehouse stream: a table's changed partition files read a batch at a time, each batch given the
partition column from its path and the columns of the whole table, then loaded by both engines in one transaction
(issue 18: the load no longer concatenates every changed partition of a table in memory)."""
from datetime import date

import duckdb
import polars as pl
import pyarrow as pa
import pytest

from influence_pipeline.sinks import sync
from influence_pipeline.sinks.warehouse import connect_warehouse

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


def _files(tmp_path):
    """Three partitions of a quarantine-like table (no contract: file column order kept): an empty one, one whose
    `reason_code` is all null (Parquet's null type) written before `note` existed, and a later one."""
    frames = {
        D1: pl.DataFrame(schema={"event_id": pl.String, "amount": pl.Int32, "reason_code": pl.String}),
        D2: pl.DataFrame({"event_id": ["a", "b", "c", "d", "e"], "amount": [1, 2, 3, 4, 5], "reason_code": None},
                         schema={"event_id": pl.String, "amount": pl.Int32, "reason_code": pl.Null}),
        D3: pl.DataFrame({"event_id": ["f"], "amount": [6], "reason_code": ["x"], "note": ["n"]},
                         schema={"event_id": pl.String, "amount": pl.Int64, "reason_code": pl.String,
                                 "note": pl.String}),
    }
    files = []
    for day, frame in frames.items():
        part = f"landing_date={day.isoformat()}"
        path = tmp_path / part / "part-0.parquet"
        path.parent.mkdir(parents=True)
        frame.write_parquet(path)
        files.append((part, path))
    return files


EXPECTED = [("a", 1, None, D2), ("b", 2, None, D2), ("c", 3, None, D2), ("d", 4, None, D2), ("e", 5, None, D2),
            ("f", 6, "x", D3)]


def test_a_tables_files_stream_in_bounded_batches_with_one_schema(tmp_path, monkeypatch):
    monkeypatch.setattr(sync, "BATCH_ROWS", 2)
    reader = sync.published_rows("probe", _files(tmp_path))
    batches = list(reader)
    assert [b.num_rows for b in batches] == [2, 2, 1, 1]  # a batch at a time, never a whole file
    # the files with rows decide the columns, in the order they first appear (the empty one is left out)
    assert reader.schema.names == ["event_id", "amount", "reason_code", "landing_date", "note"]
    assert reader.schema.field("amount").type == pa.int64()  # widened where files differ
    assert reader.schema.field("reason_code").type == pa.large_string()  # null typed by the file that has values
    rows = pa.Table.from_batches(batches, reader.schema)
    assert [tuple(r.values()) for r in rows.to_pylist()] == [(*row, "n" if row[0] == "f" else None) for row in EXPECTED]


def test_all_empty_files_give_the_first_files_columns_and_no_rows(tmp_path):
    files = _files(tmp_path)[:1]
    reader = sync.published_rows("probe", files)
    assert reader.schema.names == ["event_id", "amount", "reason_code", "landing_date"]
    assert reader.read_all().num_rows == 0
    assert sync.published_rows("probe", []) is None


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgresql", marks=pytest.mark.integration)])
def test_both_engines_load_the_stream_and_replace_the_partitions(engine, tmp_path, monkeypatch, request):
    monkeypatch.setattr(sync, "BATCH_ROWS", 2)  # several COPYs (PostgreSQL) and Arrow batches (DuckDB) per load
    url = (f"duckdb:///{tmp_path / 'w.duckdb'}" if engine == "duckdb" else request.getfixturevalue("pg_url"))
    warehouse = connect_warehouse(url)
    try:
        for _ in range(2):  # a rerun replaces rather than duplicates
            warehouse.replace_partitions("quarantine", "probe", sync.published_rows("probe", _files(tmp_path / f"r{_}")),
                                         "landing_date", [D1, D2, D3])
        query = "SELECT event_id, amount, reason_code, landing_date, note FROM quarantine.probe ORDER BY event_id"
        got = warehouse.fetch(query, [])
    finally:
        warehouse.close()
    assert [tuple(r) for r in got] == [(*row, "n" if row[0] == "f" else None) for row in EXPECTED]
    if engine == "duckdb":  # and the file stays a readable DuckDB database
        with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM quarantine.probe").fetchone() == (6,)


@pytest.mark.parametrize("folder", ["plain", "with[glob]"])
def test_duckdb_reads_the_lake_files_itself_and_loads_what_the_stream_loads(tmp_path, folder):
    """DuckDB's own Parquet reader (partition value from the folder, null for a column a file predates, types
    widened by the INSERT) loads exactly the rows and types of the Arrow stream; a path DuckDB would read as a glob
    goes through the stream."""
    lake = sync.published_files("probe", _files(tmp_path / folder))
    assert lake.readable_by_duckdb is (folder == "plain")
    loaded = {}
    for how, rows in (("files", lake), ("stream", sync.published_rows("probe", _files(tmp_path / f"{folder}-s")))):
        warehouse = connect_warehouse(f"duckdb:///{tmp_path / f'{how}.duckdb'}")
        try:
            warehouse.replace_partitions("quarantine", "probe", rows, "landing_date", [D1, D2, D3])
            loaded[how] = (warehouse.fetch("SELECT * FROM quarantine.probe ORDER BY event_id", []),
                           warehouse.fetch("SELECT column_name, data_type FROM information_schema.columns "
                                           "WHERE table_name = 'probe' ORDER BY ordinal_position", []))
        finally:
            warehouse.close()
    assert loaded["files"] == loaded["stream"]
    assert [tuple(r) for r in loaded["files"][0]] == [(*row, "n" if row[0] == "f" else None) for row in EXPECTED]
