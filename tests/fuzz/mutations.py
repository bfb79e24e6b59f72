"""Mutations of one landing file: bytes of an NDJSON or CSV file in, hostile or careless bytes out. Each mutation is
`mutate(data, fmt, rng) -> bytes`, deterministic for a given random generator; structured ones edit one JSON value or
CSV cell and fall back to raw bytes when the line they picked does not parse."""
from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from random import Random

from tests.fuzz.edits import (
    body_index,
    csv_bytes,
    csv_rows,
    edit_cell,
    edit_json,
    in_text,
    insert,
    lines_of,
    value,
)

Mutation = Callable[[bytes, str, Random], bytes]

HUGE = ["1e309", "-1e309", "99999999999999999999999999999", "1e16", "9223372036854775808", "-9223372036854775809",
        "1.7976931348623157e308", "4.9e-324", "123456789012345678901234567890.5"]
NON_FINITE = ["NaN", "Infinity", "-Infinity", "nan", "inf", "-inf", "+Infinity"]
WRONG_TYPES = ["[]", "{}", "true", "false", "null", "0", '"text"', "[1, 2]", '{"a": 1}', '""', '" "', "-0", "0.0"]
WRONG_CELLS = ["abc", "", " ", "true", "[1]", "{}", "null", "N/A", "-", "\t"]
SHORTHAND = ["12,5K", "1.2M", "1 234", "12.5k", "1,234", "€59.90", "59,90", "0x1F", "+5", "1_000", "٣٤", "１２"]
DATES = ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59Z", "2026-13-45T00:00:00Z", "1969-12-31T23:59:59Z",
         "2026-11-02T25:61:61Z", "275760-09-13T00:00:00Z", "-0001-01-01", "2026-02-30", "0000-00-00 00:00:00",
         "1700000000", "2026-11-02T10:00:00+25:00", "2026-11-02", "02/11/2026", "1900-01-01T00:00:00Z", "now"]
BAD_UTF8 = [b"\xff", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\xfe\xff"]
EMOJI = ["😀", "👩‍👩‍👧‍👦", "🏳️‍🌈", "\u202e", "Z\u0351\u0360", "\U0001f4a9" * 50]
CONTROL = ["\x1b[31m", "\u2028", "\x0b", "\x1c", "\x7f", "\u0085", "\ufeff"]
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}")


# ---------------------------------------------------------------------------------------------------- mutations


def byte_flip(data: bytes, fmt: str, rng: Random) -> bytes:
    """Flip one to eight random bits anywhere: a disk or transfer error."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8) if buf else 0):
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    return bytes(buf)


def truncate(data: bytes, fmt: str, rng: Random) -> bytes:
    """Cut the file at a random byte: an upload that stopped."""
    return data[:rng.randrange(len(data))] if data else data


def huge_number(data: bytes, fmt: str, rng: Random) -> bytes:
    """A value or cell beyond any column's range: 1e309, 2^63, thirty digits."""
    return value(data, fmt, rng, HUGE)


def nan_infinity(data: bytes, fmt: str, rng: Random) -> bytes:
    """NaN or ±Infinity, bare (as Python's json writes them) or quoted."""
    return value(data, fmt, rng, NON_FINITE)


def deep_nesting(data: bytes, fmt: str, rng: Random) -> bytes:
    """A value nested 50 to 100 000 levels deep."""
    depth = rng.choice([50, 999, 1000, 3000, 100_000])
    token = "[" * depth + "]" * depth if rng.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth
    return value(data, fmt, rng, [token])


def wrong_type(data: bytes, fmt: str, rng: Random) -> bytes:
    """A value of another JSON type (list, object, boolean, null), or a cell of text where a number goes."""
    return value(data, fmt, rng, WRONG_CELLS if fmt == "csv" else WRONG_TYPES)


def nul(data: bytes, fmt: str, rng: Random) -> bytes:
    """NUL characters between bytes or inside a value."""
    if rng.random() < 0.4:
        return insert(data, b"\x00" * rng.randint(1, 3), rng)
    return in_text(data, fmt, rng, ["\x00", "a\x00b", "\x00" * 10])


def invalid_utf8(data: bytes, fmt: str, rng: Random) -> bytes:
    """Bytes that are no UTF-8, or a lone surrogate written as a JSON escape."""
    if fmt == "ndjson" and rng.random() < 0.3:  # a lone surrogate written as a JSON escape
        return edit_json(data, rng, lambda old, r: '"\\ud800"', raw=True)
    return insert(data, rng.choice(BAD_UTF8), rng)


