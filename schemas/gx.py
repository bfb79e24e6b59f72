"""Great Expectations at the edge: suites built from compiled rules, run through Checkpoints on pandas batches,
results kept as JSON per run and rendered as data docs under the data dir.

GX 1.x has no Polars engine and returns empty metrics on DuckDB, so batches go to GX as pandas frames built from
Arrow. Polars does the splitting (fast); GX records and gates.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from influence_pipeline.atomic import write_atomic
from influence_pipeline.schemas.polars_engine import evaluate_counted
from influence_pipeline.schemas.row_rules import SEVERITY, Rule

SOURCE_NAME = "influence"
DOCS_DAYS = 14  # landing days of results kept in GX's store and data docs; every run's results stay in results/*.json


@dataclass(frozen=True)
class RuleResult:
    rule_id: str
    dataset: str
    stage: str  # raw | published
    kind: str
    severity: str
    success: bool
    unexpected_count: int | None
    element_count: int | None
    observed_value: Any
    description: str


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


# Python's datetime (which GX's result serialisation calls isoformat on) spans years 1 to 9999; Polars and pandas
# hold more, and a text such as "0001-01-01T00:00:00+05:00" is year 0 in UTC.
_EARLIEST, _LATEST = datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999)


def representable(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with dates and timestamps outside Python's range (years 1 to 9999) clamped to its ends, so GX can
    write the value into its results instead of crashing. Every rule keeps its outcome (a clamped value is still
    before or after any bound a contract sets, and null stays null); GX shows it as the range's end."""
    clamped = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Datetime):
            ends = [pl.lit(end).cast(pl.Datetime(dtype.time_unit)) for end in (_EARLIEST, _LATEST)]
            if dtype.time_zone:
                ends = [end.dt.replace_time_zone(dtype.time_zone) for end in ends]
            clamped.append(pl.col(name).clip(*ends))
        elif dtype == pl.Date:
            clamped.append(pl.col(name).clip(_EARLIEST.date(), _LATEST.date()))
    return frame.with_columns(clamped) if clamped else frame


