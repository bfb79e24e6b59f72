"""Split a raw batch into clean rows and quarantined rows, by the row-level rules compiled from its contract.

Pure Polars: a raw frame and rules in, frames out. Every input row leaves in exactly one of the two outputs, so a
run can prove rows in = rows published + rows quarantined.

A raw batch may come as a LazyFrame (a day of 20 M web events is a 9 GiB frame of text): the rules are then evaluated
in streaming passes that keep only narrow results (the failing rows, the keys), and the clean rows stay a lazy query
for staging to stream, so the batch is never held whole, let alone twice.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from influence_pipeline.schemas.contract import Contract
from influence_pipeline.schemas.row_rules import (
    NUL_SHOWN,
    Rule,
    is_epoch_seconds,
    needs_typed,
    raw_column,
    reference_targets,
    typed_column,
)
from influence_pipeline.transforms.staging.common import (
    abbreviated_count,
    blank_to_null,
    from_unix_seconds,
    to_bool,
    to_date,
    to_float,
    to_int,
    to_utc,
)
from influence_pipeline.transforms.staging.countries import country_code

QUARANTINE_COLUMNS = {"rule_id": pl.String, "failed_rules": pl.String, "reason": pl.String}
#: One row per value set to null in a clean row: where it was (file, line, field), what it was, and why.
NULLED_SCHEMA = {"_source_file": pl.String, "_row_number": pl.Int64, "field": pl.String, "value": pl.String,
                 "failed_rules": pl.String, "reason": pl.String}
_TYPED = {"integer": to_int, "number": to_float, "timestamp": to_utc, "date": to_date, "boolean": to_bool}
#: The parser of each `parsedAs` (influence_pipeline.schemas.contract.PARSED_AS): the same expression staging reads the column with, so
#: the type rule fails exactly where staging would get null.
PARSERS = {"humanCount": abbreviated_count, "countryCode": country_code}


def _typed(prop) -> pl.Expr:
    if prop.parsed_as is not None:
        cast = PARSERS[prop.parsed_as]
    else:
        cast = from_unix_seconds if is_epoch_seconds(prop) else _TYPED[prop.logical_type]
    return cast(pl.col(raw_column(prop))).alias(typed_column(prop))


STREAMING = "streaming"


@dataclass
class SplitResult:
    # the raw rows that passed, original values but informational ones that broke a rule: null (a LazyFrame when the
    # batch came as one: see `split_batch`)
    clean: pl.DataFrame | pl.LazyFrame
    quarantined: pl.DataFrame  # the raw rows that did not: original values (NUL escaped), rule_id, failed_rules, reason
    rule_counts: dict[str, int] = field(default_factory=dict)  # rows breaking each rule (a row may break several)
    nulled: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=NULLED_SCHEMA))  # see NULLED_SCHEMA
    clean_rows: int = 0  # rows in `clean`, counted without collecting it


def validation_frame(raw: pl.DataFrame | pl.LazyFrame, contract: Contract) -> pl.LazyFrame:
    """The frame both engines check, as a query: the contract's columns trimmed (blank = missing), plus a typed twin
    (`<column>__value`) of each non-text column, cast as staging will cast it. Unparseable lines are left out: they
    are quarantined on their parse error alone."""
    columns = [raw_column(p) for p in contract.properties]
    return (raw.lazy().filter(pl.col("_parse_error").is_null())
            .select(*[blank_to_null(pl.col(c)).alias(c) for c in columns], "_row_number")
            .with_columns([_typed(p) for p in contract.properties if needs_typed(p)]))


def emptied(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """An empty frame of `frame`'s schema that holds nothing of it: `LazyFrame.clear()` is `limit(0)` over the
    query, which keeps a batch read into memory alive for as long as the empty frame lives."""
    return pl.DataFrame(schema=frame.lazy().collect_schema())


def storable(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every NUL character of its text columns replaced by the visible escape `\\x00`: what a quarantined
    row keeps, since every warehouse must be able to store it (PostgreSQL text cannot hold a NUL; see the `nul` rule
    in schemas/row_rules.py)."""
    return frame.with_columns(pl.col(pl.String).str.replace_all("\x00", NUL_SHOWN, literal=True))


