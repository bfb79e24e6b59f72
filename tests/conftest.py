import os
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_DATE = "2026-11-02"
TEST_PII_KEY = "test-key"

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for the whole session: starting one costs seconds."""
    from prefect.logging.configuration import setup_logging
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        # Prefect binds its console log handler to sys.stderr when logging is first set up; done inside a CliRunner
        # test, that is the runner's stream, closed once the test ends, and every later log line fails.
        setup_logging()
        yield


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A data dir holding the tiny golden landing files, wired into the settings through the environment."""
    root = tmp_path / "data"
    shutil.copytree(FIXTURES / "landing", root / "landing")
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(root))
    monkeypatch.setenv("INFLUENCE_PII_KEY", TEST_PII_KEY)
    monkeypatch.delenv("INFLUENCE_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("INFLUENCE_RULES_FILE", raising=False)
    return root


@pytest.fixture
def pg_url() -> str:
    """The PostgreSQL that scripts/test.sh starts; a fresh schema state per test."""
    url = os.environ.get("INFLUENCE_TEST_PG_URL")
    if not url:
        pytest.fail("INFLUENCE_TEST_PG_URL is not set: run the tests through scripts/test.sh (make test)")
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    with psycopg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username, password=parsed.password,
                         dbname=parsed.database, autocommit=True) as conn:
        for schema in ("staging", "marts", "audit"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    return url


def run_demo(tmp_path: Path, monkeypatch, *args: str):
    """`influence demo` into a fresh data dir with no PII key (the demo makes a dev key): the README's main job."""
    from typer.testing import CliRunner

    from influence_pipeline.cli import app

    data = tmp_path / "data"
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(data))
    monkeypatch.delenv("INFLUENCE_PII_KEY", raising=False)
    monkeypatch.delenv("INFLUENCE_WAREHOUSE_URL", raising=False)
    result = CliRunner().invoke(app, ["demo", *args])
    assert result.exit_code == 0, result.output
    return data, result
