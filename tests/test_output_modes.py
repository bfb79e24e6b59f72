"""Outputs are private by default: every file and folder a nightly creates (lake, warehouse, BI copy, validation
results, report) is 0600/0700 whatever the caller's umask; INFLUENCE_OUTPUT_MODE=group gives a BI group read access
(0640/0750). The CLI applies the same mode to what its commands write."""
import os
import stat
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import FIXTURE_DATE

DS = date.fromisoformat(FIXTURE_DATE)
MODES = {"private": (0o600, 0o700), "group": (0o640, 0o750)}


@pytest.fixture(autouse=True)
def open_umask():
    """Start from a permissive umask, as a shell's usual 022, and give the session back the one it had: the mode
    under test sets the process umask."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def _modes(root: Path, skip: Path) -> dict[str, int]:
    """Permission bits of every file and folder below `root` (not `root` itself, nor anything under `skip`; a
    symlink such as lake/current has no mode of its own: its target is listed)."""
    return {str(p.relative_to(root)) + ("/" if p.is_dir() else ""): stat.S_IMODE(p.lstat().st_mode)
            for p in root.rglob("*") if p != skip and skip not in p.parents and not p.is_symlink()}


def _wrong(modes: dict[str, int], mode: str) -> dict[str, str]:
    file_mode, dir_mode = MODES[mode]
    # The run's hidden staging folder and the lock files beside temporaries are created owner-only on purpose.
    internal = {".staging/"}
    return {p: oct(m) for p, m in modes.items() if p not in internal and not p.endswith(".lock")
            and m != (dir_mode if p.endswith("/") else file_mode)}


@pytest.mark.parametrize("mode", ["private", "group"])
def test_every_output_of_a_night_has_the_mode(prefect_harness, data_dir, monkeypatch, mode):
    from influence_pipeline.flows.nightly import nightly

    if mode == "group":
        monkeypatch.setenv("INFLUENCE_OUTPUT_MODE", "group")
    summary = nightly(ds=DS)
    modes = _modes(data_dir, data_dir / "landing")
    assert "warehouse.duckdb" in modes and str(Path(summary.report).relative_to(data_dir)) in modes
    assert any(p.startswith("lake/") and p.endswith(".parquet") for p in modes)
    assert any(p.startswith("validation/") for p in modes)
    assert any(p.startswith("bi/") for p in modes)
    assert _wrong(modes, mode) == {}
    assert stat.S_IMODE(Path(summary.report).stat().st_mode) == MODES[mode][0]


@pytest.mark.parametrize("mode", ["private", "group"])
def test_the_cli_applies_the_mode(tmp_path, monkeypatch, mode):
    from influence_pipeline.cli import app

    monkeypatch.setenv("INFLUENCE_OUTPUT_MODE", mode)
    out = tmp_path / "landing"
    result = CliRunner().invoke(app, ["sample", "--start", FIXTURE_DATE, "--days", "1", "--scale", "0.01",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    modes = _modes(tmp_path, tmp_path / "none")
    assert len(modes) > 10 and _wrong(modes, mode) == {}


def test_an_unknown_mode_is_refused(monkeypatch):
    from pydantic import ValidationError

    from influence_pipeline.settings import Settings

    monkeypatch.setenv("INFLUENCE_OUTPUT_MODE", "world")
    with pytest.raises(ValidationError, match="output_mode"):
        Settings()
