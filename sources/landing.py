"""Readers for landing files: one export file in, one raw Arrow table out (values as delivered, PII hashed)."""
from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from influence_pipeline.schemas.raw import RawDataset
from influence_pipeline.sources import ndjson_native
from influence_pipeline.sources.masking import mask_line
from influence_pipeline.transforms.pii import pseudonymise

_SURROGATE = re.compile("[\udc80-\udcff]")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
csv.field_size_limit(1 << 28)  # a stray quote can make the rest of a big file one cell; read it, then quarantine


class LandingFileError(ValueError):
    """A landing file cannot be read at all (not a single row of it): names the file and what is wrong."""


def _has_lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _bad_utf8(text: str) -> int | None:
    """Column (1-based) of the first byte that was not UTF-8, or None. Undecodable bytes arrive as lone surrogates
    (surrogateescape), so one bad line does not sink the whole file."""
    match = _SURROGATE.search(text)
    return None if match is None else match.start() + 1


def _dig(record: dict, path: tuple[str, ...]) -> object:
    value: object = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


class _Columns:
    """A landing file parsed column by column: one list per raw field, plus line number, parse error and the (masked)
    line of each row. Built directly as columns, since a per-row dict costs more than the JSON decoding at millions
    of lines."""

    def __init__(self, dataset: RawDataset):
        self.dataset = dataset
        self.values: dict[str, list] = {f.name: [] for f in dataset.fields}
        self.meta: dict[str, list] = {"_row_number": [], "_parse_error": [], "_raw_line": []}

    def bad(self, number: int, error: str, line: str) -> None:
        for column in self.values.values():
            column.append(None)
        self.meta["_row_number"].append(number)
        self.meta["_parse_error"].append(error)
        self.meta["_raw_line"].append(mask_line(line, self.dataset))

    def good(self, number: int, record: dict[str, str | None]) -> None:
        for name, column in self.values.items():
            column.append(record[name])
        self.ok(number)

    def ok(self, number: int) -> None:
        self.meta["_row_number"].append(number)
        self.meta["_parse_error"].append(None)
        self.meta["_raw_line"].append(None)


def _standard_decode(line: str, check_escapes: bool) -> tuple[object, str | None]:
    """The standard library's decoding of a line orjson refused (NaN, integers past 64 bits, half surrogates): it
    decides, and words the error."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"malformed JSON: {exc.msg} at column {exc.colno}"
    except (ValueError, RecursionError) as exc:  # 5 000-digit numbers, nesting thousands deep
        return None, f"malformed JSON: {str(exc)[:120]}"
    if check_escapes and _ESCAPED_SURROGATE.search(line) and _has_lone_surrogate(record):
        return None, "malformed JSON: a \\u escape encodes half a UTF-16 pair"
    return record, None


def _line_error(line: str, check_utf8: bool, check_escapes: bool) -> tuple[object, str | None]:
    """The decoded JSON object of a line, or why it is not one."""
    if check_utf8 and (column := _bad_utf8(line)) is not None:
        return None, f"not valid UTF-8 (byte at column {column})"
    try:
        record = orjson.loads(line)  # several times faster than json.loads
    except orjson.JSONDecodeError:
        record, error = _standard_decode(line, check_escapes)
        if error is not None:
            return None, error
    if not isinstance(record, dict):
        return None, f"expected a JSON object, found {type(record).__name__}"
    return record, None


def _parse_ndjson(text: str, dataset: RawDataset, valid_utf8: bool) -> _Columns:
    # Per-line checks that cannot find anything in this text are skipped: no undecodable bytes when the whole file
    # decoded strictly, no escaped half surrogate without any \u escape.
    # Split on "\n" only: str.splitlines() would also break at U+2028 and friends, which JSON allows inside values.
    return _parse_lines(enumerate(text.split("\n"), start=1), dataset, not valid_utf8, "\\u" in text)


def _parse_lines(numbered, dataset: RawDataset, check_utf8: bool, check_escapes: bool) -> _Columns:
    """(line number, line) pairs parsed one by one; a line may keep its "\\r"."""
    parsed = _Columns(dataset)
    fields = _field_takers(parsed)
    for number, line in numbered:
        line = line.removesuffix("\r")
        if not line or line.isspace():
            continue
        record, error = _line_error(line, check_utf8, check_escapes)
        if error is not None:
            parsed.bad(number, error, line)
            continue
        _take(fields, record)
        parsed.ok(number)
    return parsed


def _field_takers(parsed: _Columns) -> list[tuple]:
    return [(parsed.values[f.name].append, f.json_path, f.nested, f.former) for f in parsed.dataset.fields]


def _take(fields: list[tuple], record: dict) -> None:
    """Append each field's value of one decoded record: text as is, anything else as compact JSON text."""
    for append, path, nested, former in fields:
        value = record.get(path[0]) if len(path) == 1 else _dig(record, path)
        if value is None and former:  # a line in an earlier landing format
            value = next((v for p in former if (v := _dig(record, p)) is not None), None)
        if value is None or (not nested and type(value) is str):
            append(value)
        elif not nested and isinstance(value, _TYPED):  # a typed Parquet column: its text, as a CSV cell holds it
            append(_json_default(value))
        else:
            append(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default))


