"""Fixtures of the TikTok pull tests: one sample world for the whole package, and a pull set up against a fake Business
API on a real local HTTP server."""
from __future__ import annotations

from pathlib import Path

import pytest

from influence_pipeline.fake_api.server import FakeApiServer, SampleWorld
from influence_pipeline.fake_api.tiktok import FakeTikTok
from influence_pipeline.sample import generate
from tests.pull_tiktok.helpers import APP_ID, APP_SECRET, DAY, START, Setup


@pytest.fixture(scope="package")
def world_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiktok") / "world"
    generate(root, START, 3, 0.2, 7, 0.0)
    return root


@pytest.fixture
def make(tmp_path, world_dir):
    servers = []

    def _make(**fake_options) -> Setup:
        fake = FakeTikTok(SampleWorld(world_dir, DAY), app_id=APP_ID, app_secret=APP_SECRET, **fake_options)
        server = FakeApiServer([fake]).start()
        servers.append(server)
        return Setup(tmp_path / f"pull{len(servers)}", world_dir, server, fake)

    yield _make
    for server in servers:
        server.stop()