def _dedupe_order(contract: Contract) -> list[pl.Expr]:
    return [to_utc(pl.col(raw_column(contract.prop(c)))) for c in contract.dedupe_latest_by]


def split_batch(raw: pl.DataFrame | pl.LazyFrame, contract: Contract, rules: list[Rule],
                checked: pl.LazyFrame | None = None) -> SplitResult:
    """Apply `rules` (row-level) to `raw`; then, among the rows that passed, keep one row per primary key — the latest
    by the contract's `dedupeLatestBy`, ties to the later line — and quarantine the superseded ones. `checked` is
    `raw`'s validation frame when the caller has built it already. A DataFrame batch gets its clean rows as a
    DataFrame in line order; a LazyFrame batch gets them as a LazyFrame (in the batch's order), never collected here."""
    dataset = contract.name
    lazy = raw.lazy()
    checked = validation_frame(lazy, contract) if checked is None else checked
    flags = _flags(checked, rules)
    counts = {rule.id: int(flags[f"__fail{i}"].sum()) for i, rule in enumerate(rules)}
    # Rules on informational columns null a value instead of quarantining its row.
    quarantining = [(i, r) for i, r in enumerate(rules) if r.on_fail != "null"]
    nulling = [(i, r) for i, r in enumerate(rules) if r.on_fail == "null"]
    fail = [pl.col(f"__fail{i}") for i, _ in quarantining]
    # The lists of failed rules and reasons are built for the failing rows only (a few in a hundred): building them
    # for every row took 10 s of a 2 M-event batch.
    flagged = flags.filter(pl.any_horizontal(fail)) if fail else flags.clear()
    failed = pl.concat_list([pl.when(f).then(pl.lit(r.id)) for f, (_, r) in zip(fail, quarantining)]
                            ).list.drop_nulls() if fail else pl.lit([], dtype=pl.List(pl.String))
    reasons = pl.concat_list([pl.when(f).then(pl.col(f"__why{i}")) for f, (i, _) in zip(fail, quarantining)]
                             ).list.drop_nulls() if fail else pl.lit([], dtype=pl.List(pl.String))
    verdicts = flagged.select("_row_number", failed.alias("__failed"), reasons.alias("__reasons"))

    parse_id = f"{dataset}.parse"
    parse_ok = pl.col("_parse_error").is_null()
    bad_parse = lazy.filter(~parse_ok).with_columns(
        rule_id=pl.lit(parse_id), failed_rules=pl.lit(parse_id),
        reason=pl.concat_str([pl.lit("line "), pl.col("_row_number").cast(pl.String), pl.lit(": "), pl.col("_parse_error")])
    ).collect(engine=STREAMING)
    # Rows are picked out of the batch by line number, then joined to their (few) verdicts: a join against the
    # whole batch would build its table on the batch side.
    broken = pl.col("_row_number").is_in(verdicts["_row_number"].implode())
    bad_rules = lazy.filter(broken).collect(engine=STREAMING).join(verdicts, on="_row_number").with_columns(
        rule_id=pl.col("__failed").list.first(), failed_rules=pl.col("__failed").list.join(","),
        reason=pl.col("__reasons").list.join("; "))
    passed = lazy.filter(parse_ok & ~broken)

    # Deduplicated on the values as delivered: a superseded row is quarantined as it came, its bad values included.
    kept, superseded = _dedupe(passed, contract, checked)
    kept, nulled = _null_values(kept, flags, nulling, verdicts["_row_number"], superseded["_row_number"])
    counts = {parse_id: bad_parse.height, **counts, f"{dataset}.duplicate_key": superseded.height}
    out_columns = lazy.collect_schema().names()
    quarantined = pl.concat([f.select(*out_columns, *QUARANTINE_COLUMNS) for f in (bad_parse, bad_rules, superseded)],
                            how="vertical").sort("_row_number")
    # The quarantined rows go to the warehouse too: a NUL the `nul` rule caught (or one inside an unparseable line)
    # must not fail the load there.
    quarantined = storable(quarantined)
    parsed = checked.select(pl.len()).collect(engine=STREAMING).item()
    clean_rows = parsed - verdicts.height - superseded.height
    kept = kept.select(out_columns)
    if isinstance(raw, pl.DataFrame):
        kept = _in_line_order(kept.collect())
    return SplitResult(kept, quarantined, counts, nulled, clean_rows)


