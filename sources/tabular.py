"""CSV and Parquet landing files: each row read like an NDJSON line, into the columns of sources/lines.py."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from influence_pipeline.schemas.raw import RawDataset
from influence_pipeline.sources.lines import Columns, LandingFileError, bad_utf8, field_takers, take
from influence_pipeline.sources.safe_open import open_landing

csv.field_size_limit(1 << 28)  # a stray quote can make the rest of a big file one cell; read it, then quarantine


def parse_parquet(path: Path, dataset: RawDataset, rel_path: str) -> Columns:
    """A Parquet export (BigQuery's `bq extract --destination_format PARQUET`): each row is read like an NDJSON line,
    by the same field paths (nested records are structs, repeated fields lists), numbered from 1. Only the columns
    the contract reads are decoded."""
    parsed = Columns(dataset)
    fields = field_takers(parsed)
    try:
        with open_landing(path, rel_path) as handle:  # no link followed, even one swapped in after the check
            source = pq.ParquetFile(handle)
            wanted = {f.json_path[0] for f in dataset.fields} | {p[0] for f in dataset.fields for p in f.former}
            columns = [name for name in source.schema_arrow.names if name in wanted]
            number = 0
            for batch in source.iter_batches(batch_size=50_000, columns=columns):
                for record in batch.to_pylist():
                    number += 1
                    take(fields, record)
                    parsed.ok(number)
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:  # a string column holding bytes that are not UTF-8
        raise LandingFileError(f"{rel_path}: not a readable Parquet file ({str(exc)[:200]}); ask for the file again") \
            from None
    return parsed


def parse_csv(text: str, dataset: RawDataset, rel_path: str) -> Columns:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _csv_rows(reader, dataset, rel_path)
    except csv.Error as exc:
        raise LandingFileError(f"{rel_path}: unreadable CSV near line {reader.line_num}: {exc}") from None


def _csv_rows(reader, dataset: RawDataset, rel_path: str) -> Columns:
    parsed = Columns(dataset)
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
        found = ", ".join(header)
        # only the header line itself, and not all of it: a file that is no CSV at all has no header to show
        shown = found if len(found) <= 200 else found[:200] + "…"
        raise LandingFileError(f"{rel_path}: header lacks the column(s) {', '.join(missing)} (found: {shown})")
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
        broken = next((header[i] for i, v in enumerate(values) if bad_utf8(v) is not None), None)
        if broken is not None:
            parsed.bad(number, f"field {broken} is not valid UTF-8", ",".join(values))
            continue
        parsed.good(number, {name: None if i is None else (values[i] or None) for name, i in column.items()})
    return parsed

