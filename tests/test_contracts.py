"""The data contracts: valid ODCS v3, one per dataset, and the single source the pipeline derives from."""
import json
from datetime import date
from pathlib import Path

import jsonschema
import open_data_contract_standard
import polars as pl
import pytest
import yaml

from influence_pipeline.schemas.contract import CONTRACTS_DIR, load_contracts, polars_schema
from influence_pipeline.schemas.raw import DATASETS
from influence_pipeline.schemas.row_rules import published_rules, raw_dataset_rules, row_rules
from influence_pipeline.transforms.staging.registry import STAGING_MODELS

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
    assert len(landing) == 18 and {d.name for d in DATASETS} == landing
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
    from influence_pipeline.schemas.gx import _gx_kwargs

    for rule in rules:
        getattr(gx.expectations, rule.gx_type)(**_gx_kwargs(rule.gx_kwargs))
        assert (rule.fail is None) == (rule.reason is None)
    assert sum(r.is_row_level for r in rules) > 150


def test_roster_platform_pattern_accepts_exactly_the_aliases_staging_knows():
    import re

    from influence_pipeline.transforms.staging.common import PLATFORM_ALIASES

    pattern = re.compile(load_contracts()["roster_social_accounts"].prop("platform").pattern)
    for alias in PLATFORM_ALIASES:
        for typed in (alias, alias.upper(), alias.title()):
            assert pattern.match(typed), typed
    for unknown in ("Facebook", "Twitch", "insta gram", "ig tv"):
        assert not pattern.match(unknown)


# ------------------------------------------------------------------------------ informational columns, parsers


#: The roster columns whose bad value is set to null (with a warning) instead of quarantining the row.
INFORMATIONAL = {"roster_influencers": {"full_name", "country", "signed_on"},
                 "roster_social_accounts": {"handle", "niche", "followers"}}


def test_informational_columns_are_marked_in_the_contracts_and_their_rules_null_instead_of_quarantining():
    contracts = load_contracts()
    marked = {c.name: {p.name for p in c.properties if p.informational} for c in contracts.values()}
    assert {name: columns for name, columns in marked.items() if columns} == INFORMATIONAL
    for name, columns in INFORMATIONAL.items():
        contract = contracts[name]
        rules = row_rules(contract, date(2026, 11, 2))
        assert {r.column for r in rules if r.on_fail == "null"} == columns
        # the key and required columns still quarantine their row
        assert {r.column for r in rules if r.on_fail == "quarantine"} == {
            p.name for p in contract.properties if p.required or p.primary_key_position is not None}
        assert all("informational column" in r.description for r in rules if r.on_fail == "null")


def _contract_with(tmp_path, **prop) -> Path:
    doc = yaml.safe_load((CONTRACTS_DIR / "raw" / "roster_influencers.odcs.yaml").read_text())
    doc["schema"][0]["properties"].append({"name": "extra", "logicalType": "string", "description": "x", **prop})
    path = tmp_path / "raw" / "roster_extra.odcs.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


@pytest.mark.parametrize(("prop", "message"), [
    ({"required": True, "customProperties": [{"property": "onInvalid", "value": "null"}]}, "cannot be informational"),
    ({"primaryKey": True, "primaryKeyPosition": 2, "customProperties": [{"property": "onInvalid", "value": "null"}]},
     "cannot be informational"),
    ({"customProperties": [{"property": "onInvalid", "value": None}]}, "quoted string"),
    ({"customProperties": [{"property": "onInvalid", "value": "drop"}]}, "onInvalid must be one of"),
    ({"customProperties": [{"property": "parsedAs", "value": "money"}]}, "parsedAs must be one of"),
    ({"logicalType": "integer", "customProperties": [{"property": "parsedAs", "value": "humanCount"}]},
     "parsedAs must be one of"),
])
def test_a_contract_misusing_the_markers_is_refused(tmp_path, prop, message):
    from influence_pipeline.schemas.contract import ContractError, parse_contract

    with pytest.raises(ContractError, match=message):
        parse_contract(_contract_with(tmp_path, **prop))


def test_every_parser_a_contract_may_name_exists_and_is_packaged():
    import tomllib

    from influence_pipeline.schemas.contract import PARSED_AS
    from influence_pipeline.transforms.quarantine import PARSERS

    assert PARSED_AS.keys() == PARSERS.keys()
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert "*.csv" in pyproject["tool"]["setuptools"]["package-data"]["influence_pipeline.transforms.staging"]
