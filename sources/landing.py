"""Readers for landing files: one export file in, its raw Arrow table out (values as delivered, PII hashed), whole or
piece by piece, so that a gigabyte NDJSON file is never held in memory at once."""
from __future__ import annotations

import gzip
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import BinaryIO, TypeVar

import polars as pl
import pyarrow as pa

from influence_pipeline.schemas.raw import RawDataset
from influence_pipeline.sources import ndjson_native
from influence_pipeline.sources.lines import Columns, LandingFileError, frame_of, parse_lines
from influence_pipeline.sources.safe_open import open_landing_stream
from influence_pipeline.sources.tabular import parse_csv, parse_parquet
from influence_pipeline.transforms.free_text import mask_free_text
from influence_pipeline.transforms.pii import pseudonymise

__all__ = ["LandingFileError", "iter_landing_tables", "read_landing_file"]

_BOM = b"\xef\xbb\xbf"
_READ_BLOCK = 64 << 20
#: pieces of an NDJSON file decoded at once, beside the one being written
AHEAD = 2
T = TypeVar("T")


def read_landing_file(dataset: RawDataset, path: Path, rel_path: str, run_id: str, pii_key: bytes) -> pa.Table:
    """Read one landing file (optionally gzipped; an NDJSON dataset's file may also come as Parquet) into the raw
    table of `dataset`. Malformed lines — bad JSON, wrong field count, bytes that are not UTF-8 — become rows with
    `_parse_error` set and the (masked) line in `_raw_line`, so nothing is dropped; a file that cannot be read at all
    (truncated gzip, CSV header lacking a column) raises LandingFileError naming it."""
    tables = list(iter_landing_tables(dataset, path, rel_path, run_id, pii_key))
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def iter_landing_tables(dataset: RawDataset, path: Path, rel_path: str, run_id: str,
                        pii_key: bytes) -> Iterator[pa.Table]:
    """The raw table of one landing file (as read_landing_file) in consecutive pieces, rows in line order: an NDJSON
    file of NATIVE_MIN_BYTES or more is read PIECE_BYTES at a time and decoded natively; any other file is one
    piece. LandingFileError may come after some pieces (a gzip truncated near its end): a writer must not publish
    the pieces it already has."""
    def table(parsed: Columns | pl.DataFrame) -> pa.Table:
        return _to_table(parsed, dataset, rel_path, run_id, pii_key)

    if path.suffix == ".parquet":
        yield table(parse_parquet(path, dataset, rel_path))
        return
    with open_landing_stream(path, rel_path) as handle:  # no link followed, even one swapped in after the check
        if dataset.fmt != "ndjson":
            yield table(parse_csv(_decoded(_read(handle, rel_path)), dataset, rel_path))
            return
        head = _read(handle, rel_path, ndjson_native.NATIVE_MIN_BYTES)
        if len(head) < ndjson_native.NATIVE_MIN_BYTES:  # small: one Python pass beats starting DuckDB
            text, valid_utf8 = _decoded_checked(head)
            # Split on "\n" only: str.splitlines() would also break at U+2028 and friends, which JSON allows
            # inside values. Checks that cannot find anything in this text are skipped.
            yield table(parse_lines(enumerate(text.split("\n"), start=1), dataset, not valid_utf8, "\\u" in text))
            return
        yield from _ahead(lambda frame=frame: table(frame()) for frame in _native_pieces(handle, head, dataset, rel_path))


def _read(handle: BinaryIO, rel_path: str, size: int = -1) -> bytes:
    """Up to `size` bytes of `handle` (all that is left when -1), in blocks a gzip stream can decode."""
    blocks, got = [], 0
    most = _READ_BLOCK if size < 0 else max(_READ_BLOCK, ndjson_native.PIECE_BYTES)  # a piece in one read: no join
    try:
        while size < 0 or got < size:
            block = handle.read(most if size < 0 else min(size - got, most))
            if not block:
                break
            blocks.append(block)
            got += len(block)
    except (EOFError, OSError, zlib.error) as exc:
        if not isinstance(handle, gzip.GzipFile):
            raise
        raise LandingFileError(f"{rel_path}: truncated or corrupt gzip ({exc}); ask for the file again") from None
    return blocks[0] if len(blocks) == 1 else b"".join(blocks)


def _decoded_checked(data: bytes) -> tuple[str, bool]:
    """The text of `data` without its byte-order mark, and whether it was valid UTF-8: bad bytes are kept as lone
    surrogates (surrogateescape), so only their lines are quarantined."""
    try:
        text, valid_utf8 = data.decode("utf-8"), True
    except UnicodeDecodeError:
        text, valid_utf8 = data.decode("utf-8", errors="surrogateescape"), False
    return text.removeprefix("\ufeff"), valid_utf8


