"""Rules compiled from a contract, each rendered for both engines from one definition.

A row-level rule becomes (1) a Polars expression that is true on the rows breaking it — used to split a batch into
clean and quarantined rows, or, for a rule on an informational column (`onInvalid: "null"` in the contract), to set
the bad values to null in rows that are kept — and (2) a Great Expectations expectation whose `unexpected_count` on
the same batch is the same number (tests check it). Dataset-level rules exist only as expectations; GX records them
and gates the run.

Rules a target cannot express are listed in NOT_ROW_CHECKED with the reason, never silently dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

import polars as pl

from influence_pipeline.schemas.contract import PARSED_AS, Contract, Property, QualityRule
from influence_pipeline.schemas.time_range import PlausibleTime, configured_plausible_time, earliest_limit, future_limit

#: Logical types a raw text value must cast to; the type rule fails where the text is there but the cast is null.
TYPED = ("integer", "number", "boolean", "date", "timestamp")
NOT_ROW_CHECKED = {
    "array": "JSON arrays are kept as JSON text; their shape is checked when staging decodes them (a value of another "
             "shape decodes to null)",
    "pii": "personal data is hashed at ingestion, so only its presence (required) can be checked",
}
#: Logical types whose raw text reaches a text column of the warehouse (JSON arrays and objects are decoded by staging,
#: and their strings with them); typed columns cannot carry a NUL past their cast, so the type rule catches it there.
TEXT_HELD = ("string", "array", "object")
#: A NUL character, as a regular expression both engines read alike (Rust's regex for Polars, Python's re for GX).
NUL_REGEX = r"\x00"
#: ... and in JSON text, where it is also written as the escape \u0000 — unless that backslash is itself escaped
#: ("\\u0000" is a backslash followed by "u0000").
JSON_NUL_REGEX = r"\x00|(?:^|[^\\])(?:\\\\)*\\u0000"
#: What the quarantined copy of a row holds in place of each NUL (transforms/quarantine.storable): the visible escape.
NUL_SHOWN = r"\x00"
VALUE_SUFFIX = "__value"  # typed twin of a raw text column in the validation frame
SEVERITY = {"error": "critical", "warning": "warning"}


@dataclass(frozen=True)
class Rule:
    id: str
    dataset: str
    kind: str  # required | nul | type | range | pattern | enum | past | future | relationship | row_count | unique | not_null
    # error | warning (row rules are warnings: the rows they catch are quarantined, or their informational values
    # nulled, and the run goes on)
    severity: str
    description: str
    gx_type: str  # expectation class name
    gx_kwargs: dict[str, Any]
    fail: pl.Expr | None = None  # row-level only: true on the rows that break the rule
    reason: pl.Expr | None = None  # row-level only: the human-readable reason for one row
    column: str | None = None
    gx_parameters: dict[str, Any] = field(default_factory=dict)  # run-time values of $PARAMETER placeholders
    # row-level only: what becomes of a row breaking the rule — "quarantine", or "null": the rule is on an
    # informational column (`onInvalid: "null"`), whose bad value is set to null in the published row, with a warning
    on_fail: str = "quarantine"

    @property
    def is_row_level(self) -> bool:
        return self.fail is not None


def raw_column(prop: Property) -> str:
    return f"{prop.name}_hash" if prop.is_pii else prop.name


def typed_column(prop: Property) -> str:
    return f"{raw_column(prop)}{VALUE_SUFFIX}"


def needs_typed(prop: Property) -> bool:
    return (prop.logical_type in TYPED or prop.parsed_as is not None) and not prop.is_pii


def is_epoch_seconds(prop: Property) -> bool:
    """An integer holding Unix seconds (TikTok's create_time): typed, and time rules apply, as a timestamp."""
    return prop.logical_type == "integer" and prop.custom.get("epoch") == "seconds"


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _shown(column: str) -> pl.Expr:
    return pl.concat_str([pl.lit('"'), pl.col(column).str.slice(0, 80), pl.lit('"')])


def _parameter(rule_id: str, value: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """A value that changes from run to run (a date limit, the keys a foreign key may point at) goes to GX as a
    suite parameter, so the suite itself stays the same and is not rebuilt every night."""
    name = rule_id.replace(".", "__")
    return {"$PARAMETER": name}, {name: value}


#: How the description of a rule on an informational column ends, in the data docs and the results.
INFORMATIONAL = " (informational column: a bad value is set to null and the row kept)"


def _rule(contract: Contract, prop: Property, kind: str, description: str, gx_type: str, gx_kwargs: dict,
          fail: pl.Expr, reason: pl.Expr, severity: str = "warning", gx_parameters: dict | None = None) -> Rule:
    on_fail = "null" if prop.informational else "quarantine"
    description += INFORMATIONAL if prop.informational else ""
    return Rule(f"{contract.name}.{prop.name}.{kind}", contract.name, kind, severity, description, gx_type,
                gx_kwargs, fail, reason, raw_column(prop), gx_parameters or {}, on_fail)


def _nul_rule(contract: Contract, prop: Property) -> Rule:
    """`<dataset>.<field>.nul`: the field's text holds no NUL character (U+0000).

    DuckDB and Parquet store a NUL inside text, PostgreSQL's text types cannot: a single NUL in one value made COPY
    refuse the whole table at load time, after other tables of the night had committed — and every rerun failed the
    same way. Caught here, the row is quarantined like any other broken row, with a reason naming the field, and the
    rest of the batch publishes. The check covers every non-PII field whose text reaches the warehouse as text:
    strings, and JSON arrays and objects (kept as JSON text, where a NUL is written \\u0000, and decoded by staging).
    Typed fields need no rule of their own: text with a NUL does not cast, so their type rule quarantines the row.
    PII is hashed at ingestion, so its NULs never reach storage.

    The quarantined copy of the row cannot keep the NUL either — the quarantine tables are loaded into the same
    warehouse — so `split_batch` replaces each NUL in it, in every text column (values, `reason`, `_raw_line` of an
    unparseable line), by the visible four-character escape `\\x00` (NUL_SHOWN): the row stays readable, and where the
    NUL was stays visible. The raw lake keeps the file's text exactly as delivered."""
    name, col = prop.name, raw_column(prop)
    regex = NUL_REGEX if prop.logical_type == "string" else JSON_NUL_REGEX
    value = pl.col(col)
    found = value.str.contains("\x00", literal=True) if regex == NUL_REGEX else value.str.contains(regex)
    return _rule(contract, prop, "nul", f"{name} must not contain a NUL character (PostgreSQL text cannot store it)",
                 "ExpectColumnValuesToNotMatchRegex", {"column": col, "regex": regex}, value.is_not_null() & found,
                 pl.lit(f"{name} contains a NUL character (shown as {NUL_SHOWN}), which PostgreSQL text cannot store"))


def _time_rules(contract: Contract, prop: Property, landing_date: date, plausible: PlausibleTime) -> list[Rule]:
    """`past` and `future`: a date or timestamp outside the plausible range quarantines its row, naming the field and
    its value (a typed value is compared, so a zone offset counts: 2000-01-01T00:00:00+05:00 is 1999 in UTC)."""
    name, col, typed = prop.name, raw_column(prop), pl.col(typed_column(prop))
    low, gx_low, shown_low = earliest_limit(prop, plausible.earliest)
    placeholder, params = _parameter(f"{contract.name}.{prop.name}.past", gx_low)
    rules = [_rule(contract, prop, "past", f"{name} must not be earlier than {shown_low} (plausible_time.earliest)",
                   "ExpectColumnValuesToBeBetween", {"column": typed_column(prop), "min_value": placeholder},
                   typed.is_not_null() & (typed < low),
                   pl.concat_str([pl.lit(f"{name} "), _shown(col), pl.lit(f" is too early (before {shown_low})")]),
                   gx_parameters=params)]
    days = prop.max_days_after_landing
    if days is None:
        days = plausible.latest_days_after_landing
    limit, gx_limit, shown = future_limit(prop, landing_date, days)
    placeholder, params = _parameter(f"{contract.name}.{prop.name}.future", gx_limit)
    rules.append(_rule(contract, prop, "future", f"{name} must not be later than {days} day(s) after the landing date",
                       "ExpectColumnValuesToBeBetween", {"column": typed_column(prop), "max_value": placeholder},
                       typed.is_not_null() & (typed > limit),
                       pl.concat_str([pl.lit(f"{name} "), _shown(col), pl.lit(f" is in the future (after {shown})")]),
                       gx_parameters=params))
    return rules


def _property_rules(contract: Contract, prop: Property, landing_date: date,
                    references: dict[str, list[str]], plausible: PlausibleTime) -> list[Rule]:
    col, name = raw_column(prop), prop.name
    value = pl.col(col)
    rules = []
    if prop.required:
        rules.append(_rule(contract, prop, "required", f"{name} must be present", "ExpectColumnValuesToNotBeNull",
                           {"column": col}, value.is_null(), pl.lit(f"{name} is missing")))
    if prop.is_pii:
        return rules
    if prop.logical_type in TEXT_HELD:
        rules.append(_nul_rule(contract, prop))
    typed = pl.col(typed_column(prop))
    if needs_typed(prop):
        # "Is it a valid date?" is answered by casting it, as staging will: a regex would pass 2026-02-30.
        kind = PARSED_AS.get(prop.parsed_as) or _article(prop.logical_type) + " " + prop.logical_type
        rules.append(_rule(contract, prop, "type", f"{name} must be {kind}", "ExpectColumnValuesToNotBeNull",
                           {"column": typed_column(prop), "row_condition": {"$NOT_NULL": col}},
                           value.is_not_null() & typed.is_null(),
                           pl.concat_str([pl.lit(f"{name} "), _shown(col), pl.lit(f" is not {kind}")])))
    if prop.minimum is not None or prop.maximum is not None:
        low, high = prop.minimum, prop.maximum
        if is_epoch_seconds(prop):  # its typed twin is a timestamp: compare like with like
            low, high = (None if v is None else datetime.fromtimestamp(v, timezone.utc) for v in (low, high))
        bounds = f"between {low} and {high}" if low is not None and high is not None else (
            f"at least {low}" if low is not None else f"at most {high}")
        outside = (typed < low if low is not None else pl.lit(False)) | (typed > high if high is not None else pl.lit(False))
        rules.append(_rule(contract, prop, "range", f"{name} must be {bounds}", "ExpectColumnValuesToBeBetween",
                           {"column": typed_column(prop), "min_value": low, "max_value": high},
                           typed.is_not_null() & outside,
                           pl.concat_str([pl.lit(f"{name} "), _shown(col), pl.lit(f" is out of range (must be {bounds})")])))
    if prop.logical_type in ("date", "timestamp") or is_epoch_seconds(prop):
        rules += _time_rules(contract, prop, landing_date, plausible)
    if prop.pattern is not None:
        rules.append(_rule(contract, prop, "pattern", f"{name} must match {prop.pattern}",
                           "ExpectColumnValuesToMatchRegex", {"column": col, "regex": prop.pattern},
                           value.is_not_null() & ~value.str.contains(prop.pattern),
                           pl.concat_str([pl.lit(f"{name} "), _shown(col), pl.lit(f" does not match {prop.pattern}")])))
    if prop.enum:
        allowed = [str(v) for v in prop.enum]
        rules.append(_rule(contract, prop, "enum", f"{name} must be one of {', '.join(allowed)}",
                           "ExpectColumnValuesToBeInSet", {"column": col, "value_set": allowed},
                           value.is_not_null() & ~value.is_in(allowed),
                           pl.concat_str([pl.lit(f"{name} "), _shown(col), pl.lit(" is not an allowed value")])))
    for target in prop.relationships:
        known = references.get(target, [])
        placeholder, params = _parameter(f"{contract.name}.{prop.name}.relationship", known)
        rules.append(_rule(contract, prop, "relationship", f"{name} must exist in {target} of the same day",
                           "ExpectColumnValuesToBeInSet", {"column": col, "value_set": placeholder},
                           value.is_not_null() & ~value.is_in(known),
                           pl.concat_str([pl.lit(f"{name} "), _shown(col), pl.lit(f" has no match in {target}")]),
                           gx_parameters=params))
    return rules


def row_rules(contract: Contract, landing_date: date, references: dict[str, list[str]] | None = None,
              plausible: PlausibleTime | None = None) -> list[Rule]:
    """The row-level rules of a raw contract for one landing date. `references` holds, per "<dataset>.<column>" a
    relationship points at, the values that exist on that date; `plausible` the range of dates and timestamps
    (default: the configured rules' plausible_time)."""
    refs = references or {}
    if plausible is None and any(p.logical_type in ("date", "timestamp") or is_epoch_seconds(p)
                                 for p in contract.properties):
        plausible = configured_plausible_time()
    return [rule for prop in contract.properties
            for rule in _property_rules(contract, prop, landing_date, refs, plausible)]


_GX_ROW_COUNT = {
    "mustBe": lambda v: {"value": v},
    "mustBeGreaterThan": lambda v: {"min_value": v, "strict_min": True},
    "mustBeGreaterOrEqualTo": lambda v: {"min_value": v},
    "mustBeLessThan": lambda v: {"max_value": v, "strict_max": True},
    "mustBeLessOrEqualTo": lambda v: {"max_value": v},
    "mustBeBetween": lambda v: {"min_value": v[0], "max_value": v[1]},
}


def _quality_rule(contract: Contract, rule: QualityRule) -> Rule:
    if rule.metric != "rowCount" or rule.operator not in _GX_ROW_COUNT:
        raise ValueError(f"{contract.name}: quality rule {rule.id!r} ({rule.metric} {rule.operator}) is not supported "
                         "by the compiler; supported: rowCount with mustBe/mustBeGreater…/mustBeLess…/mustBeBetween")
    kwargs = _GX_ROW_COUNT[rule.operator](rule.value)
    gx_type = "ExpectTableRowCountToEqual" if rule.operator == "mustBe" else "ExpectTableRowCountToBeBetween"
    return Rule(f"{contract.name}.{rule.id}", contract.name, "row_count", rule.severity, rule.description, gx_type,
                kwargs)


def _unique_rule(contract: Contract, severity: str) -> Rule | None:
    key = [raw_column(contract.prop(k)) for k in contract.primary_key]
    if not key:
        return None
    description = f"({', '.join(contract.primary_key)}) must identify one row"
    if len(key) == 1:
        return Rule(f"{contract.name}.primary_key.unique", contract.name, "unique", severity, description,
                    "ExpectColumnValuesToBeUnique", {"column": key[0]})
    return Rule(f"{contract.name}.primary_key.unique", contract.name, "unique", severity, description,
                "ExpectCompoundColumnsToBeUnique", {"column_list": key})


def raw_dataset_rules(contract: Contract) -> list[Rule]:
    """Dataset-level rules of a raw batch: the contract's quality rules, and duplicate keys — a warning, since
    repeated snapshots of a key are normal and deduplicated (the superseded rows are quarantined)."""
    rules = [_quality_rule(contract, q) for q in contract.quality]
    unique = _unique_rule(contract, "warning")
    return rules + ([unique] if unique else [])


def published_rules(contract: Contract, references: dict[str, list[str]] | None = None) -> list[Rule]:
    """Dataset-level rules of a table about to be published (staging, marts). Keys unique and required columns
    present are errors: they are promises our own code makes. Value rules and foreign keys are warnings: they
    describe the data, which may legitimately surprise."""
    refs = references or {}
    rules = [_quality_rule(contract, q) for q in contract.quality]
    unique = _unique_rule(contract, "error")
    rules += [unique] if unique else []
    for prop in contract.properties:
        rid = f"{contract.name}.{prop.name}"
        if prop.required:
            rules.append(Rule(f"{rid}.not_null", contract.name, "not_null", "error", f"{prop.name} must be present",
                              "ExpectColumnValuesToNotBeNull", {"column": prop.name}))
        if prop.minimum is not None or prop.maximum is not None:
            rules.append(Rule(f"{rid}.range", contract.name, "range", "warning", f"{prop.name} within bounds",
                              "ExpectColumnValuesToBeBetween",
                              {"column": prop.name, "min_value": prop.minimum, "max_value": prop.maximum}))
        if prop.enum:
            rules.append(Rule(f"{rid}.enum", contract.name, "enum", "warning", f"{prop.name} is an allowed value",
                              "ExpectColumnValuesToBeInSet", {"column": prop.name, "value_set": list(prop.enum)}))
        if prop.pattern:
            rules.append(Rule(f"{rid}.pattern", contract.name, "pattern", "warning", f"{prop.name} matches {prop.pattern}",
                              "ExpectColumnValuesToMatchRegex", {"column": prop.name, "regex": prop.pattern}))
        for target in prop.relationships:
            placeholder, params = _parameter(f"{rid}.relationship", refs.get(target, []))
            rules.append(Rule(f"{rid}.relationship", contract.name, "relationship", "warning",
                              f"{prop.name} exists in {target}", "ExpectColumnValuesToBeInSet",
                              {"column": prop.name, "value_set": placeholder}, gx_parameters=params))
    return rules


def reference_targets(contract: Contract) -> list[str]:
    """The "<dataset>.<column>" values a contract's relationships need at run time."""
    return [t for prop in contract.properties for t in prop.relationships]
