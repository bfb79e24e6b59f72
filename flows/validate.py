"""The validate flow: ingestion and contracts only, for a landing date — checks what arrived, publishes nothing."""
from __future__ import annotations

import uuid
from datetime import date

from prefect import flow
from prefect.runtime import flow_run

from influence_pipeline.flows.context import RunContext
from influence_pipeline.flows.runners import tie_temporary_server
from influence_pipeline.flows.tasks import check_raw, ingest, record_validation
from influence_pipeline.schemas.checkpoint import RunValidation
from influence_pipeline.schemas.raw import DATASETS
from influence_pipeline.settings import load_settings
from influence_pipeline.sinks.lock import data_dir_lock


@flow(name="validate", flow_run_name="validate-{ds}", log_prints=False)
def validate_landing(ds: date) -> tuple[RunValidation, dict[str, tuple[int, int]]]:
    """Ingest and check `ds`'s landing files against their contracts; returns the GX results and, per raw dataset,
    (rows in, rows quarantined)."""
    settings = load_settings()
    tie_temporary_server()  # a killed run must not leave Prefect's temporary server behind
    ctx = RunContext.from_settings(settings, str(flow_run.id or uuid.uuid4()))
    # It writes the raw lake (ingestion) and GX's results: not beside a run publishing from them.
    holder = f"validate {ds} (flow run {ctx.run_id})"
    with data_dir_lock(settings.data_dir.resolve(), holder, settings.lock_wait_seconds):
        for dataset in DATASETS:
            ingest(dataset.name, ds, ctx)
        checks = {d.name: check_raw(d.name, ds, ctx) for d in DATASETS}
        rows = {name: (c.split.clean_rows + c.split.quarantined.height, c.split.quarantined.height)
                for name, c in checks.items()}
        return record_validation(ds, ctx, checks, {}), rows
