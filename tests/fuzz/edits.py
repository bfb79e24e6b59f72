"""Edits of a landing file's bytes the mutations are made of: one JSON value of one NDJSON record, one CSV cell, or
raw bytes inserted anywhere — falling back to raw bytes when the line picked does not parse."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from random import Random

_RAW = "__fuzz_raw_token__"  # a placeholder string replaced by a raw JSON token after dumping



def lines_of(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def body_index(lines: list[bytes], fmt: str, rng: Random) -> int | None:
    """A random non-blank line (past the header of a CSV), or None."""
    start = 1 if fmt == "csv" else 0
    candidates = [i for i in range(start, len(lines)) if lines[i].strip()]
    return rng.choice(candidates) if candidates else None


def insert(data: bytes, piece: bytes, rng: Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + piece + data[at:]


def _leaves(obj, path=()):
    """Paths to every scalar (or empty container) inside a decoded JSON value."""
    if isinstance(obj, dict) and obj:
        for key, value in obj.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(obj, list) and obj:
        for i, value in enumerate(obj):
            yield from _leaves(value, (*path, i))
    else:
        yield path


def _get(obj, path):
    for step in path:
        obj = obj[step]
    return obj


def _set(obj, path, value):
    if not path:
        return value
    target = obj
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return obj


def edit_json(data: bytes, rng: Random, make: Callable[[object, Random], str], *, raw: bool,
               prefer: Callable[[object], bool] | None = None) -> bytes:
    """Replace one leaf of one NDJSON record by `make(old, rng)`: a raw JSON token when `raw`, else a string; a
    leaf whose value satisfies `prefer` is picked when the record has one."""
    lines = lines_of(data)
    index = body_index(lines, "ndjson", rng)
    if index is None:
        return data
    try:  # a line an earlier mutation broke or nested too deep for Python: the token goes in as raw bytes
        record = json.loads(lines[index])
        paths = list(_leaves(record))
        if prefer is not None:
            paths = [p for p in paths if prefer(_get(record, p))] or paths
        path = rng.choice(paths)
        new = make(_get(record, path), rng)
        record = _set(record, path, _RAW if raw else new)
        text = json.dumps(record, ensure_ascii=rng.random() < 0.5)
    except (ValueError, RecursionError):
        return insert(data, make(None, rng).encode("utf-8", "surrogatepass"), rng)
    if raw:
        text = text.replace(json.dumps(_RAW), new, 1)
    lines[index] = text.encode("utf-8", "surrogatepass")
    return b"\n".join(lines)


def csv_rows(data: bytes) -> list[list[str]] | None:
    try:
        return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error):
        return None


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


def edit_cell(data: bytes, rng: Random, make: Callable[[str | None, Random], str]) -> bytes:
    rows = csv_rows(data)
    if not rows or len(rows) < 2 or not rows[0]:
        return insert(data, make(None, rng).encode("utf-8", "surrogatepass"), rng)
    r = rng.randrange(1, len(rows))
    if not rows[r]:
        return data
    c = rng.randrange(len(rows[r]))
    rows[r][c] = make(rows[r][c], rng)
    return csv_bytes(rows)


def value(data: bytes, fmt: str, rng: Random, tokens: list[str], *, raw: bool = True) -> bytes:
    """One JSON leaf (as a raw token, or a string when not `raw`, or either) or one CSV cell replaced by a token."""
    if fmt == "csv":
        return edit_cell(data, rng, lambda old, r: r.choice(tokens))
    as_raw = raw and rng.random() < 0.7
    return edit_json(data, rng, lambda old, r: r.choice(tokens), raw=as_raw)


def in_text(data: bytes, fmt: str, rng: Random, pieces: list[str]) -> bytes:
    """A piece inserted inside one string value (or cell)."""
    def spliced(old, r: Random) -> str:
        text = old if isinstance(old, str) else "" if old is None else str(old)
        at = r.randrange(len(text) + 1)
        return text[:at] + r.choice(pieces) + text[at:]

    if fmt == "csv":
        return edit_cell(data, rng, spliced)
    return edit_json(data, rng, spliced, raw=False)
