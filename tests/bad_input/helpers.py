"""Shared helpers of the bad-input tests: edit one golden landing file, split the day as the nightly flow does."""
from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import uuid
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from influence_pipeline.schemas.contract import load_contracts
from influence_pipeline.schemas.raw import BY_NAME as RAW, DATASETS
from influence_pipeline.schemas.row_rules import published_rules, row_rules
from influence_pipeline.sources.ingest import ingest_dataset, scan_raw
from influence_pipeline.sources.landing import LandingFileError, read_landing_file
from influence_pipeline.sources.manifest import read_entry
from influence_pipeline.transforms.quarantine import SplitResult, reference_values, same_day_references, split_batch
from influence_pipeline.transforms.staging.registry import BY_NAME as MODELS, STAGING_MODELS
from tests.conftest import FIXTURE_DATE, FIXTURES, TEST_PII_KEY

DS = date.fromisoformat(FIXTURE_DATE)
KEY = TEST_PII_KEY.encode()
CONTRACTS = load_contracts()
DROP = object()  # marks a key to remove from an NDJSON record

# --------------------------------------------------------------------------------------------------------- helpers




def _rel(name: str) -> str:
    dataset = RAW[name]
    return f"{dataset.source}/{FIXTURE_DATE}/{dataset.file}"


def _file(landing: Path, name: str) -> Path:
    return landing / _rel(name)


def _check_day(landing: Path, lake: Path) -> dict[str, SplitResult]:
    """Ingest every dataset of the day and split it by its contract, with same-day references (as check_raw does)."""
    for dataset in DATASETS:
        ingest_dataset(dataset, landing, lake, DS, "bad-input-run", KEY)
    raw = {d.name: scan_raw(lake, d, DS).collect() for d in DATASETS}
    splits = {}
    for dataset in DATASETS:
        contract = CONTRACTS[dataset.name]
        splits[dataset.name] = _split_both_ways(raw[dataset.name], scan_raw(lake, dataset, DS), contract,
                                                row_rules(contract, DS, same_day_references(contract, raw)))
    return splits


def _split_both_ways(raw: pl.DataFrame, query: pl.LazyFrame, contract, rules) -> SplitResult:
    """The batch split as a frame in memory and as a query (how the flow hands over a large batch: `query` scans
    its raw Parquet). Both must give the same rows in the same order, the same quarantine, counts and nulled
    values; the frame's split is returned."""
    held = split_batch(raw, contract, rules)
    streamed = split_batch(query, contract, rules)
    assert isinstance(streamed.clean, pl.LazyFrame)
    assert_frame_equal(streamed.clean.collect(), held.clean)
    assert_frame_equal(streamed.quarantined, held.quarantined)
    assert_frame_equal(streamed.nulled, held.nulled)
    assert streamed.rule_counts == held.rule_counts
    assert streamed.clean_rows == held.clean_rows == held.clean.height
    return held


def _split_one(path: Path, name: str,
               references: dict[str, list[str]] | None = None) -> tuple[pl.DataFrame, SplitResult]:
    """Read one landing file as `name` and split it, without the rest of the day."""
    contract = CONTRACTS[name]
    raw = pl.from_arrow(read_landing_file(RAW[name], path, _rel(name), "bad-input-run", KEY))
    return raw, _split_both_ways(raw, raw.lazy(), contract, row_rules(contract, DS, references or {}))


def _stage(splits: dict[str, SplitResult], model: str) -> pl.DataFrame:
    spec = MODELS[model]
    frames = [splits[n].clean.lazy() if n in splits else pl.LazyFrame(schema=pl.Schema(RAW[n].arrow_schema))
              for n in spec.inputs]
    return spec.build(*frames, landing_date=DS).collect()


def _edit_ndjson(path: Path, line: int, changes: dict) -> None:
    lines = path.read_text().splitlines()
    record = json.loads(lines[line - 1])
    for key, value in changes.items():
        if value is DROP:
            record.pop(key, None)
        else:
            record[key] = value
    lines[line - 1] = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n")


def _edit_csv(path: Path, line: int, column: str, value: str) -> None:
    """Set one cell (the file's line `line`, header = line 1); the golden CSVs have no quoted cells."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def _edit_first_record(landing: Path, name: str, column: str, value) -> int:
    """Set `column` of the dataset's first record (CSV: line 2, NDJSON: line 1); returns that line."""
    line = 2 if RAW[name].fmt == "csv" else 1
    if RAW[name].fmt == "csv":
        _edit_csv(_file(landing, name), line, column, value)
    else:
        _edit_ndjson(_file(landing, name), line, {column: value})
    return line


def _only_row(frame: pl.DataFrame, row_number: int) -> dict:
    rows = frame.filter(pl.col("_row_number") == row_number).to_dicts()
    assert len(rows) == 1, f"expected exactly one row for line {row_number}, found {len(rows)}"
    return rows[0]


def _row_numbers(frame: pl.DataFrame) -> list[int]:
    return sorted(frame["_row_number"].to_list())


NDJSON_CASE = ("name", "line", "change", "rule_id", "reason")  # edit line `line` of the NDJSON file
CSV_CASE = ("name", "line", "column", "value", "rule_id", "reason")  # set one cell of the CSV file


def _by_rule(names: tuple[str, ...], cases: list[tuple]) -> list:
    """Parametrize cases named by their expected rule id."""
    index = names.index("rule_id")
    return [pytest.param(*case, id=case[index]) for case in cases]




def _assert_only_line_moved(name: str, splits, baseline, line: int) -> None:
    """The edited line went from clean to quarantine; every other line kept its verdict."""
    assert line in _row_numbers(baseline[name].clean), "the test must edit a line that is clean in the golden day"
    assert _row_numbers(splits[name].clean) == [n for n in _row_numbers(baseline[name].clean) if n != line]
    assert _row_numbers(splits[name].quarantined) == sorted(_row_numbers(baseline[name].quarantined) + [line])


def _assert_quarantined(split: SplitResult, name: str, line: int, rule_id: str, reason: str) -> dict:
    row = _only_row(split.quarantined, line)
    assert row["rule_id"] == rule_id
    assert row["failed_rules"] == rule_id
    assert row["reason"] == reason
    assert row["_source_file"] == _rel(name)
    assert row["_row_number"] == line
    assert split.rule_counts[rule_id] >= 1
    return row



__all__ = ['_edit_first_record', 'same_day_references', 'CONTRACTS', 'CSV_CASE', 'DATASETS', 'DROP', 'DS', 'FIXTURES', 'FIXTURE_DATE', 'KEY', 'LandingFileError', 'MODELS', 'NDJSON_CASE', 'Path', 'RAW', 'STAGING_MODELS', 'SplitResult', 'TEST_PII_KEY', '_assert_only_line_moved', '_assert_quarantined', '_by_rule', '_check_day', '_edit_csv', '_edit_ndjson', '_file', '_only_row', '_rel', '_row_numbers', '_split_both_ways', '_split_one', '_stage', 'date', 'duckdb', 'gzip', 'hashlib', 'ingest_dataset', 'json', 'load_contracts', 'pl', 'published_rules', 'pytest', 'read_entry', 'read_landing_file', 'reference_values', 'row_rules', 'scan_raw', 'shutil', 'split_batch', 'uuid']
