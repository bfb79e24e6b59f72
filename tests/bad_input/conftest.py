"""Fixtures of the bad-input tests."""
import shutil
from pathlib import Path

import pytest

from tests.bad_input.helpers import FIXTURES, SplitResult, _check_day


@pytest.fixture
def landing(tmp_path) -> Path:
    target = tmp_path / "landing"
    shutil.copytree(FIXTURES / "landing", target)
    return target


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> dict[str, SplitResult]:
    """The split of the untouched golden landing day: each test's edit must change only the edited line."""
    return _check_day(FIXTURES / "landing", tmp_path_factory.mktemp("baseline-lake"))


@pytest.fixture(params=["per_line", "native"])
def both_ndjson_readers(request, monkeypatch) -> str:
    """The modules that use it run each case through both NDJSON readers: the native one must quarantine the same
    lines with the same reasons (the fixtures are far below the size where it is used by default)."""
    from influence_pipeline.sources import ndjson_native

    if request.param == "native":
        monkeypatch.setattr(ndjson_native, "NATIVE_MIN_BYTES", 0)
    return request.param


SECRET = "root:x:0:0:root:/root:/bin/bash"


@pytest.fixture
def outside(tmp_path):
    """A file outside the data dir, shaped so that each reader would take it: a CSV line and a JSON object line."""
    folder = tmp_path / "etc"
    folder.mkdir()
    secret = folder / "passwd"
    secret.write_text(f"{SECRET}\n" + '{"event_id": "' + SECRET + '"}\n')
    return secret
