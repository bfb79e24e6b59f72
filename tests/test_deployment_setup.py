"""The pieces of a Prefect deployment that run before any data is touched: the start-up checks of a run a worker
started (timezone of the schedule vs INFLUENCE_TIMEZONE, an absolute data dir), `influence prefect-setup`'s work
pool template and Secret blocks, and `influence rules-template`."""
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from influence_pipeline import deployment
from influence_pipeline.cli import app
from influence_pipeline.deployment import (
    check_deployment_run,
    data_dir_problem,
    schedule_timezone_mismatch,
    secret_reference,
    with_secret_env,
)
from influence_pipeline.rules_file import defaults_text, load_rules
from influence_pipeline.settings import Settings, SettingsError

SECRET = "unit-test-secret-4e1d9c7a02b85f3e6d194c0a7b2e58f1d3c96a4b"


def test_a_tokyo_schedule_with_a_utc_setting_is_refused():
    message = schedule_timezone_mismatch(["Asia/Tokyo"], "UTC")
    assert message is not None and "Asia/Tokyo" in message and "'UTC'" in message
    assert "INFLUENCE_TIMEZONE" in message and "prefect --no-prompt deploy --all" in message
    assert schedule_timezone_mismatch(["Asia/Tokyo"], "Asia/Tokyo") is None


def test_no_schedule_agrees_and_a_schedule_without_timezone_runs_in_utc():
    assert schedule_timezone_mismatch([], "Asia/Tokyo") is None
    assert schedule_timezone_mismatch([None], "UTC") is None
    assert "UTC" in schedule_timezone_mismatch([None, "Asia/Tokyo"], "Asia/Tokyo")


def test_prefect_deploy_needs_an_iana_timezone(monkeypatch):
    monkeypatch.delenv("INFLUENCE_TIMEZONE", raising=False)
    with pytest.raises(SettingsError, match="INFLUENCE_TIMEZONE is not set"):
        deployment.require_deploy_timezone()
    monkeypatch.setenv("INFLUENCE_TIMEZONE", "Asia/Tokio")
    with pytest.raises(SettingsError, match="'Asia/Tokio' is not an IANA timezone"):
        deployment.require_deploy_timezone()
    monkeypatch.setenv("INFLUENCE_TIMEZONE", "Asia/Tokyo")
    assert deployment.require_deploy_timezone() == {"timezone": "Asia/Tokyo"}
    # the step prefect.yaml runs before any deployment is created
    steps = yaml.safe_load((Path(__file__).resolve().parents[1] / "prefect.yaml").read_text())["build"]
    assert {"influence_pipeline.deployment.require_deploy_timezone": {}} in steps


