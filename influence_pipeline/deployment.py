"""Running under Prefect deployments: start-up checks for a run a worker started, and `influence prefect-setup`, which
stores the secrets as Prefect Secret blocks and points the work pool at them.

Why the secrets live in the work pool and not in prefect.yaml: `prefect deploy` resolves every
`{{ prefect.blocks.secret.… }}` of prefect.yaml when it deploys and stores the plaintext in the deployment's job
variables, readable by anyone who can read the deployment. The pool's base job template keeps the reference; the
worker resolves it for each flow run, into that run's environment only.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from influence_pipeline.settings import Settings, SettingsError, apply_output_mode

DEFAULT_POOL = "influence-process"
PII_KEY_BLOCK = "influence-pii-key"
WAREHOUSE_URL_BLOCK = "influence-warehouse-url"
# setting (environment variable of every flow run) → the Secret block holding its value
SECRET_BLOCKS = {"INFLUENCE_PII_KEY": PII_KEY_BLOCK, "INFLUENCE_WAREHOUSE_URL": WAREHOUSE_URL_BLOCK}
#: The pulls' credentials (sources/api/config.py), saved when set in the shell running `influence prefect-setup`.
API_SECRET_SETTINGS = ("INFLUENCE_INSTAGRAM_ACCESS_TOKEN", "INFLUENCE_TIKTOK_APP_SECRET", "INFLUENCE_YOUTUBE_API_KEY",
                       "INFLUENCE_GOOGLE_CLIENT_SECRET", "INFLUENCE_SHOPIFY_ACCESS_TOKEN",
                       "INFLUENCE_SHOPIFY_CLIENT_SECRET")
SECRET_BLOCKS.update({name: "influence-" + name.removeprefix("INFLUENCE_").lower().replace("_", "-")
                      for name in API_SECRET_SETTINGS})


# --- start-up checks of a deployment run ------------------------------------------------------------------------------

def data_dir_problem(data_dir: Path) -> str | None:
    """Why `data_dir` cannot hold a deployment run's data, or None. A process worker starts each flow run in a fresh
    temporary directory that it deletes afterwards, so a relative data dir (the default `data`) would put the lake and
    the warehouse there and lose them with it."""
    if data_dir.is_absolute():
        return None
    return (f"INFLUENCE_DATA_DIR is {str(data_dir)!r}, a relative path: a Prefect worker runs each flow run in a "
            "temporary directory it deletes afterwards, so the lake and warehouse would be lost. Set INFLUENCE_DATA_DIR "
            "to an absolute path in the worker's environment (e.g. `INFLUENCE_DATA_DIR=/srv/influence prefect worker "
            "start --pool influence-process`).")


def schedule_timezone_mismatch(schedule_timezones: Iterable[str | None], setting: str) -> str | None:
    """Why the deployment's schedules and INFLUENCE_TIMEZONE disagree, or None when they agree. A nightly without `ds`
    processes the day before its scheduled start in INFLUENCE_TIMEZONE: a 03:00 Asia/Tokyo schedule with
    INFLUENCE_TIMEZONE=UTC starts at 18:00 UTC and would silently process the day before the intended one. A schedule
    without a timezone runs in UTC."""
    differing = sorted({zone or "UTC" for zone in schedule_timezones} - {setting})
    if not differing:
        return None
    return (f"the deployment's schedule runs in {', '.join(differing)} but INFLUENCE_TIMEZONE is {setting!r}: a run "
            "without `ds` would process the wrong landing day. Export INFLUENCE_TIMEZONE=<the timezone landing days "
            "follow> and run `prefect --no-prompt deploy --all` again (prefect.yaml takes the schedule's timezone and "
            "the runs' INFLUENCE_TIMEZONE from that one variable).")


def deployment_schedule_timezones(deployment_id: str) -> list[str | None]:
    """The timezone of each active schedule of a deployment, read from the Prefect API."""
    from uuid import UUID

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment(UUID(str(deployment_id)))
    return [getattr(s.schedule, "timezone", None) for s in deployment.schedules or [] if s.active]


def current_deployment_id() -> str | None:
    """The deployment the current flow run belongs to (a nested flow run: its parent's), None outside deployments."""
    from prefect.runtime import deployment

    return deployment.id or None


def check_deployment_settings(settings: Settings,
                              schedule_timezones: Callable[[], Iterable[str | None]]) -> None:
    """Raise SettingsError when a deployment run is misconfigured: a data dir the worker's temporary directory would
    swallow, or a schedule timezone that differs from INFLUENCE_TIMEZONE."""
    settings.zone()  # an unknown timezone first: its own message is clearer
    problem = data_dir_problem(settings.data_dir) or schedule_timezone_mismatch(schedule_timezones(),
                                                                                settings.timezone)
    if problem:
        raise SettingsError(problem)


def check_deployment_run(settings: Settings) -> None:
    """Call at the start of a flow, after load_settings(): applies the output mode (a flow that only builds Settings,
    such as the pull, writes landing files too); outside a deployment (CLI, tests) it checks nothing more; in a run
    a worker started it fails before anything is read or written when the data dir is relative or the deployment's
    schedule timezone differs from INFLUENCE_TIMEZONE."""
    apply_output_mode(settings)
    deployment_id = current_deployment_id()
    if deployment_id is None:
        return
    check_deployment_settings(settings, lambda: deployment_schedule_timezones(deployment_id))


# --- prefect deploy ---------------------------------------------------------------------------------------------------

def require_deploy_timezone() -> dict[str, str]:
    """A build step of prefect.yaml: fail `prefect deploy` before it creates any deployment unless INFLUENCE_TIMEZONE
    names an IANA timezone in its shell. Prefect itself would accept an unset variable: `{{ $INFLUENCE_TIMEZONE }}`
    becomes "" (a UTC schedule, with only a warning) and every run would then stop on INFLUENCE_TIMEZONE=''."""
    import os
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = os.environ.get("INFLUENCE_TIMEZONE", "")
    if not value:
        raise SettingsError("INFLUENCE_TIMEZONE is not set: export the timezone landing days follow (e.g. "
                            "`export INFLUENCE_TIMEZONE=Europe/Berlin`) before `prefect deploy`; the nightly's schedule "
                            "and its runs both take it from there.")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"INFLUENCE_TIMEZONE={value!r} is not an IANA timezone (e.g. Europe/Berlin)") from None
    return {"timezone": value}