def bom(data: bytes, fmt: str, rng: Random) -> bytes:
    """Byte order marks (UTF-8, doubled, UTF-16) at the start of the file or of a line."""
    mark = rng.choice([b"\xef\xbb\xbf", b"\xef\xbb\xbf\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"])
    if rng.random() < 0.7:
        return mark + data
    lines = lines_of(data)
    i = rng.randrange(len(lines))
    lines[i] = mark + lines[i]
    return b"\n".join(lines)


def crlf(data: bytes, fmt: str, rng: Random) -> bytes:
    """Windows, old Mac or mixed line ends."""
    choice = rng.randrange(3)
    if choice == 0:
        return data.replace(b"\n", b"\r\n")
    if choice == 1:
        return data.replace(b"\n", b"\r")
    lines = lines_of(data)
    return b"".join(line + rng.choice([b"\n", b"\r\n", b"\r\r\n"]) for line in lines)


def duplicate_key(data: bytes, fmt: str, rng: Random) -> bytes:
    """A JSON key written twice in one object; a CSV header naming one column twice."""
    lines = lines_of(data)
    if fmt == "csv":
        header = lines[0].split(b",")
        if len(header) > 1:
            header[rng.randrange(len(header))] = rng.choice(header)
            lines[0] = b",".join(header)
        return b"\n".join(lines)
    index = body_index(lines, fmt, rng)
    if index is None:
        return data
    try:
        record = json.loads(lines[index])
    except (ValueError, RecursionError):
        return data
    if not isinstance(record, dict) or not record:
        return data
    key = rng.choice(list(record))
    extra = json.dumps(key) + ": " + rng.choice(WRONG_TYPES + HUGE + ['"duplicate"'])
    text = lines[index].rstrip().rstrip(b"\r")
    lines[index] = (text[:-1] + b", " + extra.encode() + b"}") if rng.random() < 0.5 else \
        (b"{" + extra.encode() + b", " + text[1:])
    return b"\n".join(lines)


def missing_column(data: bytes, fmt: str, rng: Random) -> bytes:
    """A key dropped from one or every record; a CSV column dropped, or one cell short."""
    if fmt == "csv":
        rows = csv_rows(data)
        if not rows or not rows[0]:
            return data
        c = rng.randrange(len(rows[0]))
        if rng.random() < 0.6:  # the whole column
            return csv_bytes([row[:c] + row[c + 1:] for row in rows])
        r = rng.randrange(len(rows))  # one cell short: the header or one row
        rows[r] = rows[r][:-1]
        return csv_bytes(rows)
    lines, every = lines_of(data), rng.random() < 0.5
    key = None
    for i, line in enumerate(lines):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if not isinstance(record, dict) or not record:
            continue
        key = key or rng.choice(list(record))
        record.pop(key, None)
        lines[i] = json.dumps(record).encode()
        if not every:
            break
    return b"\n".join(lines)


def extra_column(data: bytes, fmt: str, rng: Random) -> bytes:
    """Keys or columns the contract does not know, in the header and rows or in one row only."""
    if fmt == "csv":
        rows = csv_rows(data)
        if not rows:
            return data
        if rng.random() < 0.5:
            return csv_bytes([row + (["extra"] if i == 0 else [str(i)]) for i, row in enumerate(rows)])
        r = rng.randrange(len(rows))
        rows[r] = rows[r] + ["surplus"]
        return csv_bytes(rows)
    return edit_json(data, rng, lambda old, r: json.dumps({"kept": old, "unexpected_field": [1, {"x": None}]}),
                      raw=True)


def emoji(data: bytes, fmt: str, rng: Random) -> bytes:
    """Emoji, joiners, right-to-left marks and combining characters inside a value (or a key)."""
    if fmt == "ndjson" and rng.random() < 0.2:  # in a key
        return data.replace(b'":', "😀".encode() + b'":', 1)
    return in_text(data, fmt, rng, EMOJI)


def shorthand_number(data: bytes, fmt: str, rng: Random) -> bytes:
    """Numbers as people write them: 12,5K, 1.2M, 1 234, €59.90, Arabic-Indic digits."""
    return value(data, fmt, rng, SHORTHAND, raw=False)


def date_out_of_range(data: bytes, fmt: str, rng: Random) -> bytes:
    """A date-like value replaced by one out of range or impossible (year 1, month 13, +25:00)."""
    def dated(old, r: Random) -> str:
        return r.choice(DATES)

    if fmt == "csv":
        return edit_cell(data, rng, dated)
    return edit_json(data, rng, dated, raw=False, prefer=lambda v: isinstance(v, str) and bool(_DATE_LIKE.match(v)))


