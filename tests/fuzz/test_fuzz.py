"""A small deterministic fuzz campaign: every mutation twice, on files of every source and format, through ingest,
the row rules, validation and staging; no case crashes, every handled file's rows add up. The CLI
(`python -m tests.fuzz --cases 3000`) runs thousands; its last big run is benchmarks/results/2026-11-30-fuzz.json."""
import gzip
from random import Random

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.fuzz.campaign import run_campaign
from tests.fuzz.mutations import MUTATIONS
from tests.fuzz.runner import Case, _balance_problems, _pack, make_case, run_case
from tests.fuzz.seeds import build_origin

CASES = 2 * len(MUTATIONS)


@pytest.fixture(scope="module")
def origins(tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz-origins")
    return {name: build_origin(name, work) for name in ("fixture", "sample")}


def test_a_small_campaign_crashes_nothing_and_balances_every_file():
    result = run_campaign(CASES, seed=7)
    assert result["crashes"] == []
    totals = result["totals"]
    assert totals["tried"] == CASES and totals["crashed"] == 0
    assert totals["handled"] + totals["files_refused"] == CASES
    assert {name: counts["tried"] for name, counts in result["by_mutation"].items()} == dict.fromkeys(MUTATIONS, 2)
    # the fuzzer is not vacuous: hostile rows were quarantined and broken files refused
    assert totals["rows_quarantined"] > 0 and totals["files_refused"] > 0
    assert len(result["by_source"]) >= 8


def test_cases_are_reproducible_from_seed_and_index(origins):
    first, again = make_case(5, 3, origins), make_case(5, 3, origins)
    assert (first.dataset, first.mutation, first.container, first.data) == \
        (again.dataset, again.mutation, again.container, again.data)


def test_deeply_nested_order_line_is_quarantined_not_crashed(origins):
    """The issue's crash (1 000-deep JSON in one order line: an uncaught RecursionError) as a fuzz case."""
    origin = origins["fixture"]
    nested = ', "note_attributes": ' + "[" * 1000 + "]" * 1000 + "}"
    outcome = run_case(_edited_case(origin, "shopify_orders", 1, "}", nested), origin)
    assert (outcome.status, outcome.rows_in, outcome.problems) == ("handled", origin.raw["shopify_orders"].height, [])
    golden_quarantined = origin.raw["shopify_orders"].height - origin.clean["shopify_orders"].height
    assert outcome.rows_quarantined == golden_quarantined + 1


def _edited_case(origin, dataset: str, line: int, old: str, new: str, reader: str = "per_line") -> Case:
    """A plain landing file: the origin's file of `dataset` with the last `old` of line `line` (1-based) made `new`."""
    seed_bytes = origin.files[dataset]
    lines = seed_bytes.decode().splitlines()
    head, found, tail = lines[line - 1].rpartition(old)
    assert found, f"{old} not on line {line}"
    lines[line - 1] = head + new + tail
    case = Case(0, origin.name, dataset, "edit", "plain", reader)
    _pack(case, "\n".join(lines).encode() + b"\n", seed_bytes, Random(0))
    return case


# Fuzz findings (seed 2): a number where a nested JSON field holds text failed the whole staging batch.
@pytest.mark.parametrize(("dataset", "line", "old", "new", "reader"), [
    # line 2 is the kept one of id 4990 (line 3 is superseded); the last refund transaction, after text values
    ("shopify_orders", 2, '"kind":"refund"', '"kind":-9223372036854775809', "per_line"),
    ("shopify_orders", 2, '"kind":"refund"', '"kind":-9223372036854775809', "native"),
    ("shopify_order_nodes", 2, '"currencyCode": "EUR"}}, "discountApplication"',
     '"currencyCode": 0}}, "discountApplication"', "per_line"),
    ("shopify_order_nodes", 2, '"currencyCode": "EUR"}}, "discountApplication"',
     '"currencyCode": -Infinity}}, "discountApplication"', "per_line"),
], ids=["orders-int65-per-line", "orders-int65-native", "nodes-zero", "nodes-infinity"])
def test_a_number_in_a_nested_text_field_does_not_crash_staging(origins, dataset, line, old, new, reader):
    outcome = run_case(_edited_case(origins["fixture"], dataset, line, old, new, reader), origins["fixture"])
    assert (outcome.status, outcome.message) == ("handled", "")


# Fuzz finding (seed 2): a string column holding bytes that are not UTF-8 escaped parse_parquet.
def test_a_parquet_string_that_is_not_utf8_is_refused_naming_the_file(origins, tmp_path):
    offsets = pa.array([0, 2, 5], pa.int32()).buffers()[1]
    names = pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(b"okx\xae!")])  # never validated
    out = pa.BufferOutputStream()
    pq.write_table(pa.table({"event_name": names}), out)
    case = Case(0, "fixture", "ga4_events", "byte_flip", "parquet", "per_line", data=out.getvalue().to_pybytes(),
                rel="ga4/2026-11-02/events.parquet")
    outcome = run_case(case, origins["fixture"])
    assert outcome.status in ("refused", "handled") and not outcome.problems, outcome.message


def test_a_truncated_gzip_is_refused_naming_the_file(origins):
    origin = origins["sample"]
    case = Case(0, "sample", "web_events", "truncate", "gzip_truncated", "per_line",
                data=gzip.compress(origin.files["web_events"])[:500], rel="web_events/2026-11-02/events.ndjson.gz")
    outcome = run_case(case, origin)
    assert outcome.status == "refused" and outcome.message.startswith("web_events/2026-11-02/events.ndjson.gz: ")


def test_the_classifier_flags_rows_that_do_not_add_up():
    case = Case(0, "fixture", "web_events", "crlf", "plain", "per_line", rel="web_events/2026-11-02/events.ndjson",
                expected_rows=3)
    raw = pl.DataFrame({"_row_number": [1, 2, 2]})
    clean = pl.DataFrame({"_row_number": [1]})
    quarantined = pl.DataFrame({"_row_number": [2], "rule_id": ["web_events.parse"], "reason": [None],
                                "_source_file": ["elsewhere.ndjson"]}, schema_overrides={"reason": pl.String})
    assert _balance_problems(case, 4, raw, clean, quarantined) == [
        "ingest reported 4 rows, the raw batch holds 3",
        "3 rows in but 1 clean + 1 quarantined",
        "two raw rows share a line number",
        "1 quarantined rows without a rule or reason",
        "quarantined rows not naming web_events/2026-11-02/events.ndjson",
    ]
