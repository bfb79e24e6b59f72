"""One run's validation in Great Expectations: every raw batch (its row rules, to record what was quarantined, and
its dataset rules) and every table about to be published (keys, required columns, foreign keys, row counts)."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from influence_pipeline.schemas.contract import Contract, load_contracts
from influence_pipeline.schemas.gx import DOCS_DAYS, GxValidator, RuleResult, prune_store, write_results
from influence_pipeline.schemas.polars_engine import evaluate_counted
from influence_pipeline.schemas.raw import PARTITION_COLUMN
from influence_pipeline.schemas.row_rules import published_rules, raw_dataset_rules, reference_targets
from influence_pipeline.transforms.quarantine import BatchCheck, emptied, nulled_messages


@dataclass
class RunValidation:
    results: list[RuleResult]
    results_file: Path
    docs_index: Path | None

    @property
    def errors(self) -> list[RuleResult]:
        return [r for r in self.results if r.severity == "error" and not r.success]

    def failed_for(self, dataset: str) -> list[RuleResult]:
        return [r for r in self.results if r.dataset == dataset and not r.success]


class ValidationFailed(RuntimeError):
    """An error-severity rule failed: nothing of the run is published."""

    def __init__(self, ds: date, errors: list[RuleResult], results_file: Path):
        lines = [f"{r.dataset}: rule {r.rule_id} failed ({_counts(r)})" for r in errors]
        super().__init__(f"validation of {ds} failed; nothing was published. " + "; ".join(lines)
                         + f". Details: {results_file}")
        self.errors = errors


def _counts(result: RuleResult) -> str:
    if result.unexpected_count is not None:
        return f"{result.unexpected_count} of {result.element_count} rows unexpected"
    return f"observed {result.observed_value}"


def _references(staged: dict[str, pl.DataFrame | pl.LazyFrame], targets: list[str]) -> dict[str, list]:
    refs = {}
    for target in targets:
        table, column = target.split(".", 1)
        if table in staged:
            values = staged[table].lazy().select(pl.col(column).drop_nulls().unique().sort()).collect()
            refs[target] = values[column].to_list()
    return refs


ENGINES = ("polars", "gx")


def _run_logger() -> logging.Logger | logging.LoggerAdapter:
    """The Prefect run's logger inside a flow or task (its lines reach the run's log in the UI), else this module's."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def log_nulled_values(checks: dict[str, BatchCheck]) -> int:
    """Warn, in the run log, of each informational value set to null (file, line, field, why): the row was published,
    so the quarantine tables do not show it. Returns how many values were nulled."""
    log, total = _run_logger(), 0
    for name, check in checks.items():
        total += check.split.nulled.height
        for line in nulled_messages(name, check.split.nulled):
            log.warning("%s", line)
    return total


def evaluate_raw(check: BatchCheck, contract: Contract) -> BatchCheck:
    """The check with its raw-batch rules (row rules and dataset rules) evaluated now by the Polars engine and its
    validation frame emptied: the frame of 2 M web events is over a gigabyte the marts would otherwise share memory
    with until validation records the outcomes."""
    outcomes, rows = evaluate_counted(check.frame, check.rules + raw_dataset_rules(contract))
    return replace(check, frame=emptied(check.frame), outcomes=outcomes, rows=rows)


def validate_run(validation_dir: Path, ds: date, run_id: str, checks: dict[str, BatchCheck],
                 staged: dict[str, pl.DataFrame | pl.LazyFrame], engine: str = "polars",
                 contracts: Mapping[str, Contract] | None = None) -> RunValidation:
    """Record every rule's outcome in GX (one suite validation result per batch, rendered into the data docs) and
    keep the results as JSON. The `polars` engine evaluates the rules with Polars and stores what GX would have;
    `gx` runs each batch through a GX Checkpoint on pandas (slower by an order of magnitude, same results). Gating on
    the outcome is the caller's decision."""
    if engine not in ENGINES:
        raise ValueError(f"validation engine {engine!r} is not one of {', '.join(ENGINES)}")
    contracts = contracts or load_contracts()
    prune_store(validation_dir, ds - timedelta(days=DOCS_DAYS))
    validator = GxValidator(validation_dir)
    check = validator.record if engine == "polars" else validator.validate
    run_name = f"{ds.isoformat()}-{run_id}"
    log_nulled_values(checks)
    results: list[RuleResult] = []
    for name, batch in checks.items():
        rules = batch.rules + raw_dataset_rules(contracts[name])
        if batch.outcomes is not None:  # evaluated by the Polars engine in the check step (evaluate_raw)
            results += validator.record(name, "raw", batch.frame, rules, run_name, batch.outcomes, batch.rows)
        else:
            results += check(name, "raw", batch.frame, rules, run_name)
    for name, frame in staged.items():
        contract = contracts[name]
        results += check(name, "published", frame,
                         published_rules(contract, _references(staged, reference_targets(contract))), run_name)
    results_file = write_results(validation_dir / "results" / ds.isoformat() / f"{run_id}.json", results,
                                 {PARTITION_COLUMN: ds.isoformat(), "run_id": run_id})
    docs = validator.build_docs()
    return RunValidation(results, results_file, docs)
