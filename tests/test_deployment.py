"""End to end through Prefect's real machinery: a served Prefect server on 127.0.0.1, a process work pool, `prefect
deploy --all` from prefect.yaml, a worker, the nightly deployment run for the fixture date, then a backfill fanned out over two workers as runs of the
ingest and nightly deployments."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from tests.conftest import FIXTURE_DATE, FIXTURES, TEST_PII_KEY

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "the Prefect server exited"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("the Prefect server did not become healthy")


def _stop(process: subprocess.Popen) -> None:
    """Stop a process we started, and its children, by process group."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


LIST_RUNS = """
import json
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as client:
    names = {d.id: d.name for d in client.read_deployments()}
    print(json.dumps([{"deployment": names.get(r.deployment_id), "ds": str(r.parameters.get("ds")),
                       "state": r.state.type.value, "key": r.idempotency_key or ""} for r in client.read_flow_runs()]))
"""


def test_nightly_deployment_runs_through_a_worker(tmp_path):
    port = _free_port()
    data = tmp_path / "data"
    shutil.copytree(FIXTURES / "landing", data / "landing")
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "1",
           "INFLUENCE_DATA_DIR": str(data), "INFLUENCE_PII_KEY": TEST_PII_KEY}
    env.pop("INFLUENCE_WAREHOUSE_URL", None)
    started = []
    try:
        server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                  cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        started.append(server)
        _wait_healthy(env["PREFECT_API_URL"], server)

        def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
            done = subprocess.run([PREFECT, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
            assert done.returncode == 0, done.stdout + done.stderr
            return done

        cli("work-pool", "create", "influence-process", "--type", "process")
        deployed = cli("--no-prompt", "deploy", "--all")
        assert "nightly/nightly" in deployed.stdout and "backfill/backfill" in deployed.stdout
        for _ in range(2):  # two workers on one pool: a backfill's day runs go to whichever is free
            started.append(subprocess.Popen([PREFECT, "worker", "start", "--pool", "influence-process"], env=env,
                                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                            start_new_session=True))
        run = cli("deployment", "run", "nightly/nightly", "--param", f"ds={FIXTURE_DATE}", "--watch",
                  "--watch-timeout", "300", timeout=360)
        assert "Completed" in run.stdout + run.stderr
        run = cli("deployment", "run", "backfill/backfill", "--param", "start=2026-11-01", "--param",
                  f"end={FIXTURE_DATE}", "--param", "concurrency=2", "--param", "deployments=true", "--watch",
                  "--watch-timeout", "600", timeout=660)
        assert "Completed" in run.stdout + run.stderr
        runs = json.loads(subprocess.run([sys.executable, "-c", LIST_RUNS], env=env, capture_output=True, text=True,
                                         check=True, timeout=60).stdout)
    finally:
        for process in reversed(started):
            _stop(process)

    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        conversions = con.execute("SELECT count(*) FROM marts.fct_conversion").fetchone()[0]
    assert conversions == 4
    fanned_out = sorted((r["deployment"], r["ds"], r["state"]) for r in runs if r["key"].startswith("backfill-"))
    # The nightly of 11-01 replays the already processed fixture day after it, so that day needs no run of its own.
    assert fanned_out == [("ingest", day, "COMPLETED") for day in ("2026-11-01", FIXTURE_DATE)] + [
        ("nightly", "2026-11-01", "COMPLETED")]
    assert (data / "bi" / "warehouse.duckdb").exists()
    assert list((data / "lake" / "current" / "marts" / "fct_visit").glob("visit_date=*/part-0.parquet"))
