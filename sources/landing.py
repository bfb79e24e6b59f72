"""Readers for landing files: one export file in, one raw Arrow table out (values as delivered, PII hashed)."""
from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from pathlib import Path

import polars as pl
import pyarrow as pa

from schemas.raw import RawDataset
from transforms.pii import pseudonymise

_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]+(\.[\w-]+)+")
_IPV4 = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")
_SURROGATE = re.compile("[\udc80-\udcff]")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_IPV6 = re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{1,4})*\b")
# Cut-off values can only sit at the end of a truncated line.
_PARTIAL_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w.-]*$")
_PARTIAL_IP = re.compile(r"\b\d{1,3}(?:\.\d{0,3}){1,3}$")
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


def _mask(line: str, dataset: RawDataset) -> str:
    """An unparseable line is kept for the quarantine, but PII in it must not pass landing in clear: the values of
    the dataset's PII keys, and anything that looks like an e-mail or an IP address, are masked. For a CSV row with
    PII columns the fields cannot be trusted to be where the header says, so only its non-PII shape is kept."""
    # Truncate first: masking regexes on a megabyte line would stall ingestion.
    printable = line[:2000].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    pii_keys = {f.json_path[-1] for f in dataset.fields if f.pii}
    if pii_keys and dataset.fmt == "csv":
        return f"<{len(printable)} characters; not kept: this file holds personal data>"
    for key in pii_keys:
        # A truncated line may end inside the value: mask to the closing quote or to the end of the line.
        printable = re.sub(rf'("{re.escape(key)}"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|$)', r'\1"<pii>"', printable)
    if pii_keys:
        printable = _PARTIAL_IP.sub("<ip>", _PARTIAL_EMAIL.sub("<email>", printable))
    return _IPV6.sub("<ip>", _IPV4.sub("<ip>", _EMAIL.sub("<email>", printable)))


def _bad_utf8(text: str) -> int | None:
    """Column (1-based) of the first byte that was not UTF-8, or None. Undecodable bytes arrive as lone surrogates
    (surrogateescape), so one bad line does not sink the whole file."""
    match = _SURROGATE.search(text)
    return None if match is None else match.start() + 1


def _scalar_text(value: object, nested: bool = False) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and not nested:
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _dig(record: dict, path: tuple[str, ...]) -> object:
    value: object = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _parse_ndjson(text: str, dataset: RawDataset) -> list[tuple[int, dict[str, str | None] | None, str | None, str]]:
    rows = []
    # Split on "\n" only: str.splitlines() would also break at U+2028 and friends, which JSON allows inside values.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        if (column := _bad_utf8(line)) is not None:
            rows.append((number, None, f"not valid UTF-8 (byte at column {column})", line))
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append((number, None, f"malformed JSON: {exc.msg} at column {exc.colno}", line))
            continue
        except (ValueError, RecursionError) as exc:  # 5 000-digit numbers, nesting thousands deep
            rows.append((number, None, f"malformed JSON: {str(exc)[:120]}", line))
            continue
        if _ESCAPED_SURROGATE.search(line) and _has_lone_surrogate(record):
            rows.append((number, None, "malformed JSON: a \\u escape encodes half a UTF-16 pair", line))
            continue
        if not isinstance(record, dict):
            rows.append((number, None, f"expected a JSON object, found {type(record).__name__}", line))
            continue
        rows.append((number, {f.name: _scalar_text(_dig(record, f.json_path), f.nested) for f in dataset.fields}, None, line))
    return rows


def _parse_csv(text: str, dataset: RawDataset, rel_path: str) -> list[tuple[int, dict[str, str | None] | None, str | None, str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _csv_rows(reader, dataset, rel_path)
    except csv.Error as exc:
        raise LandingFileError(f"{rel_path}: unreadable CSV near line {reader.line_num}: {exc}") from None


def _csv_rows(reader, dataset: RawDataset, rel_path: str) -> list:
    header = next(reader, None)
    if header is None:
        return []
    header = [h.strip() for h in header]
    missing = [f.name for f in dataset.fields if f.name not in header]
    if missing:
        raise LandingFileError(f"{rel_path}: header lacks the column(s) {', '.join(missing)} (found: {', '.join(header)})")
    index = {name: i for i, name in enumerate(header)}
    rows = []
    while True:
        number = reader.line_num + 1  # a record spanning lines is known by its first line
        values = next(reader, None)
        if values is None:
            break
        if not values:
            continue
        if len(values) != len(header):
            problem = f"expected {len(header)} fields, found {len(values)}"
            rows.append((number, None, problem, ",".join(values)))
            continue
        broken = next((header[i] for i, v in enumerate(values) if _bad_utf8(v) is not None), None)
        if broken is not None:
            rows.append((number, None, f"field {broken} is not valid UTF-8", ",".join(values)))
            continue
        rows.append((number, {f.name: (values[index[f.name]] or None) for f in dataset.fields}, None, ""))
    return rows


def read_landing_file(dataset: RawDataset, path: Path, rel_path: str, run_id: str, pii_key: bytes) -> pa.Table:
    """Read one landing file (optionally gzipped) into the raw table of `dataset`. Malformed lines — bad JSON, wrong
    field count, bytes that are not UTF-8 — become rows with `_parse_error` set and the (masked) line in `_raw_line`,
    so nothing is dropped; a file that cannot be read at all (truncated gzip, CSV header lacking a column) raises
    LandingFileError naming it."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise LandingFileError(f"{rel_path}: truncated or corrupt gzip ({exc}); ask for the file again") from None
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    parsed = _parse_ndjson(text, dataset) if dataset.fmt == "ndjson" else _parse_csv(text, dataset, rel_path)
    columns: dict[str, list] = {f.name: [] for f in dataset.fields}
    meta: dict[str, list] = {"_row_number": [], "_parse_error": [], "_raw_line": []}
    for number, record, error, line in parsed:
        for name in columns:
            columns[name].append(record[name] if record else None)
        meta["_row_number"].append(number)
        meta["_parse_error"].append(error)
        meta["_raw_line"].append(_mask(line, dataset) if error else None)
    frame = pl.DataFrame(
        {**columns, **meta}, schema={**{n: pl.String for n in columns}, "_row_number": pl.Int64,
                                     "_parse_error": pl.String, "_raw_line": pl.String},
    ).with_columns(_source_file=pl.lit(rel_path), _run_id=pl.lit(run_id))
    pii = {f.name: f.column for f in dataset.fields if f.pii}
    if pii:
        frame = pseudonymise(frame, pii, pii_key)
    return frame.select(dataset.arrow_schema.names).to_arrow().cast(dataset.arrow_schema)
