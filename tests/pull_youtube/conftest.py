"""Fixtures of the YouTube pull tests: one sample world for the whole package, and fake YouTube setups closed after
each test."""
from __future__ import annotations

from pathlib import Path

import pytest

from influence_pipeline.sample import generate
from tests.pull_youtube.helpers import START, Setup, channels


@pytest.fixture(scope="package")
def world_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("yt") / "world"
    generate(root, START, 3, 0.2, 7, 0.0)
    return root


@pytest.fixture
def make(tmp_path, world_dir):
    made = []

    def build(connected: list[str] | None = None, **kwargs) -> Setup:
        setup = Setup(tmp_path / f"s{len(made)}", world_dir, channels(world_dir) if connected is None else connected,
                      **kwargs)
        made.append(setup)
        return setup

    yield build
    for setup in made:
        setup.close()
