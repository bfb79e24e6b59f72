"""The expectations the contracts compile to, evaluated with Polars — the engine GX 1.x lacks.

Each rule is answered with the numbers GX reports for it (unexpected rows, rows considered, the observed row count),
so the outcome can be recorded in GX's results store and data docs exactly as a GX run would have recorded it.
`tests/test_validation_engines.py` holds this engine equal to GX's own pandas engine, rule by rule. Row rules carry
their own Polars test (`Rule.fail`, the one that also quarantines the rows); the dataset-level rules of published
tables are standard expectations, read here from their GX type and arguments.
"""
from __future__ import annotations

from typing import Any

import polars as pl

from influence_pipeline.schemas.row_rules import Rule

ROW_COUNT_TYPES = {"ExpectTableRowCountToEqual", "ExpectTableRowCountToBeBetween"}


def _resolve(value: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return parameters[value["$PARAMETER"]]
    return value


def _unexpected(rule: Rule) -> pl.Expr:
    """True on the rows GX would list as unexpected for `rule`."""
    if rule.fail is not None:
        return rule.fail.fill_null(False)
    kwargs = {k: _resolve(v, rule.gx_parameters) for k, v in rule.gx_kwargs.items()}
    if rule.gx_type == "ExpectCompoundColumnsToBeUnique":
        columns = kwargs["column_list"]
        # GX ignores rows whose key columns are all missing, and lists every row of a repeated key.
        considered = pl.any_horizontal([pl.col(c).is_not_null() for c in columns])
        return considered & pl.struct(columns).is_duplicated()
    column = pl.col(kwargs["column"])
    if rule.gx_type == "ExpectColumnValuesToNotBeNull":
        return column.is_null()
    present = column.is_not_null()  # the other column expectations leave missing values to not-null rules
    if rule.gx_type == "ExpectColumnValuesToBeUnique":
        return present & column.is_duplicated()
    if rule.gx_type == "ExpectColumnValuesToBeInSet":
        return present & ~column.is_in(list(kwargs["value_set"]))
    if rule.gx_type == "ExpectColumnValuesToMatchRegex":
        return present & ~column.cast(pl.String).str.contains(kwargs["regex"])
    if rule.gx_type == "ExpectColumnValuesToBeBetween":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        below = pl.lit(False) if low is None else (column <= low if kwargs.get("strict_min") else column < low)
        above = pl.lit(False) if high is None else (column >= high if kwargs.get("strict_max") else column > high)
        return present & (below | above)
    raise ValueError(f"rule {rule.id}: the Polars engine does not know {rule.gx_type}")


def _considered(rule: Rule) -> pl.Expr:
    """The rows a rule looks at: all of them, or those its row condition selects."""
    condition = rule.gx_kwargs.get("row_condition")
    if isinstance(condition, dict) and "$NOT_NULL" in condition:
        return pl.col(condition["$NOT_NULL"]).is_not_null()
    return pl.repeat(True, pl.len())


def _row_count_ok(rule: Rule, rows: int) -> bool:
    kwargs = rule.gx_kwargs
    if rule.gx_type == "ExpectTableRowCountToEqual":
        return rows == kwargs["value"]
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    return ((low is None or (rows > low if kwargs.get("strict_min") else rows >= low))
            and (high is None or (rows < high if kwargs.get("strict_max") else rows <= high)))


def evaluate(frame: pl.DataFrame, rules: list[Rule]) -> list[dict[str, Any]]:
    """Per rule, in order: {success, unexpected_count, element_count, observed_value} as GX reports them — one pass
    over `frame` for all the rules."""
    column_rules = [(i, r) for i, r in enumerate(rules) if r.gx_type not in ROW_COUNT_TYPES]
    counts = frame.select(
        *[(_unexpected(r) & _considered(r)).sum().alias(f"u{i}") for i, r in column_rules],
        *[_considered(r).sum().alias(f"n{i}") for i, r in column_rules],
    ).row(0, named=True) if column_rules else {}
    outcomes = []
    for i, rule in enumerate(rules):
        if rule.gx_type in ROW_COUNT_TYPES:
            outcomes.append({"success": _row_count_ok(rule, frame.height), "unexpected_count": None,
                             "element_count": None, "observed_value": frame.height})
        else:
            unexpected = int(counts[f"u{i}"])
            outcomes.append({"success": unexpected == 0, "unexpected_count": unexpected,
                             "element_count": int(counts[f"n{i}"]), "observed_value": None})
    return outcomes