#: Parquet's typed values that JSON has no type for (NDJSON lines never hold them)
_TYPED = (datetime, date, time, Decimal, bytes)


def _json_default(value: object) -> object:
    """Parquet's typed values that JSON has no type for: timestamps and dates as ISO 8601, decimals and bytes as
    text (NDJSON lines never hold them)."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)  # Decimal


def _parse_parquet(path: Path, dataset: RawDataset, rel_path: str) -> _Columns:
    """A Parquet export (BigQuery's `bq extract --destination_format PARQUET`): each row is read like an NDJSON line,
    by the same field paths (nested records are structs, repeated fields lists), numbered from 1. Only the columns
    the contract reads are decoded."""
    parsed = _Columns(dataset)
    fields = _field_takers(parsed)
    try:
        source = pq.ParquetFile(path)
        wanted = {f.json_path[0] for f in dataset.fields} | {p[0] for f in dataset.fields for p in f.former}
        columns = [name for name in source.schema_arrow.names if name in wanted]
        number = 0
        for batch in source.iter_batches(batch_size=50_000, columns=columns):
            for record in batch.to_pylist():
                number += 1
                _take(fields, record)
                parsed.ok(number)
    except (pa.ArrowException, OSError) as exc:
        raise LandingFileError(f"{rel_path}: not a readable Parquet file ({str(exc)[:200]}); ask for the file again") \
            from None
    return parsed


def _parse_csv(text: str, dataset: RawDataset, rel_path: str) -> _Columns:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _csv_rows(reader, dataset, rel_path)
    except csv.Error as exc:
        raise LandingFileError(f"{rel_path}: unreadable CSV near line {reader.line_num}: {exc}") from None


def _csv_rows(reader, dataset: RawDataset, rel_path: str) -> _Columns:
    parsed = _Columns(dataset)
    header = next(reader, None)
    if header is None:
        return parsed
    header = [h.strip() for h in header]
    # A column a later landing format added (the contract's addedIn) may be absent from a file in the earlier shape.
    # A column an earlier format named otherwise (formerNames) is read under its old name.
    index = {name: i for i, name in enumerate(header)}
    column = {f.name: next((index[h] for h in f.headers if h in index), None) for f in dataset.fields}
    missing = [f.name for f in dataset.fields if column[f.name] is None and f.added_in is None]
    if missing:
        raise LandingFileError(f"{rel_path}: header lacks the column(s) {', '.join(missing)} (found: {', '.join(header)})")
    while True:
        number = reader.line_num + 1  # a record spanning lines is known by its first line
        values = next(reader, None)
        if values is None:
            break
        if not values:
            continue
        if len(values) != len(header):
            parsed.bad(number, f"expected {len(header)} fields, found {len(values)}", ",".join(values))
            continue
        broken = next((header[i] for i, v in enumerate(values) if _bad_utf8(v) is not None), None)
        if broken is not None:
            parsed.bad(number, f"field {broken} is not valid UTF-8", ",".join(values))
            continue
        parsed.good(number, {name: None if i is None else (values[i] or None) for name, i in column.items()})
    return parsed


def read_landing_file(dataset: RawDataset, path: Path, rel_path: str, run_id: str, pii_key: bytes) -> pa.Table:
    """Read one landing file (optionally gzipped; an NDJSON dataset's file may also come as Parquet) into the raw
    table of `dataset`. Malformed lines — bad JSON, wrong
    field count, bytes that are not UTF-8 — become rows with `_parse_error` set and the (masked) line in `_raw_line`,
    so nothing is dropped; a file that cannot be read at all (truncated gzip, CSV header lacking a column) raises
    LandingFileError naming it."""
    if path.suffix == ".parquet":
        return _to_table(_parse_parquet(path, dataset, rel_path), dataset, rel_path, run_id, pii_key)
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise LandingFileError(f"{rel_path}: truncated or corrupt gzip ({exc}); ask for the file again") from None
    if dataset.fmt == "ndjson" and len(data) >= ndjson_native.NATIVE_MIN_BYTES:
        frame = _read_ndjson_natively(data, 3 if data.startswith(b"\xef\xbb\xbf") else 0, dataset)
        if frame is not None:
            return _to_table(frame, dataset, rel_path, run_id, pii_key)
    try:
        text, valid_utf8 = data.decode("utf-8"), True
    except UnicodeDecodeError:  # keep the bad bytes as lone surrogates: only their lines are quarantined
        text, valid_utf8 = data.decode("utf-8", errors="surrogateescape"), False
    text = text.removeprefix("\ufeff")
    if dataset.fmt == "ndjson":
        parsed = _parse_ndjson(text, dataset, valid_utf8)
    else:
        parsed = _parse_csv(text, dataset, rel_path)
    return _to_table(parsed, dataset, rel_path, run_id, pii_key)


def _read_ndjson_natively(data: bytes, start: int, dataset: RawDataset) -> pl.DataFrame | None:
    """The rows of `data[start:]`: the lines DuckDB can be trusted with decoded natively, the rest line by line here,
    in line order. None when the file is not valid UTF-8 (the per-line path then finds the bad lines)."""
    try:  # Arrow checks the bytes in place; decoding them would copy the file
        pa.LargeStringArray.from_buffers(1, pa.array([start, len(data)], pa.int64()).buffers()[1],
                                         pa.py_buffer(data)).validate(full=True)
    except pa.ArrowInvalid:
        return None
    native, left = ndjson_native.decode_trusted(data, dataset, start)
    rest = _frame(_parse_lines(left, dataset, False, True))
    native = native.with_columns(_parse_error=pl.lit(None, pl.String), _raw_line=pl.lit(None, pl.String))
    native = native.select(rest.columns).cast(rest.schema)
    # DuckDB keeps insertion order, so a clean file skips a full sort (a copy of every row on the hot path)
    if not left and native["_row_number"].is_sorted():
        return native
    return pl.concat([native, rest]).sort("_row_number")


def _frame(parsed: _Columns) -> pl.DataFrame:
    return pl.DataFrame({**parsed.values, **parsed.meta},
                        schema={**{n: pl.String for n in parsed.values}, "_row_number": pl.Int64,
                                "_parse_error": pl.String, "_raw_line": pl.String})


def _to_table(parsed: _Columns | pl.DataFrame, dataset: RawDataset, rel_path: str, run_id: str,
              pii_key: bytes) -> pa.Table:
    frame = parsed if isinstance(parsed, pl.DataFrame) else _frame(parsed)
    frame = frame.with_columns(_source_file=pl.lit(rel_path), _run_id=pl.lit(run_id))
    pii = {f.name: f.column for f in dataset.fields if f.pii}
    if pii:
        frame = pseudonymise(frame, pii, pii_key)
    return frame.select(dataset.arrow_schema.names).to_arrow().cast(dataset.arrow_schema)