def _flags(checked: pl.DataFrame, rules: list[Rule]) -> pl.DataFrame:
    """`_row_number`, `__fail<i>` and `__why<i>` per rule, for the rows that break at least one rule: the others
    need neither, and building every rule's reason text for all 2 M events of a batch took 1.7 s and 1.6 GiB."""
    fails = [f"__fail{i}" for i in range(len(rules))]
    if not rules:
        return checked.select("_row_number").clear().collect()
    return (checked.lazy()
            .with_columns(*[rule.fail.fill_null(False).alias(name) for rule, name in zip(rules, fails)])
            .filter(pl.any_horizontal(fails))
            .select("_row_number", *fails, *[rule.reason.alias(f"__why{i}") for i, rule in enumerate(rules)])
            .collect(engine=STREAMING))


def _in_line_order(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` sorted by line number; a batch read in line order (the usual case) is returned as it is, since the
    sort would copy every column of it."""
    return frame if frame["_row_number"].is_sorted() else frame.sort("_row_number")


def _null_values(kept: pl.LazyFrame, flags: pl.DataFrame, nulling: list[tuple[int, Rule]], *dropped: pl.Series
                 ) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """`kept` with the values that broke a rule of an informational column set to null, and the list of them (one
    row per value, its rules and reasons joined in rule order). `dropped`: the line numbers of rows not kept."""
    hits = [flags.filter(pl.col(f"__fail{i}")).select(
        "_row_number", field=pl.lit(rule.column), rule=pl.lit(rule.id), why=pl.col(f"__why{i}"))
        for i, rule in nulling]
    gone = pl.concat([s.cast(pl.Int64) for s in dropped]) if dropped else pl.Series([], dtype=pl.Int64)
    hits = pl.concat(hits).filter(~pl.col("_row_number").is_in(gone.implode())) if hits else None
    if hits is None or hits.is_empty():
        return kept, pl.DataFrame(schema=NULLED_SCHEMA)
    per_value = hits.group_by("_row_number", "field", maintain_order=True).agg(
        failed_rules=pl.col("rule").str.join(","), reason=pl.col("why").str.join("; "))
    fields = per_value["field"].unique(maintain_order=True).to_list()
    schema = kept.collect_schema()
    source = kept.filter(pl.col("_row_number").is_in(per_value["_row_number"].implode())).select(
        "_row_number", "_source_file" if "_source_file" in schema
        else pl.lit(None, dtype=pl.String).alias("_source_file"), *fields).collect(engine=STREAMING)
    delivered = source.unpivot(fields, index=["_row_number", "_source_file"], variable_name="field",
                               value_name="value")
    nulled = (per_value.join(delivered, on=["_row_number", "field"], how="left")
              .sort("_row_number", maintain_order=True).select(*NULLED_SCHEMA))
    kept = kept.with_columns([
        pl.when(pl.col("_row_number").is_in(per_value.filter(pl.col("field") == f)["_row_number"].implode()))
        .then(pl.lit(None, dtype=schema[f])).otherwise(pl.col(f)).alias(f) for f in fields])
    return kept, storable(nulled)


def _dedupe(passed: pl.LazyFrame, contract: Contract, checked: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """`passed` without its superseded rows, and those rows with their quarantine columns."""
    key = [raw_column(contract.prop(k)) for k in contract.primary_key]
    if not key:
        return passed, passed.clear().with_columns(
            **{name: pl.lit(None, dtype=dtype) for name, dtype in QUARANTINE_COLUMNS.items()}).collect()
    # Compare keys as the rules saw them (trimmed), so " 123" and "123" are the same order. Ranked on a narrow frame
    # (row number, key, order) and without a per-key window: sorted, a key's winner is the last row of its run.
    key_cols = [f"__key_{k}" for k in key]
    order = _dedupe_order(contract)
    # Only rows whose key repeats can be superseded: ranking those alone skips sorting a 2 M-event batch by its key.
    keys = checked.select("_row_number", *[pl.col(k).alias(f"__key_{k}") for k in key]).collect(engine=STREAMING)
    repeated = keys.filter(keys.select(key_cols).is_duplicated())
    del keys
    narrow = (passed.filter(pl.col("_row_number").is_in(repeated["_row_number"].implode()))
              .select("_row_number", *[e.alias(f"__order{i}") for i, e in enumerate(order)])
              .collect(engine=STREAMING).join(repeated, on="_row_number"))
    order_cols = [f"__order{i}" for i in range(len(order))]
    run_ends = pl.any_horizontal([pl.col(c).ne_missing(pl.col(c).shift(-1)) for c in key_cols]).fill_null(True)
    ranked = (narrow.sort([*key_cols, *order_cols, "_row_number"], nulls_last=False)
              .with_columns(__winner=pl.when(run_ends).then(pl.col("_row_number")).backward_fill()))
    losers = ranked.filter(pl.col("_row_number") != pl.col("__winner")).select("_row_number", "__winner")
    shown_key = ", ".join(contract.primary_key)
    lost = pl.col("_row_number").is_in(losers["_row_number"].implode())
    superseded = passed.filter(lost).collect(engine=STREAMING).join(losers, on="_row_number").with_columns(
        rule_id=pl.lit(f"{contract.name}.duplicate_key"), failed_rules=pl.lit(f"{contract.name}.duplicate_key"),
        reason=pl.concat_str([pl.lit("superseded by line "), pl.col("__winner").cast(pl.String),
                              pl.lit(f" (same {shown_key})")]))
    return passed.filter(~lost), superseded


def nulled_messages(dataset: str, nulled: pl.DataFrame, limit: int = 20) -> list[str]:
    """Run-log lines for the values set to null in one batch: file, line and field of each (the first `limit`), then
    how many more, so a batch with thousands of bad values does not flood the log."""
    lines = [f"{dataset}: {row['_source_file']} line {row['_row_number']}: {row['reason']}; {row['field']} set to "
             f"null, row kept ({row['failed_rules']})" for row in nulled.head(limit).iter_rows(named=True)]
    if nulled.height > limit:
        fields = ", ".join(nulled["field"].unique(maintain_order=True).to_list())
        lines.append(f"{dataset}: … and {nulled.height - limit} more values set to null (fields {fields})")
    return lines


@dataclass
class BatchCheck:
    dataset: str
    # the validation frame the rules run on (a query over the batch, or — for GX's pandas engine — collected; emptied
    # once its rules are evaluated: see `outcomes`)
    frame: pl.DataFrame | pl.LazyFrame
    rules: list[Rule]  # the row-level rules applied
    split: SplitResult
    seconds: float = 0.0
    outcomes: list[dict] | None = None  # the raw-batch rules' outcomes, when evaluated in the check step
    rows: int | None = None  # the validation frame's row count, kept when the frame is emptied


def reference_values(raw: pl.DataFrame | pl.LazyFrame, column: str) -> list[str]:
    """Distinct trimmed values of a raw column: what a same-day foreign key may point at."""
    values = raw.lazy().filter(pl.col("_parse_error").is_null()).select(blank_to_null(pl.col(column)).alias("v"))
    return values.drop_nulls().unique().sort("v").collect(engine=STREAMING)["v"].to_list()


def same_day_references(contract: Contract, raw: dict[str, pl.DataFrame | pl.LazyFrame]) -> dict[str, list[str]]:
    """For each "<dataset>.<column>" the contract's relationships point at, the values that exist in that dataset's
    raw batch of the same day (`raw` maps dataset name → raw frame)."""
    refs = {}
    for target in reference_targets(contract):
        dataset, column = target.split(".", 1)
        refs[target] = reference_values(raw[dataset], column)
    return refs


def check_batch(raw: pl.DataFrame | pl.LazyFrame, contract: Contract, rules: list[Rule]) -> BatchCheck:
    """Split one raw batch by its row rules and keep the frame the rules were evaluated on, for GX to record (a
    DataFrame batch: collected; a LazyFrame batch: the query, evaluated in streaming passes by the Polars engine)."""
    checked = validation_frame(raw, contract)
    split = split_batch(raw, contract, rules, checked)
    return BatchCheck(contract.name, checked.collect() if isinstance(raw, pl.DataFrame) else checked, rules, split)
