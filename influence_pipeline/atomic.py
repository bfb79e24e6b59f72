"""The one way a file is written: to a temporary name beside it, then renamed over it, so a reader sees the old file or
the new one and a killed run leaves at most a temporary that the next start sweeps (sinks.lake.sweep_temporaries)."""
from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

#: Every temporary starts with this and ends in `.partial`: readers globbing `*/*.parquet` or `*.json` (DuckDB matches
#: dot-files) never take a half-written file for a whole one, and a sweep finds them all by one pattern.
TMP_MARK = ".tmp-"


def temporary_beside(path: Path) -> Path:
    return path.with_name(f"{TMP_MARK}{uuid.uuid4().hex}-{path.name}.partial")


def write_atomic(path: Path, content: str | bytes | Callable[[Path], None], *, fsync: bool = True) -> Path:
    """Replace `path` with `content`: text (UTF-8, newlines as given), bytes, or a writer called with the temporary
    path. With `fsync` the data reaches the disk before the rename, so a power cut cannot leave the new name on an
    empty file; generated sample files skip it (thousands of them, and a rerun regenerates them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_beside(path)
    try:
        if callable(content):
            content(tmp)
        else:
            tmp.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        if fsync:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
