"""Writers: UTF-8, "\\n" newlines, compact JSON with fixed key order, atomic replace."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

from influence_pipeline import atomic


def write_atomic(path: Path, text: str | Callable[[Path], None]) -> None:
    """Write `text` (or let a writer fill the temporary) under a temporary name, then rename, so readers never see
    half a file."""
    atomic.write_atomic(path, text, fsync=False)


def json_lines(records: list[dict]) -> list[str]:
    return [json.dumps(r, separators=(",", ":"), ensure_ascii=False) for r in records]


def ndjson_text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


def csv_text(header: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()
