"""Arrow schemas of the raw layer: one table per landing file, as delivered, derived from the raw contracts.

Raw columns are strings on purpose: a raw table keeps each value exactly as the export sent it ("12x" stays "12x"), so
staging can cast it and a bad value can be quarantined with its original text. Two exceptions, both deliberate:
nested JSON (order discount codes, refunds) is kept as compact JSON text, and PII never lands in clear — it is
replaced at ingestion by a keyed HMAC in a `<field>_hash` column.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from influence_pipeline.schemas.contract import Contract, contracts_in

#: Load metadata on every raw row: where it came from and which run loaded it.
LOAD_METADATA = pa.schema(
    [
        ("_source_file", pa.string()),  # path relative to the landing dir
        ("_row_number", pa.int64()),  # 1-based line number in that file (CSV: the header is line 1)
        ("_run_id", pa.string()),
        ("_parse_error", pa.string()),  # set when the line could not be parsed; the fields are then null
        ("_raw_line", pa.string()),  # the unparseable line, PII-looking substrings masked; null otherwise
    ]
)
#: The column partitioning every landing-day table (raw, staging, quarantine; checkpoints record it too). Defined
#: only here: a second copy could drift and a night would write partitions its readers never find.
PARTITION_COLUMN = "landing_date"


@dataclass(frozen=True)
class RawField:
    name: str  # raw column name
    path: tuple[str, ...] = ()  # JSON path; defaults to (name,)
    pii: bool = False  # hashed at ingestion into `<name>_hash`
    free_text: bool = False  # e-mails, phones, IPs and secret query parameters in it masked at ingestion
    nested: bool = False  # a JSON array/object: always kept as JSON text, even when a bad export sends a scalar
    added_in: str | None = None  # the landing format that added it: older CSV files may lack the column (null)
    former: tuple[tuple[str, ...], ...] = ()  # where earlier landing formats put it (the contract's formerNames)

    @property
    def json_path(self) -> tuple[str, ...]:
        return self.path or (self.name,)

    @property
    def json_paths(self) -> tuple[tuple[str, ...], ...]:
        """The current path first, then the earlier formats' paths: a file in any of the shapes loads."""
        return (self.json_path, *self.former)

    @property
    def headers(self) -> tuple[str, ...]:
        """CSV header names it may have: its own, then the earlier formats'."""
        return (self.name, *(".".join(p) for p in self.former))

    @property
    def column(self) -> str:
        return f"{self.name}_hash" if self.pii else self.name


@dataclass(frozen=True)
class RawDataset:
    name: str  # raw table name, e.g. "instagram_media"
    source: str  # landing folder
    file: str  # file name inside landing/<source>/<date>/
    fields: tuple[RawField, ...] = field(default_factory=tuple)
    full_snapshot: bool = False  # each delivery replaces the whole dataset (the contract's fullSnapshot)
    alternatives: tuple[str, ...] = ()  # datasets delivering the same facts another way (the contract's alternativeTo)

    @property
    def fmt(self) -> str:
        return "csv" if self.file.endswith(".csv") else "ndjson"

    @property
    def columns(self) -> list[str]:
        return [f.column for f in self.fields]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([(c, pa.string()) for c in self.columns] + list(LOAD_METADATA))


def _raw_dataset(contract: Contract) -> RawDataset:
    source, _, file = contract.landing_file.split("/")
    fields = tuple(RawField(p.name, p.json_path if "jsonPath" in p.custom else (), pii=p.is_pii,
                            free_text=p.is_free_text, nested=p.logical_type in ("array", "object"),
                            added_in=p.custom.get("addedIn"),
                            former=tuple(tuple(str(n).split(".")) for n in p.custom.get("formerNames") or ()))
                   for p in contract.properties)
    return RawDataset(contract.name, source, file, fields, full_snapshot=contract.is_full_snapshot,
                      alternatives=contract.alternatives)


#: One raw table per landing file, derived from the raw contracts (data_contracts/raw/*.odcs.yaml).
DATASETS: tuple[RawDataset, ...] = tuple(_raw_dataset(c) for c in contracts_in("raw"))
BY_NAME: dict[str, RawDataset] = {d.name: d for d in DATASETS}
