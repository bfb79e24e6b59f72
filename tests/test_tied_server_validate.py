"""`influence validate` ties Prefect's temporary server to its process like the nightly does: SIGKILLed mid-run, it
leaves no server (nor watchdog) listening behind it."""
import os
import signal
import subprocess
import sys
import time

from tests.conftest import FIXTURE_DATE
from tests.test_temporaries import ROOT, _children, assert_gone


def test_a_killed_validate_takes_its_temporary_prefect_server_with_it(data_dir, tmp_path):
    # a loaded machine can take longer than Prefect's default 20 s to start the server
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"),
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}
    env.pop("PREFECT_API_URL", None)  # the CLI's default: Prefect starts a temporary server for the run
    log = tmp_path / "validate.log"
    with log.open("wb") as out:
        child = subprocess.Popen([sys.executable, "-m", "influence_pipeline", "validate", "--date", FIXTURE_DATE],
                                 cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    servers, watchdogs = [], []
    try:
        deadline = time.monotonic() + 240
        while not watchdogs and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)  # the watchdog appears once the flow has tied its server
            children = _children(child.pid)
            servers = [pid for pid, cmd in children.items() if "uvicorn" in cmd]
            watchdogs = [pid for pid, cmd in children.items() if "SIG_IGN" in cmd]
        assert child.poll() is None and len(servers) == 1 and len(watchdogs) == 1, (children, log.read_text()[-3000:])
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert_gone(servers + watchdogs)