# --- influence prefect-setup -----------------------------------------------------------------------------------------

def secret_reference(block_name: str) -> str:
    return "{{ prefect.blocks.secret.%s }}" % block_name


def with_secret_env(base_job_template: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """A copy of a work pool's base job template whose default environment for flow runs also holds `env` (values:
    block references, resolved by the worker per run). Other variables and env entries are kept."""
    template = copy.deepcopy(base_job_template)
    properties = template.setdefault("variables", {}).setdefault("properties", {})
    env_variable = properties.setdefault("env", {"title": "Environment Variables", "type": "object",
                                                 "additionalProperties": {"type": "string"}})
    env_variable["default"] = {**(env_variable.get("default") or {}), **env}
    configuration = template.setdefault("job_configuration", {})
    configuration.setdefault("env", "{{ env }}")
    return template


def require_prefect_api_url() -> str:
    """The Prefect API this process talks to; SettingsError when PREFECT_API_URL is unset (every Prefect client call
    would then start a temporary server of its own and forget what it was told)."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        raise SettingsError("PREFECT_API_URL is not set: point it at your Prefect server first "
                            "(`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api`), or the secrets would "
                            "go to a temporary server that is gone when this command ends.")
    return url


def save_secrets_and_pool(secrets: dict[str, str], pool: str = DEFAULT_POOL) -> tuple[list[str], bool]:
    """Save each secret (setting name → value; settings named in SECRET_BLOCKS) as a Secret block and make the work
    pool's flow runs take them from there. Creates the process pool, or updates the template of an existing one.
    Returns the block names saved and whether the pool was created."""
    from prefect.blocks.system import Secret
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    require_prefect_api_url()
    unknown = sorted(set(secrets) - set(SECRET_BLOCKS))
    if unknown:
        raise ValueError(f"no Secret block is defined for {', '.join(unknown)}")
    saved = []
    for setting, value in secrets.items():
        if not value:
            raise SettingsError(f"{setting} is empty: an empty secret is never saved")
        Secret(value=value).save(SECRET_BLOCKS[setting], overwrite=True)
        saved.append(SECRET_BLOCKS[setting])
    env = {setting: secret_reference(SECRET_BLOCKS[setting]) for setting in secrets}
    with get_client(sync_client=True) as client:
        try:
            existing = client.read_work_pool(pool)
        except ObjectNotFound:
            existing = None
        if existing is None:
            template = with_secret_env(ProcessWorker.get_default_base_job_template(), env)
            client.create_work_pool(WorkPoolCreate(name=pool, type="process", base_job_template=template))
        else:
            client.update_work_pool(pool, WorkPoolUpdate(base_job_template=with_secret_env(
                existing.base_job_template, env)))
    return saved, existing is None
