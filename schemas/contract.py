"""Data contracts (ODCS v3, YAML under data_contracts/) loaded into typed objects.

The contracts are the single source of each dataset's schema and rules: the raw columns, the casting types, the
row-level rules, the Great Expectations suites and the warehouse DDL are all derived from what is read here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

#: The contracts ship inside the package (influence_pipeline.data_contracts), so an installed wheel finds them from any
#: directory; in a checkout this is the top-level data_contracts/ folder.
CONTRACTS_DIR: Traversable = files("influence_pipeline.data_contracts")
LAYERS = ("raw", "staging", "marts", "audit")
#: Text a raw string property holds in a human-typed form, named by its custom property `parsedAs`: the parser
#: staging applies (transforms/quarantine.PARSERS) is also the property's type rule. Name → what a valid value is.
PARSED_AS = {
    "humanCount": "a count (950, 12,345, 1.234.567, 12.5K, 1,2M)",
    "countryCode": "a country (ISO 3166-1 code or name: US, GBR, United Kingdom, Deutschland)",
}
#: What a property's custom property `onInvalid` may say: a value breaking one of its rules quarantines the row (the
#: default), or — for an informational property — is set to null, with a warning, and the row is kept.
ON_INVALID = ("quarantine", "null")


class ContractError(ValueError):
    """A contract is malformed in a way the compiler cannot work with (the JSON-schema test catches the rest)."""


def _custom(items: list[dict] | None) -> dict[str, Any]:
    return {item["property"]: item["value"] for item in items or []}


@dataclass(frozen=True)
class Property:
    name: str
    logical_type: str
    description: str
    required: bool = False
    primary_key_position: int | None = None
    physical_type: str | None = None
    classification: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    enum: tuple[Any, ...] = ()
    relationships: tuple[str, ...] = ()  # "<dataset>.<column>"
    partitioned: bool = False
    custom: dict[str, Any] = field(default_factory=dict)

    @property
    def is_pii(self) -> bool:
        return self.classification == "pii"

    @property
    def is_free_text(self) -> bool:
        """`freeText: true`: text a person or a browser wrote (URLs, referrers), where personal data may hide; masked
        at ingestion by transforms/free_text.py."""
        return self.custom.get("freeText") is True

    @property
    def json_path(self) -> tuple[str, ...]:
        return tuple(str(self.custom.get("jsonPath", self.name)).split("."))

    @property
    def parsed_as(self) -> str | None:
        return self.custom.get("parsedAs")

    @property
    def informational(self) -> bool:
        """`onInvalid: "null"`: a bad value is set to null in the published row instead of quarantining the row.
        Only a property that is neither required nor part of the primary key may say so (checked at load)."""
        return self.custom.get("onInvalid", "quarantine") == "null"

    @property
    def max_days_after_landing(self) -> int | None:
        value = self.custom.get("maxDaysAfterLanding")
        return None if value is None else int(value)


@dataclass(frozen=True)
class QualityRule:
    id: str
    description: str
    metric: str
    severity: str  # "error" | "warning"
    operator: str  # mustBe, mustBeGreaterThan, mustBeBetween, ...
    value: Any
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Contract:
    name: str
    layer: str
    path: Path
    description: str
    grain: str
    properties: tuple[Property, ...]
    quality: tuple[QualityRule, ...]
    custom: dict[str, Any]
    schema_custom: dict[str, Any]

    def prop(self, name: str) -> Property:
        for prop in self.properties:
            if prop.name == name:
                return prop
        raise KeyError(f"{self.name} has no property {name!r}")

    @property
    def primary_key(self) -> list[str]:
        keyed = [p for p in self.properties if p.primary_key_position is not None]
        return [p.name for p in sorted(keyed, key=lambda p: p.primary_key_position)]

    @property
    def dedupe_latest_by(self) -> list[str]:
        return list(self.schema_custom.get("dedupeLatestBy", []))

    @property
    def landing_file(self) -> str | None:
        return self.custom.get("landingFile")

    @property
    def alternatives(self) -> tuple[str, ...]:
        """Raw datasets that deliver the same facts another way (the tracker's web events or GA4's export): a day
        missing this file is expected when one of them arrived. The contract's custom property `alternativeTo`."""
        return tuple(self.custom.get("alternativeTo", ()))

    @property
    def partition_column(self) -> str | None:
        return self.custom.get("partitionColumn")

    @property
    def is_full_snapshot(self) -> bool:
        """Each delivery holds the whole dataset and replaces the previous one (the roster exports), instead of the
        day's increment: the schema's custom property `fullSnapshot: true`. An empty delivery, or one far smaller
        than the previous, is then suspect (schemas/full_snapshot.py; refused by sources/ingest.py)."""
        return self.schema_custom.get("fullSnapshot", False) is True


_OPERATORS = ("mustBe", "mustNotBe", "mustBeGreaterThan", "mustBeGreaterOrEqualTo", "mustBeLessThan",
              "mustBeLessOrEqualTo", "mustBeBetween", "mustNotBeBetween")


