"""End to end through Prefect's real machinery, following the README: the numbered deployment block of its
"Orchestration" section runs as printed (a served Prefect server on 127.0.0.1, the API URL saved in the profile,
`influence prefect-setup` for the Secret blocks and the process work pool, `prefect deploy --all` from prefect.yaml,
workers), then the nightly deployment runs for the fixture date, then a backfill fanned out over two workers as runs
of the ingest and nightly deployments. The workers get neither the PII key nor the timezone: the pool's Secret block
and the deployments' job variables must deliver them, and the key must show up nowhere but in the hashes."""
import hashlib
import hmac
import json
import os
import re
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

from tests.conftest import FIXTURE_DATE, FIXTURES

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))
# Longer and more distinctive than the other tests' key, so that searching every output for it means something.
PII_KEY = "e2e-7c41d09b3fa2a8e05d1f6b93c2478de0a5b16f3c9e2d4087b1a6c5f3e9d20b74"
TIMEZONE = "Asia/Tokyo"


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


def readme_deploy_block() -> list[str]:
    """The commands of the README's numbered deployment block, comments dropped."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Orchestration"):text.index("### Running on a cluster")]
    blocks = [b for b in re.findall(r"^```bash\n(.*?)^```", section, re.S | re.M) if "prefect worker start" in b]
    assert len(blocks) == 1, "the Orchestration section should have one deployment block"
    return [line.strip() for line in blocks[0].splitlines() if line.strip() and not line.lstrip().startswith("#")]


LIST_RUNS = """
import json
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as client:
    names = {d.id: d.name for d in client.read_deployments()}
    print(json.dumps([{"deployment": names.get(r.deployment_id), "ds": str(r.parameters.get("ds")),
                       "state": r.state.type.value, "key": r.idempotency_key or ""} for r in client.read_flow_runs()]))
"""

# What the server keeps: every deployment, the pool's template, every log line of every run.
INSPECT = """
import json
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as client:
    deployments = {d.name: {"entrypoint": d.entrypoint, "pull_steps": d.pull_steps, "job_variables": d.job_variables,
                            "timezones": [s.schedule.timezone for s in d.schedules]} for d in client.read_deployments()}
    template = client.read_work_pool("influence-process").base_job_template
    logs, offset = [], 0
    while batch := client.read_logs(offset=offset, limit=200):
        logs += [log.message for log in batch]
        offset += len(batch)
    print(json.dumps({"deployments": deployments, "template": template, "logs": logs}))
