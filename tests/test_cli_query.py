"""`influence query` output formats, and the PII-key message and `influence dev-key`, through the installed
`influence` entry point with stdout a pipe (what a script or `| less` sees)."""
import csv
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

INFLUENCE = Path(sys.executable).with_name("influence")
LONG_HANDLE = "instagram_media_insights_" + "x" * 120  # wider than any terminal's 80 columns
NOTE = 'comma, "quoted" and\nnewline, [bold]not markup[/bold] ≥ × — 🎯'


def _influence(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("INFLUENCE_PII_KEY", "INFLUENCE_WAREHOUSE_URL", "COLUMNS", "LINES")}
    environment.update(INFLUENCE_DATA_DIR=str(data_dir), **env)
    return subprocess.run([str(INFLUENCE), *args], capture_output=True, text=True, env=environment, timeout=120)


@pytest.fixture
def warehouse(tmp_path) -> Path:
    """A data dir whose embedded warehouse holds one table with every kind of value an answer can carry."""
    data = tmp_path / "data"
    data.mkdir()
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.probe (handle VARCHAR, note VARCHAR, day DATE, seen_at TIMESTAMP, "
                    "amount DECIMAL(18, 2), rate DOUBLE, n BIGINT, ok BOOLEAN, missing VARCHAR)")
        con.execute("INSERT INTO marts.probe VALUES (?, ?, DATE '2026-11-02', TIMESTAMP '2026-11-02 10:30:00', "
                    "59.90, 0.047646, 12345678901, true, NULL), ('short', '', DATE '2026-11-01', NULL, 0.10, 2.5, "
                    "-1, false, 'x')", [LONG_HANDLE, NOTE])
    return data


QUERY = "SELECT * FROM marts.probe ORDER BY day DESC"


def test_query_table_is_not_cut_short_when_piped(warehouse):
    result = _influence(warehouse, "query", QUERY)
    assert result.returncode == 0, result.stderr
    assert LONG_HANDLE in result.stdout and "…" not in result.stdout
    for piece in ('comma, "quoted" and', "newline, [bold]not markup[/bold] ≥ × — 🎯", "2026-11-02 10:30:00",
                  "59.90", "0.047646", "12345678901", "True", "∅"):
        assert piece in result.stdout, piece
    header = next(line for line in result.stdout.splitlines() if "handle" in line)
    assert all(name in header for name in ("note", "day", "seen_at", "amount", "rate", "n", "ok", "missing"))


def test_query_csv_is_plain_csv_with_full_values(warehouse):
    result = _influence(warehouse, "query", QUERY, "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows == [
        ["handle", "note", "day", "seen_at", "amount", "rate", "n", "ok", "missing"],
        [LONG_HANDLE, NOTE, "2026-11-02", "2026-11-02T10:30:00", "59.90", "0.047646", "12345678901", "true", ""],
        ["short", "", "2026-11-01", "", "0.10", "2.5", "-1", "false", "x"],
    ]


def test_query_json_is_a_list_of_objects_with_numbers_as_numbers(warehouse):
    result = _influence(warehouse, "query", QUERY, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout, parse_float=Decimal) == [
        {"handle": LONG_HANDLE, "note": NOTE, "day": "2026-11-02", "seen_at": "2026-11-02T10:30:00",
         "amount": Decimal("59.90"), "rate": Decimal("0.047646"), "n": 12345678901, "ok": True, "missing": None},
        {"handle": "short", "note": "", "day": "2026-11-01", "seen_at": None, "amount": Decimal("0.10"),
         "rate": Decimal("2.5"), "n": -1, "ok": False, "missing": "x"},
    ]
    empty = _influence(warehouse, "query", "SELECT * FROM marts.probe WHERE false", "--format", "json")
    assert empty.returncode == 0 and json.loads(empty.stdout) == []


def test_query_refuses_an_unknown_format(warehouse):
    result = _influence(warehouse, "query", QUERY, "--format", "xml")
    assert result.returncode == 2 and "xml" in result.stderr


def test_a_missing_pii_key_names_the_two_safe_fixes_and_never_sample_data(tmp_path):
    data = tmp_path / "data"
    result = _influence(data, "run", "--date", "2026-11-02")
    message = " ".join((result.stdout + result.stderr).split())  # the console wraps long lines
    assert result.returncode == 1, message
    assert f"INFLUENCE_PII_KEY is not set and no dev key exists at {data / '.pii_key'}" in message
    assert "set INFLUENCE_PII_KEY (in production from your secret store" in message
    assert "create a random dev key there with `influence dev-key`" in message
    assert "demo" not in message and "sample" not in message
    assert not data.exists()  # nothing was written, sample data least of all


def test_dev_key_writes_the_key_and_nothing_else(tmp_path, monkeypatch):
    data = tmp_path / "data"
    created = _influence(data, "dev-key")
    assert created.returncode == 0, created.stderr
    key_file = data / ".pii_key"
    assert "created a random dev PII key at" in created.stdout
    assert [p.name for p in data.iterdir()] == [".pii_key"]
    assert oct(key_file.stat().st_mode & 0o777) == "0o600" and len(key_file.read_text().strip()) == 64
    key = key_file.read_text()
    again = _influence(data, "dev-key")
    assert again.returncode == 0 and "kept the existing" in again.stdout and key_file.read_text() == key

    from influence_pipeline.settings import Settings

    monkeypatch.delenv("INFLUENCE_PII_KEY", raising=False)
    monkeypatch.delenv("INFLUENCE_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(data))
    assert Settings().pii_key_bytes() == key.strip().encode()


def test_dev_key_refuses_a_production_warehouse(tmp_path):
    result = _influence(tmp_path / "data", "dev-key",
                        INFLUENCE_WAREHOUSE_URL="postgresql+psycopg://bi:hunter2@db.internal/analytics")
    message = " ".join(result.stderr.split())
    assert result.returncode == 2 and "secret store" in message and "hunter2" not in message
    assert not (tmp_path / "data").exists()


def test_dev_key_and_the_query_formats_have_help():
    from typer.testing import CliRunner

    from influence_pipeline.cli import app

    dev_key = CliRunner().invoke(app, ["dev-key", "--help"], terminal_width=200)
    query = CliRunner().invoke(app, ["query", "--help"], terminal_width=200)
    assert dev_key.exit_code == 0 and "Writes nothing else" in dev_key.output
    assert query.exit_code == 0 and "--format" in query.output and "table|csv|json" in query.output
