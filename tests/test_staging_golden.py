"""Golden files: tests/fixtures/landing (tiny, hand-written, with the usual defects) → the expected staging tables in
tests/fixtures/expected, compared as CSV text, so money is compared to the cent and timestamps to the microsecond.

After an intended change, regenerate with UPDATE_GOLDEN=1 and review the diff like code.
"""
import os
from datetime import date
from pathlib import Path

import pytest

from schemas.raw import BY_NAME as RAW, DATASETS
from sources.ingest import ingest_dataset, scan_raw
from tests.conftest import FIXTURE_DATE, FIXTURES, TEST_PII_KEY
from transforms.staging.models import STAGING_MODELS

EXPECTED = FIXTURES / "expected"
DS = date.fromisoformat(FIXTURE_DATE)


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    lake_dir = tmp_path_factory.mktemp("lake")
    for dataset in DATASETS:
        ingest_dataset(dataset, FIXTURES / "landing", lake_dir, DS, "golden-run", TEST_PII_KEY.encode())
    return lake_dir


@pytest.mark.parametrize("model", STAGING_MODELS, ids=lambda m: m.name)
def test_staging_model_matches_golden_file(lake, model):
    frame = model.build(*[scan_raw(lake, RAW[name], DS) for name in model.inputs], landing_date=DS).collect()
    actual = frame.write_csv()
    expected_file = EXPECTED / f"{model.name}.csv"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_file.parent.mkdir(parents=True, exist_ok=True)
        expected_file.write_text(actual)
    assert actual == expected_file.read_text()