def _decoded(data: bytes) -> str:
    return _decoded_checked(data)[0]


def _pieces(handle: BinaryIO, carry: bytes, rel_path: str) -> Iterator[bytes]:
    """Consecutive pieces of about PIECE_BYTES, each of whole lines: all but the last end with a line break (a line
    longer than a piece makes its piece longer)."""
    while True:
        block = _read(handle, rel_path, ndjson_native.PIECE_BYTES)
        if not block:
            if carry:
                yield carry
            return
        cut = block.rfind(b"\n") + 1
        if not cut:  # no line ends in this block: a line longer than a piece
            carry += block
            continue
        # one copy of the piece at most (none when it is the whole block): a copy of 128 MiB costs a tenth of a second
        piece = block if not carry and cut == len(block) else b"".join((carry, memoryview(block)[:cut]))
        carry = block[cut:]
        del block  # not held beside its piece while the piece is decoded
        yield piece
        del piece  # nor while the next block is read


def _ahead(jobs: Iterator[Callable[[], T]], workers: int = AHEAD) -> Iterator[T]:
    """The results of `jobs`, in order, computed on `workers` threads: while the caller writes one piece, the next
    ones are decoded, masked and hashed. DuckDB, Polars and Arrow release the GIL; one piece at a time left the
    second core idle (17.4 CPU s in 16.7 s for a 987 MB day). At most `workers` pieces are in flight."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        pending: deque = deque()
        try:
            for job in jobs:
                pending.append(pool.submit(job))
                if len(pending) >= workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:  # a failed piece or a caller that stopped: the rest is not wanted
                future.cancel()


def _native_pieces(handle: BinaryIO, head: bytes, dataset: RawDataset,
                   rel_path: str) -> Iterator[Callable[[], pl.DataFrame]]:
    """Per piece, a call that decodes its rows, lines numbered across the file; an empty file gives one empty
    frame. The pieces are read here, in order; the calls may run on other threads."""
    first, opening = 1, True
    for piece in _pieces(handle, head, rel_path):
        yield partial(_decode_piece, piece, 3 if opening and piece.startswith(_BOM) else 0, first, dataset)
        first, opening = first + piece.count(b"\n"), False
        del piece  # not held while the next piece is read, once its call is done with it
    if opening:
        yield partial(frame_of, Columns(dataset))


def _decode_piece(piece: bytes, start: int, first: int, dataset: RawDataset) -> pl.DataFrame:
    """The rows of `piece[start:]`, whose first line is line `first`: the lines DuckDB can be trusted with decoded
    natively, the rest line by line, in line order. A piece that is not valid UTF-8 goes line by line whole, so that
    the bad lines are found."""
    try:  # ASCII is UTF-8 (a fast test); else Arrow checks the bytes in place, as decoding them would copy the piece
        if not piece.isascii():
            pa.LargeStringArray.from_buffers(1, pa.array([start, len(piece)], pa.int64()).buffers()[1],
                                             pa.py_buffer(piece)).validate(full=True)
    except pa.ArrowInvalid:
        text = piece[start:].decode("utf-8", errors="surrogateescape")
        return frame_of(parse_lines(enumerate(text.split("\n"), start=first), dataset, True, "\\u" in text))
    native, left = ndjson_native.decode_trusted(piece, dataset, start, first)
    rest = frame_of(parse_lines(left, dataset, False, True))
    native = native.with_columns(_parse_error=pl.lit(None, pl.String), _raw_line=pl.lit(None, pl.String))
    native = native.select(rest.columns).cast(rest.schema)
    if not native["_row_number"].is_sorted():  # DuckDB keeps insertion order: a guard, not the hot path
        native = native.sort("_row_number")
    # both are in line order: merging them costs less than sorting their concatenation (a copy of every row)
    return native.merge_sorted(rest, key="_row_number") if left else native


def _to_table(parsed: Columns | pl.DataFrame, dataset: RawDataset, rel_path: str, run_id: str,
              pii_key: bytes) -> pa.Table:
    frame = parsed if isinstance(parsed, pl.DataFrame) else frame_of(parsed)
    frame = frame.with_columns(_source_file=pl.lit(rel_path), _run_id=pl.lit(run_id))
    pii = {f.name: f.column for f in dataset.fields if f.pii}
    if pii:
        frame = pseudonymise(frame, pii, pii_key)
    frame = mask_free_text(frame, [f.column for f in dataset.fields if f.free_text])
    return frame.select(dataset.arrow_schema.names).to_arrow().cast(dataset.arrow_schema)
