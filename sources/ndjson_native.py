"""Native NDJSON decoding for landing files: DuckDB reads the lines whose result is known to equal the per-line
Python path's (sources/landing.py), each with one json_transform parse; every other line is left to that path, which
decides and words its errors. The result equals the per-line path's value for value (tests compare both on every
fixture and on generated hostile lines).

A line is decoded natively only when it is a valid JSON object that both decoders read alike:
- no trailing comma and no bare nan/inf in any letter case (DuckDB accepts them, Python's json does not);
- at most LONG_LINE bytes (Python refuses nesting past about a thousand levels, DuckDB does not);
- no duplicate key among its top-level keys or the objects a field's path passes through (Python keeps the last,
  DuckDB the first);
- every number a scalar field reads prints as Python prints it (plain integers and plain decimals; exponents and
  tiny or huge magnitudes go to Python). json_transform's text carries no JSON type, so a string shaped like such a
  number goes to Python too;
- no scalar field holds an object or array (nor a string opening with "[" or "{", for the same reason), and no
  nested field holds an object (their JSON text would need the same check inside them); a nested array of plain
  values is fine.
"""
from __future__ import annotations

import json
import os
import threading
from collections import Counter

import duckdb
import numpy as np
import orjson
import polars as pl
import pyarrow as pa

from influence_pipeline.schemas.raw import RawDataset
from influence_pipeline.sources.lines import MAX_NESTING

#: below this size the per-line path is faster than starting a DuckDB query
NATIVE_MIN_BYTES = 1 << 20
#: bytes of a landing file read at a time: memory holds this much of the file and its decoded rows, however large the
#: file. Measured on a 987 MB day: 32 MiB pieces peak at 0.67 GiB, 128 MiB at 1.3 GiB, for the same CPU time
PIECE_BYTES = 32 << 20
#: bytes of lines per DuckDB query: bounds its working memory (both of DuckDB's threads work inside one query); above
#: PIECE_BYTES, so that a piece (and the partial line carried into it) is one query, not one and a sliver
CHUNK_BYTES = 64 << 20
#: newlines are found in windows of this size: numpy scans a window in cache, a gigabyte at once three times slower
_WINDOW = 16 << 20
# What DuckDB accepts and Python's json refuses, found without parsing: a trailing comma (`,}`, `, ]`), and a bare
# nan or inf in any letter case where a value starts (Python takes only NaN, Infinity, -Infinity, and those print
# otherwise anyway). A string that merely looks so sends its line to the per-line path: slower, never wrong.
_LENIENT = r",[ \t\r\n]*[}\]]|[:\[,][ \t\r\n]*-?[ \t\r\n]*[nNiI][aAnN][nNfF]"
LONG_LINE = 2000
# A DOUBLE both print alike: Python's repr switches to an exponent at 1e16 and below 1e-4 where DuckDB prints the
# digits, and an integer past 64 bits is a float to orjson (1.2345678901234568e+20) but its digits to DuckDB.
_PLAIN_NUMBER = r"^-?(?:[1-9][0-9]{0,14}\.[0-9]+|0\.0|0\.0{0,3}[1-9][0-9]*)$"
# Inside a nested value's JSON text: an object (its keys would need the duplicate check), a double DuckDB prints
# otherwise, an integer of 19 digits or more (past 64 bits orjson reads a float, DuckDB keeps the digits), and a
# \u escape (DuckDB writes a control character's hex in upper case, `\u000F`, where Python writes `\u000f`).
_ODD_NESTED = r"[{]|[0-9][eE][-+]?[0-9]|[0-9]{16,}\.|(?-u:\b)0\.0000|[0-9]{19,}|\\u"
# A scalar field's text that may be a number DuckDB printed (json_transform's VARCHAR has no type beside it), and the
# forms both print alike: integers of up to 18 digits (past 64 bits orjson reads a float) and _PLAIN_NUMBER.
_NUMBER_SHAPED = r"^-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$"
_TRUSTED_NUMBER = r"^-?(?:0|[1-9][0-9]{0,17})$|" + _PLAIN_NUMBER
# A scalar field's text that opens an object or array
_OPENS_NESTED = r"^[\[{]"
# A scalar field's text that needs the closer look of _printed_alike: an object or array, or number-shaped. One regex
# over each value finds the few such rows; the exact ones run only on those.
_SUSPECT = _OPENS_NESTED + "|" + _NUMBER_SHAPED
#: lines whose top-level key lists become the query's fast path (a sample: any key list without a repeat is right)
_KEY_SAMPLE = 1000
_DATABASE: tuple[int, duckdb.DuckDBPyConnection] | None = None
_DATABASE_LOCK = threading.Lock()


