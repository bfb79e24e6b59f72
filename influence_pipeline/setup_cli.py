"""`influence rules-template` and `influence prefect-setup`: what an operator needs to set up a deployment."""
from __future__ import annotations

import os
from typing import Annotated

import typer

from influence_pipeline.cli import clear_errors, console


def rules_template() -> None:
    """Print the packaged default business rules (rules.yaml) to copy, edit and name in INFLUENCE_RULES_FILE."""
    from influence_pipeline.rules_file import defaults_text

    typer.echo(defaults_text(), nl=False)


def prefect_setup(
    pool: Annotated[str, typer.Option(help="The process work pool the deployments run on (created if missing).")]
    = "influence-process",
) -> None:
    """Store INFLUENCE_PII_KEY (and INFLUENCE_WAREHOUSE_URL and the API pulls' secrets, when set) as Prefect Secret blocks on the server that
    PREFECT_API_URL names, and make the work pool's flow runs take them from there. Prints block names, never values.
    Reads the key from the environment, or asks for it (not echoed) on a terminal; a weak key is refused (nothing is
    stored) with the message a run would give."""
    import getpass
    import sys

    from influence_pipeline.deployment import API_SECRET_SETTINGS, require_prefect_api_url, save_secrets_and_pool
    from influence_pipeline.settings import SettingsError, checked_pii_key

    secrets = {}
    with clear_errors():
        require_prefect_api_url()  # before asking for a key that would have nowhere to go
        key = os.environ.get("INFLUENCE_PII_KEY", "")
        if not key and sys.stdin.isatty():
            key = getpass.getpass("INFLUENCE_PII_KEY (not echoed): ")
        if not key:
            raise SettingsError("INFLUENCE_PII_KEY is not set: export it from your secret store (or run this command "
                                "on a terminal to type it). It must stay the same key every night.")
        # A weak key stored here would only be refused by the first run, after the deployment looked ready.
        checked_pii_key(key.encode(), "INFLUENCE_PII_KEY")
        secrets["INFLUENCE_PII_KEY"] = key
        for name in ("INFLUENCE_WAREHOUSE_URL", *API_SECRET_SETTINGS):
            if os.environ.get(name):
                secrets[name] = os.environ[name]
        saved, created = save_secrets_and_pool(secrets, pool)
    for name in saved:
        console.print(f"saved Secret block [bold]{name}[/bold]", highlight=False)
    console.print(f"{'created' if created else 'updated'} work pool [bold]{pool}[/bold]: its flow runs take "
                  f"{', '.join(secrets)} from the Secret blocks", highlight=False)
