"""Reader of path-aggregate files (ChannelAttribution's format): one file in, one path-aggregate frame out.

The file is `;`-separated text with the header `path;total_conversions;total_conversion_value;total_null` (other
columns are ignored), one journey shape per line: `A > B>C;2;130.5;40`. Channels in `path` are joined by `sep`,
with optional spaces around it; channel names are trimmed.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import polars as pl

from influence_pipeline.transforms.attribution.paths import PATH_SCHEMA

# file column → frame column; a count may not be negative, a value may (refunds)
COLUMNS = {"path": "path", "total_conversions": "conversions", "total_conversion_value": "value",
           "total_null": "nulls"}
COUNTS = ("total_conversions", "total_null")


class PathFileError(ValueError):
    """A path file cannot be read: names the file, the line and the field, and what is wrong."""


def read_path_file(path: Path, sep: str = ">") -> pl.DataFrame:
    """A path-aggregate file → a frame with `path` (list[str]), `conversions`, `value`, `nulls` (f64), one row per
    line in file order (identical paths are not merged here). Raises PathFileError on the first bad line."""
    if not sep:
        raise ValueError("the channel separator must not be empty")
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return _parse(path, csv.reader(handle, delimiter=";"), sep)
    except OSError as exc:
        raise PathFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise PathFileError(f"{path}: is not UTF-8 text (byte {exc.start})") from None
    except csv.Error as exc:
        raise PathFileError(f"{path}: is not a readable ;-separated file ({exc})") from None


def _parse(path: Path, reader, sep: str) -> pl.DataFrame:
    header = next(reader, None)
    if header is None:
        raise PathFileError(f"{path}, line 1: the file is empty; expected the header {';'.join(COLUMNS)}")
    names = [name.strip() for name in header]
    missing = [name for name in COLUMNS if name not in names]
    if missing:
        raise PathFileError(f"{path}, line 1: missing column {', '.join(missing)} "
                            f"(the header must hold {';'.join(COLUMNS)}, separated by ';')")
    where = {name: names.index(name) for name in COLUMNS}
    rows: dict[str, list] = {column: [] for column in COLUMNS.values()}
    for fields in reader:
        line = reader.line_num
        if not any(field.strip() for field in fields):
            continue  # blank line
        for name, index in where.items():
            if index >= len(fields):
                raise PathFileError(f"{path}, line {line}: field {name} is missing "
                                    f"(the line has {len(fields)} fields, separated by ';')")
        rows["path"].append(_channels(path, line, fields[where["path"]], sep))
        for name in ("total_conversions", "total_conversion_value", "total_null"):
            rows[COLUMNS[name]].append(_number(path, line, name, fields[where[name]]))
    return pl.DataFrame(rows, schema=PATH_SCHEMA)


def _channels(path: Path, line: int, text: str, sep: str) -> list[str]:
    if not text.strip():
        raise PathFileError(f"{path}, line {line}: field path is empty")
    channels = [channel.strip() for channel in text.split(sep)]
    if not all(channels):
        raise PathFileError(f"{path}, line {line}: field path {text!r} has an empty channel name "
                            f"(channels are separated by {sep!r})")
    return channels


def _number(path: Path, line: int, name: str, text: str) -> float:
    try:
        number = float(text.strip())
    except ValueError:
        raise PathFileError(f"{path}, line {line}: field {name} is {text!r}, not a number") from None
    if not math.isfinite(number):
        raise PathFileError(f"{path}, line {line}: field {name} is {text!r}, not a finite number")
    if name in COUNTS and number < 0:
        raise PathFileError(f"{path}, line {line}: field {name} is {text!r}, a negative count")
    return number
