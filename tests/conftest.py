import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_DATE = "2026-11-02"
TEST_PII_KEY = "dce36b7f1626447d0603fd4cf34f3c99b064d39850a7b940aecb01d7aeea84de"  # strong: a weak key is refused

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

# Hypothesis: "ci" (the default, what `make test` runs) generates the full number of examples; "dev" (`make check`)
# fewer, for a fast lane. Tests that need a floor of generated records derive it from the profile's max_examples.
settings.register_profile("ci", max_examples=42)
settings.register_profile("dev", max_examples=16)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: Fixtures that make a test an integration test: a Prefect server or the PostgreSQL database.
INTEGRATION_FIXTURES = {"prefect_harness", "pg_database"}


def pytest_collection_modifyitems(config, items):
    """Mark `integration` every test that needs a Prefect server or PostgreSQL, so the fast lane (`make check`) can
    leave them to the full suite without each test having to remember the marker."""
    for item in items:
        if INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


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


@pytest.fixture(scope="session")
def pg_database(worker_id) -> str:
    """The PostgreSQL that scripts/test.sh starts, one database per xdist worker (`<base>_gw0`, ...), so parallel
    workers never drop each other's schemas; created on first use (the test role may create databases)."""
    url = os.environ.get("INFLUENCE_TEST_PG_URL")
    if not url:
        pytest.fail("INFLUENCE_TEST_PG_URL is not set: run the tests through scripts/test.sh (make test)")
    if worker_id == "master":
        return url
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"{parsed.database}_{worker_id}"
    with psycopg.connect(**_connect_args(parsed), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return parsed.set(database=name).render_as_string(hide_password=False)


def _connect_args(parsed) -> dict:
    return dict(host=parsed.host, port=parsed.port or 5432, user=parsed.username, password=parsed.password,
                dbname=parsed.database)


@pytest.fixture
def pg_url(pg_database) -> str:
    """This worker's test database with a fresh schema state for each test."""
    import psycopg
    from sqlalchemy.engine import make_url

    with psycopg.connect(**_connect_args(make_url(pg_database)), autocommit=True) as conn:
        for schema in ("staging", "marts", "audit", "quarantine"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    return pg_database


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
