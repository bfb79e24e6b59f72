"""Validation on a dirty sample: the two engines agree, rows are conserved, and an error rule publishes nothing."""
import dataclasses
import hashlib
import json
import shutil
from datetime import date

import duckdb
import polars as pl
import pytest

from influence_pipeline.schemas.contract import QualityRule, load_contracts
from influence_pipeline.schemas.gx import GxValidator
from influence_pipeline.schemas.raw import DATASETS
from influence_pipeline.schemas.row_rules import row_rules
from influence_pipeline.sources.ingest import ingest_dataset, scan_raw
from influence_pipeline.transforms.quarantine import check_batch, same_day_references
from tests.conftest import FIXTURE_DATE, FIXTURES, TEST_PII_KEY

DS = date(2026, 11, 1)


@pytest.fixture(scope="module")
def dirty_landing(tmp_path_factory):
    from influence_pipeline.sample import generate

    landing = tmp_path_factory.mktemp("dirty") / "landing"
    generate(landing, DS, 1, scale=0.2, seed=7, dirty_rate=0.05)
    # the sample shop has no GA4 export: the GA4 fixture's (a few events of each kind, defects included) joins it
    ga4 = landing / "ga4" / DS.isoformat() / "events.ndjson"
    ga4.parent.mkdir(parents=True)
    shutil.copyfile(FIXTURES / "ga4" / "landing" / "ga4" / FIXTURE_DATE / "events.ndjson", ga4)
    # and the shop's first orders arrive as a pull would land them (GraphQL nodes), one with an id that is no gid
    from influence_pipeline.fake_api.shopify import graphql_order

    orders = landing / "orders" / DS.isoformat() / "orders.ndjson"
    lines = orders.read_text().splitlines()
    parsed = []
    for line in lines[:12]:
        try:
            parsed.append(json.loads(line))
        except ValueError:  # a line the sample broke on purpose stays in the REST file
            continue
    moved, nodes = [], []
    for record in parsed:
        try:
            nodes.append(graphql_order(record))
        except (KeyError, TypeError, ValueError, ArithmeticError):  # a defect the GraphQL shape cannot hold
            continue
        moved.append(record)
    nodes[0]["id"] = "5001"
    (orders.parent / "order_nodes.ndjson").write_text("".join(json.dumps(n) + "\n" for n in nodes))
    ids = {r["id"] for r in moved}
    orders.write_text("".join(line + "\n" for line in lines if not _is_order(line, ids)))
    return landing


def _is_order(line: str, ids: set[int]) -> bool:
    try:
        return json.loads(line).get("id") in ids
    except (ValueError, AttributeError):
        return False


def test_gx_unexpected_count_equals_rows_polars_quarantined_per_rule(dirty_landing, tmp_path):
    lake = tmp_path / "lake"
    for dataset in DATASETS:
        ingest_dataset(dataset, dirty_landing, lake, DS, "run", TEST_PII_KEY.encode())
    raw = {d.name: scan_raw(lake, d, DS).collect() for d in DATASETS}
    validator = GxValidator(tmp_path / "validation")
    compared = caught = 0
    for name, contract in ((d.name, load_contracts()[d.name]) for d in DATASETS):
        check = check_batch(raw[name], contract, row_rules(contract, DS, same_day_references(contract, raw)))
        for result in validator.validate(name, "raw", check.frame, check.rules, "cross-check"):
            assert result.unexpected_count == check.split.rule_counts[result.rule_id], result.rule_id
            compared += 1
            caught += result.unexpected_count
    assert compared > 150 and caught > 50


def _lake_digest(lake) -> dict[str, str]:
    return {str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(lake.rglob("*.parquet")) if "/raw/" not in str(p)}