def _snake(class_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


def _resolved(value: Any, parameters: dict[str, Any]) -> Any:
    """A $PARAMETER placeholder replaced by this run's value, as GX shows it in a result."""
    if isinstance(value, dict) and "$PARAMETER" in value:
        return _jsonable(parameters[value["$PARAMETER"]])
    return _jsonable(value)


def _gx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Compiled rules stay free of GX objects; the one that needs one — "only where the text is present" — says so
    with a marker, turned here into a GX row condition."""
    from great_expectations.expectations.row_conditions import Column

    condition = kwargs.get("row_condition")
    if isinstance(condition, dict) and "$NOT_NULL" in condition:
        return {**kwargs, "row_condition": Column(condition["$NOT_NULL"]).is_not_null()}
    return kwargs


def import_in_background() -> None:
    """Start importing GX on a thread of its own. The import takes 2.6 s of Python that would
    otherwise wait until validation is recorded; started when a night begins, it runs beside ingestion and staging,
    which spend their time in Polars and DuckDB with the GIL released. Importing later waits for it to finish."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    threading.Thread(target=__import__, args=("great_expectations",), name="import-gx", daemon=True).start()


class GxValidator:
    """One GX file context under `root` (suites, validation results, data docs)."""

    def __init__(self, root: Path):
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        # Contract patterns may group alternatives; GX's pandas engine warns about groups it does not need.
        warnings.filterwarnings("ignore", message="This pattern is interpreted as a regular expression")
        self._gx = gx
        root.mkdir(parents=True, exist_ok=True)
        self.context = gx.get_context(mode="file", project_root_dir=str(root))
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.context.variables.save()
        self._source = None
        self.root = root
        self._rendered: list = []  # this run's validation results, for the data docs

    def _batch_definition(self, name: str):
        if self._source is None:  # only the GX engine reads data through a data source
            self._source = self.context.data_sources.add_or_update_pandas(SOURCE_NAME)
        existing = {a.name: a for a in self._source.assets}
        asset = existing.get(name) or self._source.add_dataframe_asset(name=name)
        definitions = {d.name: d for d in asset.batch_definitions}
        return definitions.get("whole") or asset.add_batch_definition_whole_dataframe("whole")

    def _checkpoint(self, batch_name: str, rules: list[Rule]):
        """The batch's Checkpoint, rebuilt only when its rules changed: suites carry a fingerprint of their rules,
        and run-to-run values travel as parameters, so a nightly run normally reuses what is stored."""
        gx = self._gx
        fingerprint = hashlib.sha256(json.dumps(
            [[r.id, r.gx_type, _jsonable(r.gx_kwargs), r.severity, r.on_fail, r.description] for r in rules],
            sort_keys=True).encode()).hexdigest()
        try:
            stored = self.context.suites.get(batch_name)
            if stored.meta.get("fingerprint") == fingerprint:
                return self.context.checkpoints.get(batch_name)
        except Exception:  # GX raises its own not-found errors; any of them means "build it"
            pass
        expectations = [getattr(gx.expectations, rule.gx_type)(
            **_gx_kwargs(rule.gx_kwargs), severity=SEVERITY[rule.severity], description=rule.description,
            meta={"rule_id": rule.id, "severity": rule.severity, "kind": rule.kind, "on_fail": rule.on_fail})
            for rule in rules]
        suite = self.context.suites.add_or_update(gx.ExpectationSuite(
            name=batch_name, expectations=expectations, meta={"fingerprint": fingerprint}))
        definition = self.context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=batch_name, data=self._batch_definition(batch_name), suite=suite))
        return self.context.checkpoints.add_or_update(gx.Checkpoint(
            name=batch_name, validation_definitions=[definition], result_format={"result_format": "SUMMARY"}))

    def record(self, name: str, stage: str, frame: pl.DataFrame, rules: list[Rule], run_name: str,
               outcomes: list[dict] | None = None, rows: int | None = None) -> list[RuleResult]:
        """Evaluate `rules` on `frame` with the Polars engine (or take `outcomes` evaluated earlier on `rows` rows) and
        store them in GX's validation results store as the batch's suite validation result — what the GX engine
        would store, in a fraction of the time."""
        from great_expectations.core.expectation_validation_result import (
            ExpectationSuiteValidationResult,
            ExpectationValidationResult,
        )
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )
        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        batch_name = f"{stage}.{name}"
        if outcomes is None:
            outcomes, rows = evaluate_counted(frame, rules)
        rows = frame.lazy().select(pl.len()).collect().item() if rows is None else rows
        items = []
        for rule, outcome in zip(rules, outcomes):
            kwargs = {k: _resolved(v, rule.gx_parameters) for k, v in rule.gx_kwargs.items() if k != "row_condition"}
            if isinstance(condition := rule.gx_kwargs.get("row_condition"), dict):
                kwargs["row_condition"] = f"{condition['$NOT_NULL']} is present"
            result = {k: v for k, v in outcome.items() if k != "success" and v is not None}
            if outcome["unexpected_count"] is not None and outcome["element_count"]:
                result["unexpected_percent"] = 100 * outcome["unexpected_count"] / outcome["element_count"]
            items.append(ExpectationValidationResult(
                success=outcome["success"], result=result, expectation_config=ExpectationConfiguration(
                    type=_snake(rule.gx_type), kwargs=kwargs, description=rule.description,
                    severity=SEVERITY[rule.severity],
                    meta={"rule_id": rule.id, "severity": rule.severity, "kind": rule.kind,
                          "on_fail": rule.on_fail})))
        run_id = self._gx.core.run_identifier.RunIdentifier(run_name=run_name)
        passed = sum(item.success for item in items)
        suite_result = ExpectationSuiteValidationResult(
            success=passed == len(items), results=items, suite_name=batch_name,
            statistics={"evaluated_expectations": len(items), "successful_expectations": passed,
                        "unsuccessful_expectations": len(items) - passed,
                        "success_percent": 100 * passed / len(items) if items else None},
            meta={"engine": "polars", "batch_spec": {"batch": batch_name, "rows": rows}, "run_id": run_id})
        suite_id = ExpectationSuiteIdentifier(name=batch_name)
        result_id = ValidationResultIdentifier(suite_id, run_id, batch_name)
        self.context.validation_results_store.store_validation_results(suite_result, result_id, suite_id)
        self._rendered.append(result_id)
        return [RuleResult(rule.id, name, stage, rule.kind, rule.severity, bool(o["success"]), o["unexpected_count"],
                           o["element_count"], o["observed_value"], rule.description)
                for rule, o in zip(rules, outcomes)]

    def validate(self, name: str, stage: str, frame: pl.DataFrame, rules: list[Rule], run_name: str) -> list[RuleResult]:
        """Run `rules` on `frame` through a Checkpoint named after the batch, with GX's pandas engine; one result per
        rule."""
        gx = self._gx
        checkpoint = self._checkpoint(f"{stage}.{name}", rules)
        parameters = {k: v for rule in rules for k, v in rule.gx_parameters.items()}
        frame = frame.collect() if isinstance(frame, pl.LazyFrame) else frame  # pandas needs the rows in memory
        result = checkpoint.run(batch_parameters={"dataframe": representable(frame).to_pandas()},
                                expectation_parameters=parameters,
                                run_id=gx.core.run_identifier.RunIdentifier(run_name=run_name))
        self._rendered += list(result.run_results.keys())
        by_id = {rule.id: rule for rule in rules}
        results = []
        for validation in result.run_results.values():
            for item in validation.results:
                rule = by_id[item.expectation_config.meta["rule_id"]]
                results.append(RuleResult(
                    rule.id, name, stage, rule.kind, rule.severity, bool(item.success),
                    item.result.get("unexpected_count"), item.result.get("element_count"),
                    _jsonable(item.result.get("observed_value")), rule.description))
        return results

    def build_docs(self) -> Path:
        """Render this run's results into the data docs — only these, so the cost does not grow with history — and
        strip their CDN scripts and styles so viewing them makes no network request (schemas/data_docs.py)."""
        from influence_pipeline.schemas.data_docs import make_site_offline

        started = time.time() - 1  # file times may be coarser than the clock
        # A set: GX tests every stored result's key for membership, and in a list of this run's 36 keys that was
        # 0.5 s of key comparisons a night (GX only tests membership, and its keys hash as they compare).
        site = self.root / "gx" / "uncommitted" / "data_docs" / "local_site"
        # GX's index reads every stored result again (2.8 s of a profile-L night with 14 days kept) to fill a table
        # its scripts draw, and offline that table stays empty: make_site_offline gives the index its list of runs.
        # So GX writes the index only when there is none yet.
        self.context.build_data_docs(resource_identifiers=set(self._rendered),
                                     build_index=not (site / "index.html").exists())
        make_site_offline(site, since=started)
        return site / "index.html"


def prune_store(root: Path, keep_from: date) -> int:
    """Remove from GX's results store and data docs under `root` the runs of landing dates before `keep_from`: GX
    reads its whole store when it opens and indexes it on every docs build, so an unbounded store made each night
    slower (after 90 nights of a small sample: 2.2 s to open the context, validation 1.2 s → 7.3 s a night). Every
    run's results stay in results/<date>/<run>.json. Returns the number of runs removed."""
    removed = 0
    uncommitted = root / "gx" / "uncommitted"
    for runs in (uncommitted / "validations", uncommitted / "data_docs" / "local_site" / "validations"):
        for run in runs.glob("*/*/*"):
            try:
                landing = date.fromisoformat(run.name[:10])
            except ValueError:
                continue
            if run.is_dir() and landing < keep_from:
                shutil.rmtree(run)
                removed += 1
    return removed


def write_results(path: Path, results: list[RuleResult], extra: dict[str, Any]) -> Path:
    """Keep one run's results as JSON (the audit trail of what was checked and what failed)."""
    payload = {**extra, "results": [_jsonable(asdict(r)) for r in results]}
    return write_atomic(path, json.dumps(payload, indent=1, sort_keys=True) + "\n")