def _path(keys: tuple[str, ...]) -> str:
    # keys are contract names ([A-Za-z0-9_]): quoting keeps DuckDB from reading them as path syntax
    return "$." + ".".join(f'"{key}"' for key in keys)


def _spec(dataset: RawDataset) -> dict:
    """The json_transform structure of a dataset's paths: scalar fields as VARCHAR (text as is, other values as
    DuckDB prints them), nested fields as JSON text."""
    spec: dict = {}
    for f in dataset.fields:
        for path in f.json_paths:
            node = spec
            for key in path[:-1]:
                node = node.setdefault(key, {})
                if not isinstance(node, dict):
                    raise ValueError(f"{dataset.name}.{f.name}: {'.'.join(path)} passes through a scalar field")
            if isinstance(node.get(path[-1]), dict):
                raise ValueError(f"{dataset.name}.{f.name}: {'.'.join(path)} is also a parent of another path")
            node[path[-1]] = "JSON" if f.nested else "VARCHAR"
    return spec


def _query(dataset: RawDataset) -> str:
    """The decoding query over a registered `lines` table (_row_number, line, distrusted): one json_transform parse
    per line gives every field; json_keys checks the duplicate keys. Paths and names come from the contract, not from
    data."""
    selects = []
    for f in dataset.fields:
        parts = ["r." + ".".join(f'"{key}"' for key in path) for path in f.json_paths]
        value = parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"
        selects.append(f'{value} AS "{f.name}"')
    parents = sorted({_path(p[:k]) for f in dataset.fields for p in f.json_paths for k in range(1, len(p))})
    # the key lists most lines share (parameter $1, checked in Python) spare most lines the costly distinct count
    keys_ok = ["CASE WHEN list_contains($1::VARCHAR[][], k) THEN true ELSE len(k) = len(list_distinct(k)) END"] + [
        f"coalesce(len(json_keys(line, '{p}')) = len(list_distinct(json_keys(line, '{p}'))), true)" for p in parents]
    return f"""
        WITH objects AS (SELECT _row_number, line FROM lines WHERE NOT distrusted AND json_valid(line)),
        parsed AS (
            SELECT _row_number, json_keys(line) AS k, {" AND ".join(keys_ok[1:]) or "true"} AS parents_ok,
                   json_transform(line, '{json.dumps(_spec(dataset), separators=(",", ":"))}') AS r
            FROM objects)
        SELECT _row_number, {", ".join(selects)}
        FROM parsed
        WHERE {keys_ok[0]} AND parents_ok"""


def _printed_alike(frame: pl.DataFrame, dataset: RawDataset) -> pl.Series:
    """Per decoded row, whether every value reads as the per-line path renders it: no object or array in a scalar
    field (DuckDB's text of it skips the nested checks) and no number DuckDB may print otherwise; in a nested field,
    none of _ODD_NESTED. A string that merely looks so sends its line to the per-line path: slower, never wrong."""
    suspect = frame.select(pl.any_horizontal(pl.lit(False), *[
        pl.col(f.name).str.contains(_ODD_NESTED if f.nested else _SUSPECT).fill_null(False)
        for f in dataset.fields])).to_series()
    if not suspect.any():
        return ~suspect
    odd = [pl.col(f.name).str.contains(_ODD_NESTED) if f.nested else
           pl.col(f.name).str.contains(_OPENS_NESTED)
           | (pl.col(f.name).str.contains(_NUMBER_SHAPED) & ~pl.col(f.name).str.contains(_TRUSTED_NUMBER))
           for f in dataset.fields]
    alike = frame.filter(suspect).select(~pl.any_horizontal(pl.lit(False), *[o.fill_null(False) for o in odd]))
    return (~suspect).scatter(suspect.arg_true(), alike.to_series())


def _common_keys(data: bytes, bounds: np.ndarray, distrusted: np.ndarray) -> list[list[str]]:
    """The top-level key lists (in order) most common among the first trusted lines. orjson keeps one of repeated
    keys, so a list here never repeats one, and a line that does (json_keys keeps every one) never matches it."""
    counts: Counter = Counter()
    for at in np.flatnonzero(~distrusted[:_KEY_SAMPLE]):
        try:
            record = orjson.loads(data[bounds[at]:bounds[at + 1]])
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict):
            counts[tuple(record)] += 1
    return [list(keys) for keys, _ in counts.most_common(8)]


