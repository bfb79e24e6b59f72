"""The run audit: one row per run and source, proving rows in = rows published + rows quarantined (+ rows held back,
when an error rule stopped the run before publishing); and one row per path in landing that no run reads (status
`unexpected`, no rows), so that a misnamed delivery is seen."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

AUDIT_SCHEMA = {
    "run_id": pl.String, "landing_date": pl.Date, "dataset": pl.String, "landing_file": pl.String,
    "ingest_status": pl.String, "rows_in": pl.Int64, "rows_published": pl.Int64, "rows_quarantined": pl.Int64, "rows_held": pl.Int64,
    "rules_failed": pl.Int64, "error_rules_failed": pl.Int64, "status": pl.String, "ingest_seconds": pl.Float64,
    "check_seconds": pl.Float64, "run_started_at": pl.Datetime("us", "UTC"), "run_finished_at": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class SourceOutcome:
    dataset: str
    landing_file: str
    ingest_status: str  # loaded | replaced | skipped | missing
    rows_in: int
    rows_passed: int  # rows that passed every row rule: published unless the run is stopped
    rows_quarantined: int
    rules_failed: int  # dataset + row rules GX reported as failed for this source
    error_rules_failed: int
    ingest_seconds: float
    check_seconds: float


def _status(outcome: SourceOutcome, run_failed: bool) -> str:
    if outcome.error_rules_failed or run_failed:
        return "error" if outcome.error_rules_failed else "not_published"
    if outcome.ingest_status == "missing":
        return "missing"
    return "warning" if outcome.rules_failed or outcome.rows_quarantined else "ok"


#: how the dataset column of an unexpected path's row begins (the path follows: one row per path, as the key needs)
UNEXPECTED = "unexpected:"


def _unexpected_row(path: str) -> dict:
    return {"dataset": UNEXPECTED + path, "landing_file": path, "ingest_status": "unexpected", "rows_in": 0,
            "rows_published": 0, "rows_quarantined": 0, "rows_held": 0, "rules_failed": 0, "error_rules_failed": 0,
            "status": "unexpected", "ingest_seconds": 0.0, "check_seconds": 0.0}


def build_run_sources(run_id: str, landing_date: date, outcomes: list[SourceOutcome], started_at: datetime,
                      finished_at: datetime, run_failed: bool, unexpected: list[str] = ()) -> pl.DataFrame:
    """Outcomes of one run, and the landing paths it found and does not read (`unexpected`) → audit rows. Raises if
    a source's rows do not add up: that would be a bug, and an audit that hides it is worse than a failed run."""
    for o in outcomes:
        if o.rows_in != o.rows_passed + o.rows_quarantined:
            raise AssertionError(f"{o.dataset}: {o.rows_in} rows in but {o.rows_passed} passed + "
                                 f"{o.rows_quarantined} quarantined")
    rows = [{
        "run_id": run_id, "landing_date": landing_date, "dataset": o.dataset, "landing_file": o.landing_file,
        "ingest_status": o.ingest_status, "rows_in": o.rows_in,
        "rows_published": 0 if run_failed else o.rows_passed, "rows_quarantined": o.rows_quarantined,
        "rows_held": o.rows_passed if run_failed else 0,
        "rules_failed": o.rules_failed, "error_rules_failed": o.error_rules_failed, "status": _status(o, run_failed),
        "ingest_seconds": round(o.ingest_seconds, 3), "check_seconds": round(o.check_seconds, 3),
        "run_started_at": started_at, "run_finished_at": finished_at,
    } for o in outcomes]
    rows += [{"run_id": run_id, "landing_date": landing_date, **_unexpected_row(path), "run_started_at": started_at,
              "run_finished_at": finished_at} for path in unexpected]
    return pl.DataFrame(rows, schema=AUDIT_SCHEMA)
