"""The landing days the fuzzer mutates: the golden fixture day (with the GA4 export and Shopify order nodes beside
it, so every raw dataset has a file) and a small generated sample day; and, once per origin, the raw batches and
clean rows of the untouched day, which give a mutated file its same-day references and its staging partners."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from influence_pipeline.fake_api.shopify import graphql_order
from influence_pipeline.sample import generate
from influence_pipeline.schemas.raw import DATASETS
from influence_pipeline.schemas.row_rules import row_rules
from influence_pipeline.sources.ingest import ingest_dataset, landing_path, scan_raw
from influence_pipeline.transforms.quarantine import check_batch, same_day_references
from tests.bad_input.helpers import CONTRACTS, DS, KEY
from tests.conftest import FIXTURES

#: a generated sample's web events are thousands of lines: a mutation needs only a few hundred
SAMPLE_LINES = 300


@dataclass
class Origin:
    """One untouched landing day: the bytes of every dataset's file, and its raw and clean frames by dataset."""
    name: str
    files: dict[str, bytes]
    raw: dict[str, pl.DataFrame]
    clean: dict[str, pl.DataFrame]


def _fixture_day(landing: Path) -> None:
    shutil.copytree(FIXTURES / "landing", landing)
    ga4 = landing / "ga4" / DS.isoformat()
    ga4.mkdir(parents=True)
    shutil.copy(FIXTURES / "ga4" / "landing" / "ga4" / DS.isoformat() / "events.ndjson", ga4 / "events.ndjson")
    orders = (landing / "orders" / DS.isoformat() / "orders.ndjson").read_text().splitlines()
    nodes = [json.dumps(graphql_order(json.loads(line))) for line in orders[:3]]  # line 4 is meant to be quarantined
    (landing / "orders" / DS.isoformat() / "order_nodes.ndjson").write_text("\n".join(nodes) + "\n")


def _sample_day(landing: Path, seed: int) -> None:
    generate(landing, DS, 1, scale=0.02, seed=seed, dirty_rate=0.05)
    events = landing / "web_events" / DS.isoformat() / "events.ndjson"
    with events.open("rb") as handle:
        head = [next(handle) for _ in range(SAMPLE_LINES)]
    events.write_bytes(b"".join(head))


def build_origin(name: str, work: Path, seed: int = 1) -> Origin:
    """Write the `name` ("fixture" or "sample") landing day under `work`, ingest and split every dataset of it."""
    landing, lake = work / name / "landing", work / name / "lake"
    if name == "fixture":
        _fixture_day(landing)
    else:
        _sample_day(landing, seed)
    files = {}
    for dataset in DATASETS:
        path, _ = landing_path(landing, dataset, DS)
        if path.exists():
            files[dataset.name] = path.read_bytes()
        ingest_dataset(dataset, landing, lake, DS, f"fuzz-{name}", KEY, 0.5)
    raw = {d.name: scan_raw(lake, d, DS).collect() for d in DATASETS}
    clean = {}
    for dataset in DATASETS:
        contract = CONTRACTS[dataset.name]
        rules = row_rules(contract, DS, same_day_references(contract, raw))
        clean[dataset.name] = check_batch(raw[dataset.name], contract, rules).split.clean
    return Origin(name, files, raw, clean)