def _cursor() -> duckdb.DuckDBPyConnection:
    """A connection of its own to this process's one in-memory database: opening a database costs some 25 ms, a
    piece's decoding (30 a gigabyte), a cursor nothing; what a cursor registers only it sees, so threads decoding
    pieces side by side keep their lines apart. A forked child opens its own: a database does not survive a fork."""
    global _DATABASE
    with _DATABASE_LOCK:
        if _DATABASE is None or _DATABASE[0] != os.getpid():
            _DATABASE = (os.getpid(), duckdb.connect())
        return _DATABASE[1].cursor()


def _line_chunks(data: bytes, raw: np.ndarray, start: int):
    """Line bounds (start of each line, then the end of the last) of consecutive pieces of about CHUNK_BYTES, each
    cut after a line break."""
    position = start
    while position < raw.size:
        stop = min(position + CHUNK_BYTES, raw.size)
        ends = np.concatenate([np.flatnonzero(raw[at:min(at + _WINDOW, stop)] == 10) + (at + 1)
                               for at in range(position, stop, _WINDOW)])
        if stop == raw.size:  # the last piece: its last line may lack a line break
            if ends.size == 0 or ends[-1] != raw.size:
                ends = np.r_[ends, raw.size]
        elif ends.size == 0:  # one line longer than a piece: it will be distrusted as long
            found = data.find(b"\n", stop)
            ends = np.array([raw.size if found < 0 else found + 1])
        yield np.r_[position, ends].astype(np.int64)
        position = int(ends[-1])


def _distrusted(raw: np.ndarray, bounds: np.ndarray, lines: pa.LargeStringArray) -> np.ndarray:
    """Per line, whether DuckDB may read it otherwise than Python: long, not opening with "{" (valid JSON that does
    is an object; leading blanks go to the per-line path), holding more "[" and "{" than MAX_NESTING (it may nest
    that deep, which only the per-line path measures), or lenient JSON. Polars runs both regexes, side by side, several
    times faster than DuckDB's regexp_matches."""
    checks = pl.DataFrame({"line": pl.from_arrow(lines)}).select(
        pl.col("line").str.contains(_LENIENT).fill_null(False).alias("lenient"),
        (pl.col("line").str.count_matches(r"[\[{]") > MAX_NESTING).fill_null(False).alias("deep"))
    return ((np.diff(bounds) > LONG_LINE) | (raw[bounds[:-1]] != ord("{"))
            | checks["lenient"].to_numpy() | checks["deep"].to_numpy())


def decode_trusted(data: bytes, dataset: RawDataset, start: int = 0,
                   first: int = 1) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """The lines of `data[start:]` (valid UTF-8; the first is line number `first` of its file) decoded natively:
    their raw fields as text plus `_row_number`; and the other lines, numbered, without their line break, for the
    per-line path."""
    raw = np.frombuffer(data, dtype=np.uint8)
    buffer = pa.py_buffer(data)
    query = _query(dataset)
    frames, left = [], []
    with _cursor() as con:
        for bounds in _line_chunks(data, raw, start):
            count = bounds.size - 1
            numbers = np.arange(first, first + count, dtype=np.int64)
            lines = pa.LargeStringArray.from_buffers(count, pa.py_buffer(bounds), buffer)
            distrusted = _distrusted(raw, bounds, lines)
            con.register("lines", pa.table({"_row_number": numbers, "line": lines, "distrusted": distrusted}))
            good = con.sql(query, params=[_common_keys(data, bounds, distrusted)]).pl()
            con.unregister("lines")
            good = good.filter(_printed_alike(good, dataset))
            frames.append(good)
            for number in np.setdiff1d(numbers, good["_row_number"].to_numpy(), assume_unique=True):
                at = int(number - first)
                line = data[bounds[at]:bounds[at + 1]].decode("utf-8").removesuffix("\n")
                left.append((int(number), line))
            first += count
    if not frames:  # an empty file
        frames.append(pl.DataFrame(schema={"_row_number": pl.Int64, **{f.name: pl.String for f in dataset.fields}}))
    return pl.concat(frames), left