"""


def test_nightly_deployment_runs_through_a_worker(tmp_path):
    port = _free_port()
    data = tmp_path / "data"
    shutil.copytree(FIXTURES / "landing", data / "landing")
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    # A fresh terminal: no Prefect API URL, no INFLUENCE_* settings; the Prefect profile lives under PREFECT_HOME.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("INFLUENCE_", "PREFECT_"))}
    base.update({"PREFECT_HOME": str(tmp_path / "prefect"), "PATH": f"{Path(sys.executable).parent}:{base['PATH']}",
                 "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false",
                 "PREFECT_UI_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "1"})
    shell = dict(base)  # the deploying shell: what the block exports accumulates here
    api_url = f"http://127.0.0.1:{port}/api"
    started, workers = [], []

    def output_file(name: str):
        return open(outputs / f"{name}.log", "w")

    def background(line: str, env: dict, name: str) -> subprocess.Popen:
        with output_file(name) as out:
            process = subprocess.Popen(["bash", "-c", line], env=env, cwd=tmp_path, stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        started.append(process)
        return process

    def sh(line: str, env: dict, name: str, timeout: float = 180) -> str:
        done = subprocess.run(["bash", "-c", line], env=env, cwd=ROOT, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout)
        (outputs / f"{name}.log").write_text(done.stdout + done.stderr)
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        return done.stdout + done.stderr

    def cli(*args: str, timeout: float = 180) -> str:
        return sh(" ".join([PREFECT, *args]), base, f"cli-{len(list(outputs.iterdir()))}", timeout)

    steps = [line.replace("--port 4200", f"--port {port}").replace("127.0.0.1:4200", f"127.0.0.1:{port}")
             .replace("/srv/influence", str(data)) for line in readme_deploy_block()]
    kinds = []
    try:
        for line in steps:
            if line.startswith("prefect server start"):
                kinds.append("server")
                server = background(line, shell, "server")
                _wait_healthy(api_url, server)
            elif line.startswith("prefect config set PREFECT_API_URL="):
                kinds.append("api-url")
                assert line.endswith(api_url)
                sh(line, shell, "config")
            elif line.startswith("pip install"):
                kinds.append("install")  # installed already: the test runs from this package's venv
                assert shutil.which("influence", path=shell["PATH"])
            elif line.startswith("export INFLUENCE_TIMEZONE="):
                kinds.append("timezone")
                shell["INFLUENCE_TIMEZONE"] = TIMEZONE
            elif line == "influence prefect-setup":
                kinds.append("setup")  # the operator's secret store hands it the key, nothing else does
                setup = sh(line, {**shell, "INFLUENCE_PII_KEY": PII_KEY}, "prefect-setup")
                assert "influence-pii-key" in setup and "influence-warehouse-url" not in setup
            elif line == "prefect --no-prompt deploy --all":
                kinds.append("deploy")
                # Without the timezone the deploy fails (prefect.yaml's build step), before creating anything.
                unset = {k: v for k, v in shell.items() if k != "INFLUENCE_TIMEZONE"}
                failed = subprocess.run(["bash", "-c", line], env=unset, cwd=ROOT, capture_output=True, text=True,
                                        stdin=subprocess.DEVNULL, timeout=180)
                (outputs / "deploy-without-timezone.log").write_text(failed.stdout + failed.stderr)
                assert failed.returncode != 0 and "INFLUENCE_TIMEZONE is not set" in failed.stdout + failed.stderr
                deployed = sh(line, shell, "deploy")
                assert "nightly/nightly" in deployed and "backfill/backfill" in deployed
            elif "prefect worker start --pool influence-process" in line:
                kinds.append("worker")
                for n in range(2):  # two workers on one pool: a backfill's day runs go to whichever is free
                    workers.append(background(line, base, f"worker-{n}"))  # another terminal: no exports
            else:
                pytest.fail(f"the README's deployment block has a step this test does not know: {line}")
        assert kinds == ["server", "api-url", "install", "timezone", "setup", "deploy", "worker"]

        out = cli("deployment", "run", "nightly/nightly", "--param", f"ds={FIXTURE_DATE}", "--watch",
                  "--watch-timeout", "300", timeout=360)
        assert "Completed" in out
        out = cli("deployment", "run", "backfill/backfill", "--param", "start=2026-11-01", "--param",
                  f"end={FIXTURE_DATE}", "--param", "concurrency=2", "--param", "deployments=true", "--watch",
                  "--watch-timeout", "600", timeout=660)
        assert "Completed" in out
        runs = json.loads(subprocess.run([sys.executable, "-c", LIST_RUNS], env=base, capture_output=True, text=True,
                                         check=True, timeout=60).stdout)
        stored = json.loads(subprocess.run([sys.executable, "-c", INSPECT], env=base, capture_output=True, text=True,
                                           check=True, timeout=60).stdout)
    finally:
        for process in reversed(started):
            _stop(process)

    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        conversions = con.execute("SELECT count(*) FROM marts.fct_conversion").fetchone()[0]
        email_hashes = {row[0] for row in con.execute("SELECT email_hash FROM staging.stg_signups").fetchall()}
    assert conversions == 4
    fanned_out = sorted((r["deployment"], r["ds"], r["state"]) for r in runs if r["key"].startswith("backfill-"))
    # The nightly of 11-01 replays the already processed fixture day after it, so that day needs no run of its own.
    assert fanned_out == [("ingest", day, "COMPLETED") for day in ("2026-11-01", FIXTURE_DATE)] + [
        ("nightly", "2026-11-01", "COMPLETED")]
    assert (data / "bi" / "warehouse.duckdb").exists()
    assert list((data / "lake" / "current" / "marts" / "fct_visit").glob("visit_date=*/part-0.parquet"))

    # Personal data hashed with the key from the Secret block (the workers had no other), and no dev key made.
    assert hmac.new(PII_KEY.encode(), b"bob@example.com", hashlib.sha256).hexdigest() in email_hashes
    assert not (data / ".pii_key").exists()
    # One timezone: the nightly's schedule and its runs' INFLUENCE_TIMEZONE both came from the deploying shell.
    deployments = stored["deployments"]
    assert deployments["nightly"]["timezones"] == [TIMEZONE]
    assert all(d["job_variables"]["env"]["INFLUENCE_TIMEZONE"] == TIMEZONE for d in deployments.values())
    # Module entrypoints, no pull step: a worker needs the installed package, not this checkout.
    assert {d["entrypoint"] for d in deployments.values()} == {
        "influence_pipeline.flows.nightly.nightly", "influence_pipeline.flows.backfill.ingest_landing",
        "influence_pipeline.flows.backfill.backfill", "influence_pipeline.flows.pull.pull"}
    # Every scheduled deployment, the pulls included, runs on the deploying shell's timezone.
    assert {n: d["timezones"] for n, d in deployments.items() if n.startswith("pull-")} == {
        n: [TIMEZONE] for n in ("pull-instagram", "pull-instagram-stories", "pull-tiktok", "pull-youtube", "pull-shopify")}
    assert all(not d["pull_steps"] for d in deployments.values())
    # The key is in the Secret block only: the pool holds a reference, and nothing stored or printed holds the value.
    assert stored["template"]["variables"]["properties"]["env"]["default"]["INFLUENCE_PII_KEY"] == (
        "{{ prefect.blocks.secret.influence-pii-key }}")
    for what, value in (("deployments", deployments), ("work pool", stored["template"]), ("run logs", stored["logs"])):
        assert PII_KEY not in json.dumps(value), f"the PII key is stored in the {what}"
    assert len(stored["logs"]) > 100  # the runs' logs were read, not an empty page
    for log in sorted(outputs.iterdir()):
        assert PII_KEY not in log.read_text(errors="replace"), f"the PII key was printed: {log.name}"
    assert {f"worker-{n}.log" for n in range(2)} <= {log.name for log in outputs.iterdir()}