def test_a_deployment_run_needs_an_absolute_data_dir(tmp_path):
    assert data_dir_problem(tmp_path) is None
    message = data_dir_problem(Path("data"))
    assert "'data'" in message and "absolute" in message and "temporary directory" in message


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    for name in ("INFLUENCE_DATA_DIR", "INFLUENCE_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    return Settings()


def test_outside_a_deployment_nothing_is_checked(settings, monkeypatch):
    monkeypatch.setattr(deployment, "current_deployment_id", lambda: None)
    monkeypatch.setattr(deployment, "deployment_schedule_timezones", lambda _id: pytest.fail("no API call"))
    check_deployment_run(settings)  # relative default data dir, yet no error: CLI runs and tests may use it


def test_a_deployment_run_checks_the_data_dir_then_the_schedule(settings, tmp_path, monkeypatch):
    monkeypatch.setattr(deployment, "current_deployment_id", lambda: "d-1")
    monkeypatch.setattr(deployment, "deployment_schedule_timezones", lambda _id: ["Asia/Tokyo"])
    with pytest.raises(SettingsError, match="INFLUENCE_DATA_DIR is 'data'"):
        check_deployment_run(settings)
    absolute = settings.model_copy(update={"data_dir": tmp_path})
    with pytest.raises(SettingsError, match="schedule runs in Asia/Tokyo but INFLUENCE_TIMEZONE is 'UTC'"):
        check_deployment_run(absolute)
    check_deployment_run(absolute.model_copy(update={"timezone": "Asia/Tokyo"}))


def test_the_job_template_gets_references_and_keeps_everything_else():
    from prefect.workers.process import ProcessWorker

    default = ProcessWorker.get_default_base_job_template()
    default["variables"]["properties"]["env"]["default"] = {"OTHER": "kept"}
    env = {"INFLUENCE_PII_KEY": secret_reference("influence-pii-key")}
    template = with_secret_env(default, env)
    assert template["variables"]["properties"]["env"]["default"] == {
        "OTHER": "kept", "INFLUENCE_PII_KEY": "{{ prefect.blocks.secret.influence-pii-key }}"}
    assert template["job_configuration"] == default["job_configuration"]
    assert {k: v for k, v in template["variables"]["properties"].items() if k != "env"} == {
        k: v for k, v in default["variables"]["properties"].items() if k != "env"}
    assert default["variables"]["properties"]["env"]["default"] == {"OTHER": "kept"}  # the input is not changed
    assert with_secret_env({}, env)["variables"]["properties"]["env"]["default"] == env


def test_rules_template_prints_the_packaged_defaults():
    result = CliRunner().invoke(app, ["rules-template"])
    assert result.exit_code == 0, result.output
    assert result.output == defaults_text()
    assert yaml.safe_load(result.output) == yaml.safe_load(defaults_text())
    assert load_rules() is not None


def test_prefect_setup_refuses_without_a_prefect_api_url(monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.setenv("INFLUENCE_PII_KEY", SECRET)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        result = CliRunner().invoke(app, ["prefect-setup"])
    assert result.exit_code == 1
    assert "PREFECT_API_URL is not set" in result.output and SECRET not in result.output


def test_prefect_setup_stores_blocks_and_the_pool_only_references_them(prefect_harness, monkeypatch):
    from prefect.blocks.system import Secret
    from prefect.client.orchestration import get_client

    monkeypatch.setenv("INFLUENCE_PII_KEY", SECRET)
    monkeypatch.setenv("INFLUENCE_WAREHOUSE_URL", f"postgresql+psycopg://bi:{SECRET}@db.internal/analytics")
    runner = CliRunner()
    result = runner.invoke(app, ["prefect-setup", "--pool", "setup-test"])
    assert result.exit_code == 0, result.output
    assert "influence-pii-key" in result.output and "influence-warehouse-url" in result.output
    assert "created work pool setup-test" in result.output and SECRET not in result.output
    assert Secret.load("influence-pii-key").get() == SECRET
    with get_client(sync_client=True) as client:
        pool = client.read_work_pool("setup-test")
    assert pool.type == "process" and SECRET not in str(pool.base_job_template)
    assert pool.base_job_template["variables"]["properties"]["env"]["default"] == {
        "INFLUENCE_PII_KEY": "{{ prefect.blocks.secret.influence-pii-key }}",
        "INFLUENCE_WAREHOUSE_URL": "{{ prefect.blocks.secret.influence-warehouse-url }}"}
    # again, without a warehouse URL: the pool is updated, its other references kept
    monkeypatch.delenv("INFLUENCE_WAREHOUSE_URL")
    result = runner.invoke(app, ["prefect-setup", "--pool", "setup-test"])
    assert result.exit_code == 0 and "updated work pool setup-test" in result.output
    assert "influence-warehouse-url" not in result.output


def test_prefect_setup_without_a_key_and_no_terminal_says_so(prefect_harness, monkeypatch):
    monkeypatch.delenv("INFLUENCE_PII_KEY", raising=False)
    result = CliRunner().invoke(app, ["prefect-setup", "--pool", "setup-test-no-key"])
    assert result.exit_code == 1 and "INFLUENCE_PII_KEY is not set" in result.output


def test_schedule_timezones_are_read_from_the_deployment(prefect_harness, monkeypatch, tmp_path):
    """The real API read behind the start-up check: a deployment with a 03:00 Asia/Tokyo schedule."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import CronSchedule

    @flow(name="tz-check")
    def tz_check() -> None:
        pass

    with get_client(sync_client=True) as client:
        flow_id = client.create_flow(tz_check)
        deployment_id = client.create_deployment(
            flow_id=flow_id, name="tz-check", schedules=[DeploymentScheduleCreate(
                schedule=CronSchedule(cron="0 3 * * *", timezone="Asia/Tokyo"), active=True)])
    assert deployment.deployment_schedule_timezones(str(deployment_id)) == ["Asia/Tokyo"]
    # prefect.runtime reads a mocked deployment id from the environment, as a worker's run would find its own
    monkeypatch.setenv("PREFECT__RUNTIME__DEPLOYMENT__ID", str(deployment_id))
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INFLUENCE_TIMEZONE", "UTC")
    with pytest.raises(SettingsError, match="Asia/Tokyo"):
        check_deployment_run(Settings())
    monkeypatch.setenv("INFLUENCE_TIMEZONE", "Asia/Tokyo")
    check_deployment_run(Settings())


def test_prefect_setup_refuses_a_weak_key_before_storing_anything(prefect_harness, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from influence_pipeline.settings import checked_pii_key

    weak = "password" * 4  # 32 bytes, but a short unit repeated
    monkeypatch.setenv("INFLUENCE_PII_KEY", weak)
    with pytest.raises(SettingsError) as refused:
        checked_pii_key(weak.encode(), "INFLUENCE_PII_KEY")
    result = CliRunner().invoke(app, ["prefect-setup", "--pool", "setup-test-weak-key"])
    assert result.exit_code == 1
    # the same message a run gives, folded lines joined
    assert str(refused.value) in " ".join(result.output.split()).replace("error: ", "", 1)
    assert weak not in result.output
    with get_client(sync_client=True) as client, pytest.raises(ObjectNotFound):
        client.read_work_pool("setup-test-weak-key")