def test_dirty_run_conserves_rows_and_an_error_rule_publishes_nothing(prefect_harness, dirty_landing, data_dir,
                                                                      monkeypatch):
    from influence_pipeline.flows.nightly import nightly
    from influence_pipeline.schemas.checkpoint import ValidationFailed

    shutil.rmtree(data_dir / "landing")
    shutil.copytree(dirty_landing, data_dir / "landing")
    summary = nightly(ds=DS)
    warehouse = data_dir / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        audit = con.execute("SELECT dataset, rows_in, rows_published, rows_quarantined, rows_held, status "
                            "FROM audit.run_sources").fetchall()
        stored = {d.name: con.execute(f"SELECT count(*), count(reason), count(rule_id) FROM quarantine.{d.name}")
                  .fetchone() for d in DATASETS}
        staged = con.execute("SELECT count(*) FROM staging.stg_web_events").fetchone()[0]
    assert len(audit) == len(DATASETS)
    for dataset, rows_in, published, quarantined, held, status in audit:
        assert rows_in == published + quarantined and held == 0, dataset
        assert stored[dataset] == (quarantined, quarantined, quarantined)
        assert status in ("ok", "warning")
    assert sum(row[3] for row in audit) > 50
    assert staged == summary.staged["stg_web_events"]
    before = _lake_digest(data_dir / "lake")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows_before = con.execute("SELECT * FROM staging.stg_orders ORDER BY ALL").fetchall()

    # A stricter contract (an error rule the data cannot meet) and a re-delivered file that would change outputs.
    contracts = load_contracts()
    strict = dataclasses.replace(contracts["stg_orders"], quality=(
        QualityRule("row_count", "test: impossible volume", "rowCount", "error", "mustBeGreaterThan", 10**9),))
    monkeypatch.setattr("influence_pipeline.schemas.checkpoint.load_contracts", lambda: {**contracts, "stg_orders": strict})
    orders = data_dir / "landing" / "orders" / DS.isoformat() / "orders.ndjson"
    orders.write_text("\n".join(orders.read_text().splitlines()[:5]) + "\n")
    with pytest.raises(ValidationFailed, match=r"stg_orders: rule stg_orders.row_count failed \(observed \d+\)"):
        nightly(ds=DS)
    assert _lake_digest(data_dir / "lake") == before
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT * FROM staging.stg_orders ORDER BY ALL").fetchall() == rows_before
        stopped = con.execute("SELECT dataset, status, rows_published, rows_held FROM audit.run_sources "
                              "WHERE run_id <> ? ORDER BY dataset", [summary.run_id]).fetchall()
    assert {status for _, status, _, _ in stopped} == {"not_published"}
    assert all(published == 0 for _, _, published, _ in stopped)


def _broken(frame: pl.DataFrame, contract) -> pl.DataFrame:
    """`frame` with its first row repeated and its first required column blanked on the second row: what the
    published rules exist to catch."""
    if frame.is_empty():
        return frame
    required = next((p.name for p in contract.properties if p.required), None)
    broken = pl.concat([frame, frame.head(1)])
    if required is not None:
        broken = broken.with_columns(pl.when(pl.int_range(pl.len()) == 1).then(None).otherwise(pl.col(required))
                                     .alias(required))
    return broken


