"""Fixtures of the Instagram pull tests: one sample world for the whole package."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from influence_pipeline.sample import generate


@pytest.fixture(scope="package")
def world_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ig") / "world"
    generate(out, date(2026, 11, 1), 3, 0.2, 7, 0.0)
    return out