def empty(data: bytes, fmt: str, rng: Random) -> bytes:
    """An empty file, or one of blank lines only."""
    return rng.choice([b"", b"\n", b"   \n\n", b"\r\n"])


def header_only(data: bytes, fmt: str, rng: Random) -> bytes:
    """A CSV header with no rows; an NDJSON file of one empty object, array or null."""
    if fmt == "csv":
        head = lines_of(data)[0]
        return head + rng.choice([b"", b"\n", b"\r\n"])
    return rng.choice([b"{}\n", b"{}", b"[]\n", b"null\n"])


def duplicate_lines(data: bytes, fmt: str, rng: Random) -> bytes:
    """One line sent two to four times."""
    lines = lines_of(data)
    index = body_index(lines, fmt, rng)
    if index is None:
        return data
    for _ in range(rng.randint(1, 3)):
        lines.insert(rng.randrange(1 if fmt == "csv" else 0, len(lines) + 1), lines[index])
    return b"\n".join(lines)


def long_value(data: bytes, fmt: str, rng: Random) -> bytes:
    """A value of 10 kB to 2 MB."""
    size = rng.choice([10_000, 200_000, 2_000_000])
    return value(data, fmt, rng, ["x" * size], raw=False)


def control_chars(data: bytes, fmt: str, rng: Random) -> bytes:
    """Terminal escapes, line and paragraph separators, DEL, NEL and a BOM inside a value."""
    return in_text(data, fmt, rng, CONTROL)


def reencode(data: bytes, fmt: str, rng: Random) -> bytes:
    """The whole file in another encoding, as a spreadsheet export or an old system writes it."""
    text = data.decode("utf-8", "replace")
    if rng.random() < 0.5:
        text = in_text(data, fmt, rng, ["café", "Zoë", "€", "naïve"]).decode("utf-8", "replace")
    encoding = rng.choice(["utf-16", "utf-16-be", "latin-1", "cp1252", "utf-32"])
    return text.encode(encoding, "replace")


def compressed_inside(data: bytes, fmt: str, rng: Random) -> bytes:
    """A plain-named file holding compressed bytes (or a gzip inside the gzip)."""
    return gzip.compress(data, mtime=0)


def unbalanced_quote(data: bytes, fmt: str, rng: Random) -> bytes:
    """A stray quote (CSV) or quote, backslash or broken escape (JSON) inside a line."""
    if fmt == "csv":
        lines = lines_of(data)
        index = body_index(lines, fmt, rng)
        if index is not None:
            lines[index] = b'"' + lines[index] if rng.random() < 0.5 else lines[index].replace(b",", b',"', 1)
        return b"\n".join(lines)
    lines = lines_of(data)  # NDJSON: a raw quote or backslash inside a line breaks its JSON
    index = body_index(lines, fmt, rng)
    if index is not None:
        lines[index] = insert(lines[index], rng.choice([b'"', b"\\", b'\\"', b"\\u12", b"\\x41"]), rng)
    return b"\n".join(lines)


def many_columns(data: bytes, fmt: str, rng: Random) -> bytes:
    """Hundreds or thousands of extra columns or keys."""
    width = rng.choice([500, 20_000])
    if fmt == "csv":
        rows = csv_rows(data)
        if not rows:
            return data
        return csv_bytes([row + [f"c{i}" if r == 0 else str(i) for i in range(width)] for r, row in enumerate(rows)])
    return edit_json(data, rng, lambda old, r: json.dumps({f"k{i}": i for i in range(width)}), raw=True)


MUTATIONS: dict[str, Mutation] = {f.__name__: f for f in (
    byte_flip, truncate, huge_number, nan_infinity, deep_nesting, wrong_type, nul, invalid_utf8, bom, crlf,
    duplicate_key, missing_column, extra_column, emoji, shorthand_number, date_out_of_range, empty, header_only,
    duplicate_lines, long_value, control_chars, reencode, compressed_inside, unbalanced_quote, many_columns)}


def combo(data: bytes, fmt: str, rng: Random) -> bytes:
    """Two to four of the other mutations in a row."""
    for name in rng.sample(sorted(MUTATIONS), rng.randint(2, 4)):
        data = MUTATIONS[name](data, fmt, rng)
    return data


MUTATIONS["combo"] = combo
