"""Landing rows parsed one by one into columns: the decoding, checks and error wording every reader shares (the
per-line NDJSON path, CSV and Parquet exports), and the raw frame they build."""
from __future__ import annotations

import json
import re
from datetime import date, datetime, time
from decimal import Decimal

import numpy as np
import orjson
import polars as pl

from influence_pipeline.schemas.raw import RawDataset
from influence_pipeline.sources.masking import mask_line

_SURROGATE = re.compile("[\udc80-\udcff]")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
#: deepest nesting a line may have: real exports nest a few levels (GA4 event_params, Shopify line items: 3 to 5), and
#: a value nested a thousand levels deep cannot be re-encoded by Python
MAX_NESTING = 64


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


def bad_utf8(text: str) -> int | None:
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


class Columns:
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
    if check_utf8 and (column := bad_utf8(line)) is not None:
        return None, f"not valid UTF-8 (byte at column {column})"
    try:
        record = orjson.loads(line)  # several times faster than json.loads
    except orjson.JSONDecodeError:
        record, error = _standard_decode(line, check_escapes)
        if error is not None:
            return None, error
    if not isinstance(record, dict):
        return None, f"expected a JSON object, found {type(record).__name__}"
    if line.count("[") + line.count("{") > MAX_NESTING and (depth := nesting_depth(line)) > MAX_NESTING:
        return None, f"nested {depth} levels deep (at most {MAX_NESTING} are read)"
    return record, None


def nesting_depth(line: str) -> int:
    """How deep the arrays and objects of a JSON line nest, brackets inside strings aside. Without recursion: a
    line a thousand levels deep decodes, but re-encoding its value would exceed Python's recursion limit."""
    unescaped = line.replace("\\\\", "").replace('\\"', "")  # what remains of a string cannot end it early
    text = np.frombuffer(unescaped.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    outside = np.cumsum(text == ord('"')) % 2 == 0
    steps = np.where(outside & ((text == ord("[")) | (text == ord("{"))), 1,
                     np.where(outside & ((text == ord("]")) | (text == ord("}"))), -1, 0))
    return int(np.cumsum(steps).max(initial=0))


def parse_lines(numbered, dataset: RawDataset, check_utf8: bool, check_escapes: bool) -> Columns:
    """(line number, line) pairs parsed one by one; a line may keep its "\\r"."""
    parsed = Columns(dataset)
    fields = field_takers(parsed)
    for number, line in numbered:
        line = line.removesuffix("\r")
        if not line or line.isspace():
            continue
        record, error = _line_error(line, check_utf8, check_escapes)
        if error is not None:
            parsed.bad(number, error, line)
            continue
        take(fields, record)
        parsed.ok(number)
    return parsed


def field_takers(parsed: Columns) -> list[tuple]:
    return [(parsed.values[f.name].append, f.json_path, f.nested, f.former) for f in parsed.dataset.fields]


def take(fields: list[tuple], record: dict) -> None:
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


def frame_of(parsed: Columns) -> pl.DataFrame:
    return pl.DataFrame({**parsed.values, **parsed.meta},
                        schema={**{n: pl.String for n in parsed.values}, "_row_number": pl.Int64,
                                "_parse_error": pl.String, "_raw_line": pl.String})

