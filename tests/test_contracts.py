"""The data contracts: valid ODCS v3, one per dataset, and the single source the pipeline derives from."""
import json
from datetime import date
from pathlib import Path

import jsonschema
import open_data_contract_standard
import polars as pl
import pytest
import yaml

from contracts.model import CONTRACTS_DIR, load_contracts, polars_schema
from contracts.rules import published_rules, raw_dataset_rules, row_rules
from schemas.raw import DATASETS
from transforms.staging.models import STAGING_MODELS

ODCS_SCHEMA = json.loads((Path(open_data_contract_standard.__file__).parent / "schema.json").read_text())
CONTRACT_FILES = sorted(CONTRACTS_DIR.glob("*/*.odcs.yaml"))
LOGICAL = {pl.String: "string", pl.Int64: "integer", pl.Float64: "number", pl.Boolean: "boolean", pl.Date: "date"}


@pytest.mark.parametrize("path", CONTRACT_FILES, ids=lambda p: p.stem)
def test_contract_is_valid_odcs_v3(path):
    doc = yaml.safe_load(path.read_text())
    errors = [e.message for e in jsonschema.Draft201909Validator(ODCS_SCHEMA).iter_errors(doc)]
    assert errors == []
    assert doc["apiVersion"].startswith("v3.") and doc["kind"] == "DataContract"
    schema = doc["schema"][0]
    assert schema["dataGranularityDescription"].startswith("One row per"), "the grain, in one sentence"
    assert all(p.get("description") for p in schema["properties"]), "every column has a description"


def test_every_dataset_has_a_contract():
    contracts = load_contracts()
    landing = {c.name for c in contracts.values() if c.layer == "raw"}
    assert len(landing) == 16 and {d.name for d in DATASETS} == landing
    assert {m.name for m in STAGING_MODELS} <= {c.name for c in contracts.values() if c.layer == "staging"}
    assert "run_sources" in contracts


def _logical(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamp"
    if isinstance(dtype, pl.Decimal):
        return "number"
    return LOGICAL[dtype.base_type()]


@pytest.mark.parametrize("model", STAGING_MODELS, ids=lambda m: m.name)
def test_staging_output_is_exactly_what_its_contract_says(model):
    contract = load_contracts()[model.name]
    empty_inputs = [pl.LazyFrame(schema=pl.Schema(next(d for d in DATASETS if d.name == name).arrow_schema))
                    for name in model.inputs]
    schema = model.build(*empty_inputs, landing_date=date(2026, 11, 2)).collect_schema()
    assert schema == polars_schema(contract)  # names, order and exact types: money decimal(18,2), UTC timestamps


def test_every_rule_compiles_for_both_engines():
    import great_expectations as gx

    contracts = load_contracts()
    rules = []
    for contract in contracts.values():
        if contract.layer == "raw":
            rules += row_rules(contract, date(2026, 11, 2)) + raw_dataset_rules(contract)
        elif contract.layer == "staging":
            rules += published_rules(contract)
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids)), "rule ids are unique"
    from contracts.gx import _gx_kwargs

    for rule in rules:
        getattr(gx.expectations, rule.gx_type)(**_gx_kwargs(rule.gx_kwargs))
        assert (rule.fail is None) == (rule.reason is None)
    assert sum(r.is_row_level for r in rules) > 150


def test_roster_platform_pattern_accepts_exactly_the_aliases_staging_knows():
    import re

    from transforms.staging.common import PLATFORM_ALIASES

    pattern = re.compile(load_contracts()["roster_social_accounts"].prop("platform").pattern)
    for alias in PLATFORM_ALIASES:
        for typed in (alias, alias.upper(), alias.title()):
            assert pattern.match(typed), typed
    for unknown in ("Facebook", "Twitch", "insta gram", "ig tv"):
        assert not pattern.match(unknown)