def test_the_polars_engine_records_what_gx_computes_for_every_rule(prefect_harness, dirty_landing, data_dir):
    """Every rule of a dirty day — raw batches, and every staging and mart table of its nightly, clean and broken —
    gets the same success, unexpected and considered row counts and observed row count from both engines."""
    from influence_pipeline.flows.nightly import nightly
    from influence_pipeline.schemas.checkpoint import evaluate_raw, validate_run

    shutil.rmtree(data_dir / "landing")
    shutil.copytree(dirty_landing, data_dir / "landing")
    nightly(ds=DS)
    lake, contracts = data_dir / "lake", load_contracts()
    raw = {d.name: scan_raw(lake, d, DS).collect() for d in DATASETS}
    checks = {d.name: check_batch(raw[d.name], contracts[d.name],
                                  row_rules(contracts[d.name], DS, same_day_references(contracts[d.name], raw)))
              for d in DATASETS}
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        tables = con.sql("SELECT schema_name, table_name FROM duckdb_tables() "
                         "WHERE schema_name IN ('staging', 'marts')").fetchall()
        published = {table: con.sql(f'SELECT * FROM "{schema}"."{table}"').pl() for schema, table in tables}
    published |= {f"{name}_broken": _broken(frame, contracts[name]) for name, frame in published.items()}
    contracts = contracts | {f"{name}_broken": dataclasses.replace(contracts[name], name=f"{name}_broken")
                             for name in list(published) if not name.endswith("_broken")}

    def outcomes(engine: str, batches: dict = checks, tag: str = "") -> dict[str, tuple]:
        run = validate_run(data_dir / (engine + tag), DS, engine, batches, published, engine=engine,
                           contracts=contracts)
        return {f"{r.dataset}/{r.rule_id}": (r.success, r.unexpected_count, r.element_count, r.observed_value)
                for r in run.results}

    polars, gx = outcomes("polars"), outcomes("gx")
    assert polars.keys() == gx.keys() and len(polars) > 800
    assert {rule: polars[rule] for rule in polars if polars[rule] != gx[rule]} == {}
    # The nightly evaluates raw batches in its check step and drops their frames: the same outcomes are recorded.
    early = {name: evaluate_raw(check, contracts[name]) for name, check in checks.items()}
    assert all(check.frame.is_empty() for check in early.values())
    assert outcomes("polars", early, "-early") == polars
    assert sum(not success for success, *_ in polars.values()) > 40  # the comparison covers failures, not only passes


def test_gx_keeps_the_last_two_weeks_of_results_so_a_night_does_not_slow_down_with_history(tmp_path):
    from influence_pipeline.schemas.gx import prune_store

    uncommitted = tmp_path / "gx" / "uncommitted"
    runs = [uncommitted / "validations" / "raw" / "web_events" / "2026-10-31-run-a",
            uncommitted / "validations" / "published" / "fct_visit" / "2026-11-14-run-b",
            uncommitted / "data_docs" / "local_site" / "validations" / "raw" / "web_events" / "2026-10-31-run-a",
            uncommitted / "validations" / "raw" / "web_events" / "not-a-run"]
    for run in runs:
        (run / "x").mkdir(parents=True)
    assert prune_store(tmp_path, date(2026, 11, 1)) == 2
    assert [run.exists() for run in runs] == [False, True, False, True]


def test_both_engines_count_the_rows_the_nul_rules_quarantine(tmp_path):
    """The golden day with a NUL in values of CSV and NDJSON files (tests/bad_input/test_nul.py): GX's own engine,
    the Polars engine and the quarantine agree on every row rule, the `nul` rules included."""
    from influence_pipeline.schemas.polars_engine import evaluate
    from tests.bad_input.test_nul import _nul_day
    from tests.conftest import FIXTURE_DATE, FIXTURES

    day = date.fromisoformat(FIXTURE_DATE)
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    shutil.copytree(FIXTURES / "landing", landing)
    _nul_day(landing)
    for dataset in DATASETS:
        ingest_dataset(dataset, landing, lake, day, "run", TEST_PII_KEY.encode())
    raw = {d.name: scan_raw(lake, d, day).collect() for d in DATASETS}
    validator = GxValidator(tmp_path / "validation")
    caught = {}
    for name in ("esp_signups", "roster_campaigns", "web_events", "shopify_orders"):
        contract = load_contracts()[name]
        check = check_batch(raw[name], contract, row_rules(contract, day, same_day_references(contract, raw)))
        polars = evaluate(check.frame, check.rules)
        for rule, result, outcome in zip(check.rules, validator.validate(name, "raw", check.frame, check.rules,
                                                                          "nul-check"), polars):
            assert result.rule_id == rule.id
            assert result.unexpected_count == outcome["unexpected_count"] == check.split.rule_counts[rule.id], rule.id
            assert result.element_count == outcome["element_count"], rule.id
            if rule.kind == "nul" and result.unexpected_count:
                caught[rule.id] = result.unexpected_count
    assert caught == {"esp_signups.list_name.nul": 1, "roster_campaigns.campaign_name.nul": 1,
                      "web_events.user_agent.nul": 1, "shopify_orders.discount_codes.nul": 1}
