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
UNIQUE_TYPES = {"ExpectColumnValuesToBeUnique", "ExpectCompoundColumnsToBeUnique"}


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


def _considered(rule: Rule) -> pl.Expr | None:
    """The rows a rule looks at: those its row condition selects, or (None) all of them."""
    condition = rule.gx_kwargs.get("row_condition")
    if isinstance(condition, dict) and "$NOT_NULL" in condition:
        return pl.col(condition["$NOT_NULL"]).is_not_null()
    return None


def _counts(rule: Rule, i: int) -> list[pl.Expr]:
    """`u<i>`, the unexpected rows, and `n<i>`, the rows considered."""
    considered = _considered(rule)
    if considered is None:
        return [_unexpected(rule).sum().alias(f"u{i}"), pl.len().alias(f"n{i}")]
    return [(_unexpected(rule) & considered).sum().alias(f"u{i}"), considered.sum().alias(f"n{i}")]


def _row_count_ok(rule: Rule, rows: int) -> bool:
    kwargs = rule.gx_kwargs
    if rule.gx_type == "ExpectTableRowCountToEqual":
        return rows == kwargs["value"]
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    return ((low is None or (rows > low if kwargs.get("strict_min") else rows >= low))
            and (high is None or (rows < high if kwargs.get("strict_max") else rows <= high)))


def evaluate(frame: pl.DataFrame | pl.LazyFrame, rules: list[Rule]) -> list[dict[str, Any]]:
    """Per rule, in order: {success, unexpected_count, element_count, observed_value} as GX reports them."""
    return evaluate_counted(frame, rules)[0]


def evaluate_counted(frame: pl.DataFrame | pl.LazyFrame, rules: list[Rule]) -> tuple[list[dict[str, Any]], int]:
    """`evaluate`'s outcomes and the rows of `frame`, counted in the same pass. The rules that compare values row by
    row take one streaming pass over `frame`, so a LazyFrame (a day's raw batch as a query) is never held whole; a
    uniqueness rule collects only its key columns."""
    lazy = frame.lazy()
    column_rules = [(i, r) for i, r in enumerate(rules) if r.gx_type not in ROW_COUNT_TYPES]
    by_row = [(i, r) for i, r in column_rules if r.gx_type not in UNIQUE_TYPES]
    counts = lazy.select(*[e for i, r in by_row for e in _counts(r, i)], pl.len().alias("rows")
                         ).collect(engine="streaming").row(0, named=True)
    for i, rule in column_rules:
        if rule.gx_type in UNIQUE_TYPES:
            kwargs = rule.gx_kwargs
            keys = lazy.select(kwargs.get("column_list") or [kwargs["column"]]).collect(engine="streaming")
            counts |= keys.select(_counts(rule, i)).row(0, named=True)
    rows = counts["rows"]
    outcomes = []
    for i, rule in enumerate(rules):
        if rule.gx_type in ROW_COUNT_TYPES:
            outcomes.append({"success": _row_count_ok(rule, rows), "unexpected_count": None,
                             "element_count": None, "observed_value": rows})
        else:
            unexpected = int(counts[f"u{i}"])
            outcomes.append({"success": unexpected == 0, "unexpected_count": unexpected,
                             "element_count": int(counts[f"n{i}"]), "observed_value": None})
    return outcomes, rows
