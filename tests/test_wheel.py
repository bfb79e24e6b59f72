"""The package as a Prefect worker, a container or a CI image gets it: a wheel built from the repository's files,
installed into a fresh virtual environment and run from an unrelated directory — no checkout on the path."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import TEST_PII_KEY

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
CONTRACT_LAYERS = {"raw": 18, "staging": 11, "marts": 12, "audit": 2}


def _tracked_copy(target: Path) -> Path:
    """The repository's tracked files only: a stale build/ or egg-info of the checkout must not reach the wheel."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            (target / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            (target / os.fsdecode(name)).write_bytes(source.read_bytes())
    return target


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    source = _tracked_copy(tmp / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check",
                    "-w", str(tmp / "dist"), str(source)], check=True, capture_output=True)
    (built,) = (tmp / "dist").glob("influence_pipeline-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed. Its dependencies come from the test environment's
    site-packages through a .pth line; .pth files found there (the checkout's editable finder) are not processed, so
    influence_pipeline can only come from the wheel."""
    env = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    site = next((env / "lib").glob("python3*/site-packages"))
    deps = next(p for p in map(Path, sys.path) if p.name == "site-packages" and (p / "polars").is_dir())
    (site / "dependencies.pth").write_text(f"{deps}\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install", "--quiet",
                    "--no-deps", "--disable-pip-version-check", str(wheel)], check=True, capture_output=True)
    return env


def test_the_wheel_carries_one_import_package_and_every_data_file(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"influence_pipeline"}
    for layer, count in CONTRACT_LAYERS.items():
        assert len([n for n in names if n.startswith(f"influence_pipeline/data_contracts/{layer}/")
                    and n.endswith(".odcs.yaml")]) == count, layer
    assert "influence_pipeline/rules.yaml" in names
    assert len([n for n in names if n.startswith("influence_pipeline/sinks/views/") and n.endswith(".sql")]) == 3
    assert {"influence_pipeline/transforms/staging/countries.csv",
            "influence_pipeline/transforms/staging/country_synonyms.csv"} <= set(names)
    # every source folder of the repository is a package in the wheel (the explicit package list stays complete)
    packaged = {n.rsplit("/", 1)[0] for n in names if n.endswith("/__init__.py")}
    tracked = subprocess.run(["git", "ls-files", "*__init__.py"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    for init in tracked:
        folder = init.rsplit("/", 1)[0]
        if folder.split("/")[0] in ("tests", "benchmarks"):
            continue
        inner = folder if folder.startswith("influence_pipeline") else f"influence_pipeline/{folder}"
        assert inner in packaged, f"{folder} is not in the wheel"


def _run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(cwd), "PREFECT_HOME": str(cwd / ".prefect"),
           "INFLUENCE_DATA_DIR": str(cwd / "data"), "INFLUENCE_PII_KEY": TEST_PII_KEY, "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "GX_ANALYTICS_ENABLED": "false", "LANG": "C.UTF-8",
           # a loaded machine (parallel tests) can take longer than the default 20 s to start the temporary server
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_installed_package_generates_sample_data_and_runs_a_night_from_any_directory(venv, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = _run(venv, elsewhere, str(venv / "bin" / "python"), "-c",
                 "import importlib.util, json, influence_pipeline; print(json.dumps([influence_pipeline.__file__, "
                 "[m for m in ('flows', 'transforms', 'schemas', 'sinks', 'sources', 'contracts') "
                 "if importlib.util.find_spec(m)]]))")
    assert probe.returncode == 0, probe.stderr
    location, generic = json.loads(probe.stdout)
    assert Path(location).is_relative_to(venv) and generic == []

    sample = _run(venv, elsewhere, str(venv / "bin" / "influence"), "sample", "--start", "2026-11-01", "--days", "2",
                  "--scale", "0.05")
    assert sample.returncode == 0, sample.stdout + sample.stderr
    night = _run(venv, elsewhere, str(venv / "bin" / "influence"), "run", "--date", "2026-11-02")
    assert night.returncode == 0, night.stdout + night.stderr
    import duckdb

    with duckdb.connect(str(elsewhere / "data" / "warehouse.duckdb"), read_only=True) as con:
        posts = con.execute("SELECT count(*) FROM marts.fct_post_engagement").fetchone()[0]
        comment = con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'fct_post_engagement'").fetchone()
    assert posts > 0 and "post" in comment[0]  # the table comment, from the packaged contract
    assert list((elsewhere / "data" / "lake" / "current" / "marts" / "fct_post_engagement").glob("*/*.parquet"))


def test_a_package_without_its_contracts_fails_loudly(venv, tmp_path):
    broken = _run(venv, tmp_path, str(venv / "bin" / "python"), "-c",
                  "from pathlib import Path; from influence_pipeline.schemas.contract import load_contracts, "
                  "CONTRACTS_DIR; import sys; load_contracts(Path(sys.argv[1]))", str(tmp_path))
    assert broken.returncode == 1
    assert "ContractError" in broken.stderr and "no data contracts for layer 'raw'" in broken.stderr
