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
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from contracts.rules import SEVERITY, Rule

SOURCE_NAME = "influence"


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


def _gx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Compiled rules stay free of GX objects; the one that needs one — "only where the text is present" — says so
    with a marker, turned here into a GX row condition."""
    from great_expectations.expectations.row_conditions import Column

    condition = kwargs.get("row_condition")
    if isinstance(condition, dict) and "$NOT_NULL" in condition:
        return {**kwargs, "row_condition": Column(condition["$NOT_NULL"]).is_not_null()}
    return kwargs


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
        self.source = self.context.data_sources.add_or_update_pandas(SOURCE_NAME)
        self.root = root
        self._rendered: list = []  # this run's validation results, for the data docs

    def _batch_definition(self, name: str):
        existing = {a.name: a for a in self.source.assets}
        asset = existing.get(name) or self.source.add_dataframe_asset(name=name)
        definitions = {d.name: d for d in asset.batch_definitions}
        return definitions.get("whole") or asset.add_batch_definition_whole_dataframe("whole")

    def _checkpoint(self, batch_name: str, rules: list[Rule]):
        """The batch's Checkpoint, rebuilt only when its rules changed: suites carry a fingerprint of their rules,
        and run-to-run values travel as parameters, so a nightly run normally reuses what is stored."""
        gx = self._gx
        fingerprint = hashlib.sha256(json.dumps(
            [[r.id, r.gx_type, _jsonable(r.gx_kwargs), r.severity] for r in rules], sort_keys=True).encode()).hexdigest()
        try:
            stored = self.context.suites.get(batch_name)
            if stored.meta.get("fingerprint") == fingerprint:
                return self.context.checkpoints.get(batch_name)
        except Exception:  # GX raises its own not-found errors; any of them means "build it"
            pass
        expectations = [getattr(gx.expectations, rule.gx_type)(
            **_gx_kwargs(rule.gx_kwargs), severity=SEVERITY[rule.severity], description=rule.description,
            meta={"rule_id": rule.id, "severity": rule.severity, "kind": rule.kind}) for rule in rules]
        suite = self.context.suites.add_or_update(gx.ExpectationSuite(
            name=batch_name, expectations=expectations, meta={"fingerprint": fingerprint}))
        definition = self.context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=batch_name, data=self._batch_definition(batch_name), suite=suite))
        return self.context.checkpoints.add_or_update(gx.Checkpoint(
            name=batch_name, validation_definitions=[definition], result_format={"result_format": "SUMMARY"}))

    def validate(self, name: str, stage: str, frame: pl.DataFrame, rules: list[Rule], run_name: str) -> list[RuleResult]:
        """Run `rules` on `frame` through a Checkpoint named after the batch; one result per rule."""
        gx = self._gx
        checkpoint = self._checkpoint(f"{stage}.{name}", rules)
        parameters = {k: v for rule in rules for k, v in rule.gx_parameters.items()}
        result = checkpoint.run(batch_parameters={"dataframe": frame.to_pandas()}, expectation_parameters=parameters,
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
        """Render this run's results into the data docs — only these, so the cost does not grow with history."""
        self.context.build_data_docs(resource_identifiers=self._rendered)
        return self.root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def write_results(path: Path, results: list[RuleResult], extra: dict[str, Any]) -> Path:
    """Keep one run's results as JSON (the audit trail of what was checked and what failed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**extra, "results": [_jsonable(asdict(r)) for r in results]}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path