def _property(raw: dict) -> Property:
    options = raw.get("logicalTypeOptions") or {}
    relationships = tuple(r["to"] for r in raw.get("relationships") or [] if isinstance(r.get("to"), str))
    return Property(
        name=raw["name"], logical_type=raw.get("logicalType", "string"), description=raw.get("description", ""),
        required=bool(raw.get("required", False)),
        primary_key_position=raw.get("primaryKeyPosition", 1) if raw.get("primaryKey") else None,
        physical_type=raw.get("physicalType"), classification=raw.get("classification"),
        minimum=options.get("minimum"), maximum=options.get("maximum"), pattern=options.get("pattern"),
        enum=tuple(e["value"] for e in raw.get("enum") or []), relationships=relationships,
        partitioned=bool(raw.get("partitioned", False)), custom=_custom(raw.get("customProperties")),
    )


def _check_property(path: Path, prop: Property) -> None:
    where = f"{path}: property {prop.name!r}"
    on_invalid = prop.custom.get("onInvalid", "quarantine")
    if on_invalid not in ON_INVALID:
        raise ContractError(f"{where}: onInvalid must be one of {', '.join(ON_INVALID)} (as a quoted string: YAML "
                            f"reads a bare null as nothing), not {on_invalid!r}")
    if prop.informational and (prop.required or prop.primary_key_position is not None):
        raise ContractError(f"{where}: a required or primary-key column cannot be informational (onInvalid: null): "
                            "a row without it cannot be published")
    if prop.parsed_as is not None and (prop.parsed_as not in PARSED_AS or prop.logical_type != "string"):
        raise ContractError(f"{where}: parsedAs must be one of {', '.join(PARSED_AS)} on a string property, not "
                            f"{prop.parsed_as!r} on {prop.logical_type}")


def _quality(contract: str, raw: dict) -> QualityRule:
    operator = next((op for op in _OPERATORS if op in raw), None)
    if raw.get("type", "library") != "library" or operator is None:
        raise ContractError(f"{contract}: quality rule {raw.get('id')!r} must be a library metric with an operator")
    severity = raw.get("severity", "warning")
    if severity not in ("error", "warning"):
        raise ContractError(f"{contract}: quality rule {raw.get('id')!r} has severity {severity!r} (error|warning)")
    return QualityRule(raw["id"], raw.get("description", ""), raw["metric"], severity, operator, raw[operator],
                       raw.get("arguments") or {})


def parse_contract(path: Path | Traversable, layer: str | None = None) -> Contract:
    """One contract file; its layer is the folder it sits in unless given."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    layer = layer or Path(str(path)).parent.name
    if layer not in LAYERS:
        raise ContractError(f"{path}: contracts live in data_contracts/<{'|'.join(LAYERS)}>/")
    schema = (doc.get("schema") or [None])[0]
    if schema is None or len(doc["schema"]) != 1:
        raise ContractError(f"{path}: exactly one schema object per contract")
    full_snapshot = _custom(schema.get("customProperties")).get("fullSnapshot", False)
    if not isinstance(full_snapshot, bool):
        raise ContractError(f"{path}: custom property fullSnapshot must be true or false, not {full_snapshot!r}")
    properties = tuple(_property(p) for p in schema.get("properties", []))
    for prop in properties:
        _check_property(path, prop)
    return Contract(
        name=doc["name"], layer=layer, path=path, description=schema.get("description", ""),
        grain=schema.get("dataGranularityDescription", ""),
        properties=properties,
        quality=tuple(_quality(doc["name"], q) for q in schema.get("quality") or []),
        custom=_custom(doc.get("customProperties")), schema_custom=_custom(schema.get("customProperties")),
    )


@lru_cache(maxsize=None)
def load_contracts(directory: Path | Traversable = CONTRACTS_DIR) -> Mapping[str, Contract]:
    """Every contract under `directory`, by dataset name (names are unique across layers). A layer folder that is
    missing or empty is an error: without its contracts no dataset can be read, checked or published. Read-only:
    the mapping is cached for the process, and a caller adding to it (`contracts |= …`) would change every later
    caller's contracts (a test's made-up tables reached later tests' DDL that way); `|` gives a new dict instead."""
    contracts: dict[str, Contract] = {}
    for layer in LAYERS:
        folder = directory.joinpath(layer)
        paths = sorted((p for p in folder.iterdir() if p.name.endswith(".odcs.yaml")), key=lambda p: p.name) \
            if folder.is_dir() else []
        if not paths:
            raise ContractError(f"{folder}: no data contracts for layer {layer!r} (is the package installed whole?)")
        for path in paths:
            contract = parse_contract(path, layer)
            if contract.name in contracts:
                raise ContractError(f"{path}: dataset {contract.name!r} already has a contract")
            contracts[contract.name] = contract
    return MappingProxyType(contracts)


def contracts_in(layer: str) -> list[Contract]:
    return [c for c in load_contracts().values() if c.layer == layer]


def polars_schema(contract: Contract):
    """The Polars schema a contract's table has: its casting schema, derived from the logical (and, for money,
    physical) types."""
    import polars as pl

    def dtype(prop: Property) -> pl.DataType:
        if prop.physical_type and prop.physical_type.lower().startswith("decimal"):
            precision, scale = (int(x) for x in prop.physical_type[prop.physical_type.index("(") + 1:-1].split(","))
            return pl.Decimal(precision, scale)
        return {"string": pl.String, "integer": pl.Int64, "number": pl.Float64, "boolean": pl.Boolean,
                "date": pl.Date, "timestamp": pl.Datetime("us", "UTC")}[prop.logical_type]

    return pl.Schema({p.name: dtype(p) for p in contract.properties})


def table_schema(name: str):
    """The Polars schema of the table a contract names: what a reader of its lake files expects."""
    return polars_schema(load_contracts()[name])
