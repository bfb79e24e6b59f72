"""Golden files: tests/fixtures/landing (tiny, hand-written, with the usual defects) → the expected staging and
quarantine tables in tests/fixtures/expected, compared as CSV text, so money is compared to the cent and timestamps to
the microsecond.

After an intended change, regenerate with UPDATE_GOLDEN=1 and review the diff like code.
"""
import os
from datetime import date

import pytest

from influence_pipeline.schemas.contract import load_contracts
from influence_pipeline.schemas.raw import DATASETS
from influence_pipeline.schemas.row_rules import row_rules
from influence_pipeline.sources.ingest import ingest_dataset, scan_raw
from influence_pipeline.transforms.quarantine import same_day_references, split_batch
from influence_pipeline.transforms.staging.registry import STAGING_MODELS
from tests.conftest import FIXTURE_DATE, FIXTURES, TEST_PII_KEY

EXPECTED = FIXTURES / "expected"
DS = date.fromisoformat(FIXTURE_DATE)


def _matches_golden(name: str, actual: str) -> bool:
    expected_file = EXPECTED / f"{name}.csv"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_file.parent.mkdir(parents=True, exist_ok=True)
        expected_file.write_text(actual)
    return actual == expected_file.read_text()


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    lake = tmp_path_factory.mktemp("lake")
    for dataset in DATASETS:
        ingest_dataset(dataset, FIXTURES / "landing", lake, DS, "golden-run", TEST_PII_KEY.encode())
    raw = {d.name: scan_raw(lake, d, DS).collect() for d in DATASETS}
    contracts = load_contracts()
    result = {}
    for dataset in DATASETS:
        contract = contracts[dataset.name]
        refs = same_day_references(contract, raw)
        result[dataset.name] = split_batch(raw[dataset.name], contract, row_rules(contract, DS, refs))
    return result


@pytest.mark.parametrize("model", STAGING_MODELS, ids=lambda m: m.name)
def test_staging_model_matches_golden_file(splits, model):
    frame = model.build(*[splits[name].clean.lazy() for name in model.inputs], landing_date=DS).collect()
    assert _matches_golden(model.name, frame.write_csv())


@pytest.mark.parametrize("dataset", [d.name for d in DATASETS])
def test_quarantine_matches_golden_file(splits, dataset):
    quarantined = splits[dataset].quarantined.select("_source_file", "_row_number", "rule_id", "failed_rules", "reason")
    assert _matches_golden(f"quarantine_{dataset}", quarantined.write_csv())
