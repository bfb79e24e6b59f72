"""Erasing a person from the files a run reads: find every landing line and raw row that holds them (with the
identifiers linked to the one asked for, transforms.erasure), rewrite those landing files without them, and empty
their rows in raw partitions whose landing file is gone. The replay that rebuilds everything downstream, and the log,
are wired by influence_pipeline.erasure_flow.
"""
from __future__ import annotations

import csv
import gzip
import io
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from influence_pipeline.atomic import write_atomic
from influence_pipeline.schemas.raw import DATASETS, PARTITION_COLUMN, RawDataset
from influence_pipeline.sinks.lake import partition_file, table_dir, write_partition
from influence_pipeline.sources.ingest import RAW_LAYER, landing_forms, refuse_unsafe
from influence_pipeline.sources.landing import read_landing_file
from influence_pipeline.transforms.erasure import (
    ERASED_REASON,
    PERSON_COLUMNS,
    linked_digests,
    mark_erased,
    person_mask,
    row_digests,
    value_digest,
)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass
class Holding:
    """One file holding raw rows of a person dataset: a landing file (`rel` under landing) or a raw partition."""
    dataset: RawDataset
    day: date
    path: Path
    rel: str
    raw: pl.DataFrame  # its raw rows as ingest reads them (PII hashed), identifier columns only
    landing: bool


@dataclass
class Erasure:
    """What an erasure found and did: digests of the person, per-store row counts, the landing days touched."""
    digests: set[str]
    landing_rows: dict[str, int] = field(default_factory=dict)  # raw dataset -> landing lines removed
    raw_rows: dict[str, int] = field(default_factory=dict)  # raw dataset -> raw rows emptied (landing file gone)
    days: set[date] = field(default_factory=set)


def _person_datasets() -> list[RawDataset]:
    return [d for d in DATASETS if d.name in PERSON_COLUMNS]


def _days(folder: Path) -> list[date]:
    out = []
    for child in sorted(folder.iterdir()) if folder.is_dir() else []:
        try:
            out.append(date.fromisoformat(child.name))
        except ValueError:
            continue  # not a landing day: the nightly's survey reports it as unexpected
    return out


def _slim_columns(dataset: RawDataset) -> list[str]:
    """The raw columns an erasure decides by: a day of web events is gigabytes, its identifiers a fraction."""
    return [*PERSON_COLUMNS[dataset.name], "_row_number", "_parse_error", "_raw_line"]


def _slim(raw: pl.DataFrame, dataset: RawDataset) -> pl.DataFrame:
    return raw.select(_slim_columns(dataset))


def landing_holdings(landing_dir: Path, pii_key: bytes) -> list[Holding]:
    """Every delivered landing file of a dataset that holds persons, read as ingest reads it."""
    out = []
    for dataset in _person_datasets():
        for day in _days(landing_dir / dataset.source):
            for rel in landing_forms(dataset, day):
                if os.path.lexists(landing_dir / rel):
                    refuse_unsafe(landing_dir, rel)
                    raw = pl.from_arrow(read_landing_file(dataset, landing_dir / rel, rel, "erasure", pii_key))
                    out.append(Holding(dataset, day, landing_dir / rel, rel, _slim(raw, dataset), True))
    return out


def raw_holdings(lake_dir: Path, covered: set[tuple[str, date]]) -> list[Holding]:
    """The raw partitions of person datasets whose day has no landing file (`covered`: (dataset, day) that have):
    a purged landing file leaves its rows only there."""
    out = []
    for dataset in _person_datasets():
        for folder in sorted(table_dir(lake_dir, RAW_LAYER, dataset.name).glob(f"{PARTITION_COLUMN}=*")):
            day = date.fromisoformat(folder.name.split("=", 1)[1])
            path = partition_file(lake_dir, RAW_LAYER, dataset.name, PARTITION_COLUMN, day)
            if (dataset.name, day) not in covered and path.exists():
                raw = pl.read_parquet(path, columns=_slim_columns(dataset))
                out.append(Holding(dataset, day, path, str(path.relative_to(lake_dir)), raw, False))
    return out


def find_person(holdings: list[Holding], kind: str, value: str, pii_key: bytes) -> set[str]:
    """The digests of the identifier `value` of `kind` and of every identifier linked to it in `holdings`."""
    seed = value_digest(value, kind, pii_key)
    if seed is None:
        # the value is not repeated: the message reaches logs and the orchestrator's database
        raise ValueError(f"the value given is not a {kind.replace('_', ' ')} (nothing was erased)")
    rows = pl.concat([row_digests(h.raw, h.dataset.name, pii_key)
                      .select(pl.concat_str([pl.lit(f"{i}:"), pl.col("_row").cast(pl.String)]).alias("row"), "digest")
                      for i, h in enumerate(holdings)] or [pl.DataFrame(schema={"row": pl.String, "digest": pl.String})])
    return linked_digests(rows, {seed})


def _clear_values(holdings: list[Holding], masks: list[pl.Series], value: str) -> set[str]:
    """The clear ids of the person's rows (ids are not hashed at ingest) and the value asked for: what an unparsed
    line of theirs can be recognised by."""
    values = {value.strip()}
    for holding, mask in zip(holdings, masks):
        for column, id_kind in PERSON_COLUMNS[holding.dataset.name].items():
            if id_kind != "email" and column in holding.raw.columns:
                values |= set(holding.raw.filter(mask).get_column(column).drop_nulls().str.strip_chars().to_list())
    return {v for v in values if len(v) >= 4}  # a 1-3 character id would match inside unrelated lines


def _unparsed_hits(holding: Holding, lines: dict[int, str], clear: set[str], digests: set[str],
                   pii_key: bytes) -> set[int]:
    """Line numbers of unparseable lines (their fields are null, so no digest matched) that hold the person: one of
    their clear ids, or an e-mail address whose digest is theirs."""
    hits = set()
    for number in holding.raw.filter(pl.col("_parse_error").is_not_null()).get_column("_row_number").to_list():
        line = lines.get(number, "")
        if any(v in line for v in clear) or any(value_digest(e, "email", pii_key) in digests
                                                 for e in _EMAIL.findall(line)):
            hits.add(number)
    return hits


def _ndjson_lines(text: str) -> list[str]:
    return text.split("\n")  # as the reader numbers them: U+2028 inside a value is no line break


def _csv_records(text: str) -> list[tuple[int, list[str]]]:
    """(first line number, the physical lines with their breaks) of every CSV record, the header first."""
    lines = list(io.StringIO(text, newline=""))
    reader, records = csv.reader(iter(lines)), []
    while True:
        before = reader.line_num
        try:
            if next(reader, None) is None:
                break
        except csv.Error:  # the reader refused this file too: keep the rest as it is
            records.append((before + 1, lines[before:]))
            break
        records.append((before + 1, lines[before:reader.line_num]))
    return records


def _read_text(path: Path) -> str:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return data.decode("utf-8", errors="surrogateescape")


def _write_text(path: Path, text: str) -> None:
    data = text.encode("utf-8", errors="surrogateescape")
    mode = path.stat().st_mode & 0o777
    write_atomic(path, gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    os.chmod(path, mode)


def rewrite_landing(holding: Holding, mask: pl.Series, clear: set[str], digests: set[str], pii_key: bytes) -> int:
    """Rewrite one landing file without the person's lines (same format, gzip kept, atomically). Returns how many
    lines (records) went."""
    drop = set(holding.raw.filter(mask).get_column("_row_number").to_list())
    if holding.path.suffix == ".parquet":
        if not drop:
            return 0
        table = pq.read_table(holding.path)
        keep = pl.Series([n not in drop for n in range(1, table.num_rows + 1)])
        write_atomic(holding.path, lambda tmp: pq.write_table(table.filter(keep.to_arrow()), tmp))
        return len(drop)
    text = _read_text(holding.path)
    if holding.dataset.fmt == "ndjson":
        lines = _ndjson_lines(text)
        drop |= _unparsed_hits(holding, dict(enumerate(lines, start=1)), clear, digests, pii_key)
        if drop:
            _write_text(holding.path, "\n".join(line for n, line in enumerate(lines, start=1) if n not in drop))
        return len(drop)
    records = _csv_records(text)
    drop |= _unparsed_hits(holding, {n: "".join(lines) for n, lines in records}, clear, digests, pii_key)
    if drop:
        _write_text(holding.path, "".join("".join(lines) for n, lines in records if n not in drop or n == 1))
    return len(drop - {1})


def empty_raw(holding: Holding, mask: pl.Series, lake_dir: Path) -> int:
    """Empty the person's rows of a raw partition whose landing file is gone (marked `erased on request`, so the
    night quarantines them and its counts still add up). Returns how many rows were emptied."""
    hits = int(mask.sum())
    if hits:
        whole = pl.read_parquet(holding.path)
        write_partition(mark_erased(whole, mask).to_arrow().cast(holding.dataset.arrow_schema), lake_dir,
                        RAW_LAYER, holding.dataset.name, PARTITION_COLUMN, holding.day)
    return hits


def erase_person(landing_dir: Path, lake_dir: Path, kind: str, value: str, pii_key: bytes,
                 known: set[str] = frozenset()) -> Erasure:
    """Find the person `value` of `kind` (with the digests of earlier erasures of them, `known`) in every landing
    file and raw partition, and remove them from both. Call with the data dir's writer lock held."""
    holdings = landing_holdings(landing_dir, pii_key)
    holdings += raw_holdings(lake_dir, {(h.dataset.name, h.day) for h in holdings})
    digests = find_person(holdings, kind, value, pii_key) | set(known)
    masks = [person_mask(h.raw, h.dataset.name, digests, pii_key) for h in holdings]
    clear = _clear_values(holdings, masks, value)
    erasure = Erasure(digests)
    for holding, mask in zip(holdings, masks):
        name = holding.dataset.name
        if holding.landing:
            removed = rewrite_landing(holding, mask, clear, digests, pii_key)
            erasure.landing_rows[name] = erasure.landing_rows.get(name, 0) + removed
        else:
            already = holding.raw.get_column("_parse_error").eq(ERASED_REASON).fill_null(False)
            removed = empty_raw(holding, mask & ~already, lake_dir)
            erasure.raw_rows[name] = erasure.raw_rows.get(name, 0) + removed
        if removed:
            erasure.days.add(holding.day)
    erasure.landing_rows = {name: n for name, n in erasure.landing_rows.items() if n}
    erasure.raw_rows = {name: n for name, n in erasure.raw_rows.items() if n}
    return erasure
