"""`influence forget`: an erased person leaves no trace in any output — landing, lake (raw, snapshots, quarantine),
warehouse on both engines, BI copy, reports, validation results — every published table equals a run that never
saw them, and an old landing file delivered again cannot bring them back."""
import csv
import hashlib
import hmac
import io
import json
import shutil
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from influence_pipeline.sample import generate
from tests.conftest import TEST_PII_KEY
from tests.published_state import assert_same, published, use_data_dir

START, DAYS = date(2026, 10, 1), 3
NIGHTS = [START + timedelta(days=i) for i in range(DAYS)]


def _json_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _person(landing: Path, email: str) -> dict[str, set[str]]:
    """The identifiers of the person with `email`, linked through orders, signups and web events (written apart
    from the pipeline's own linking, so the two check each other)."""
    emails, customers, devices = {email}, set(), set()
    while True:
        size = len(emails) + len(customers) + len(devices)
        for path in landing.glob("orders/*/orders.ndjson"):
            for order in map(json.loads, _json_lines(path)):
                mine = {order["email"], order["customer"]["email"]} & emails or str(order["customer"]["id"]) in customers
                if mine:
                    emails |= {order["email"], order["customer"]["email"]}
                    customers.add(str(order["customer"]["id"]))
        for path in landing.glob("signups/*/signups.csv"):
            for row in csv.DictReader(io.StringIO(path.read_text())):
                if row["email"] in emails or row["anonymous_id"] in devices:
                    emails.add(row["email"])
                    devices |= {row["anonymous_id"]} - {""}
        for path in landing.glob("web_events/*/events.ndjson"):
            for event in map(json.loads, _json_lines(path)):
                ids = {event.get("email"), str(event.get("customer_id")), event["anonymous_id"]}
                if ids & (emails | customers | devices):
                    devices.add(event["anonymous_id"])
                    customers |= {str(event["customer_id"])} if event.get("customer_id") else set()
                    emails |= {event["email"]} if event.get("email") else set()
        if len(emails) + len(customers) + len(devices) == size:
            return {"emails": emails, "customers": customers, "devices": devices}


def _holds(person: dict[str, set[str]], text: str) -> bool:
    return any(v in text for values in person.values() for v in values)


def _without(landing: Path, person: dict[str, set[str]], out: Path) -> Path:
    """A copy of `landing` whose files never held the person: their lines left out, nothing else changed."""
    shutil.copytree(landing, out)
    for path in [*out.glob("*/*/*.ndjson"), *out.glob("signups/*/*.csv")]:
        lines = path.read_text().split("\n")
        path.write_text("\n".join(line for line in lines if not _holds(person, line)))
    return out


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("forget-landing")
    generate(root, START, DAYS, scale=0.03, seed=5)
    return root


@pytest.fixture(scope="module")
def person(landing) -> tuple[str, dict[str, set[str]]]:
    """Someone with an order, a signup and web events, from the first night on (so that every night changes)."""
    ordered = Counter(json.loads(line)["email"] for p in landing.glob("orders/*/*.ndjson") for line in _json_lines(p))
    signed = {r["email"] for p in landing.glob("signups/*/*.csv") for r in csv.DictReader(io.StringIO(p.read_text()))}
    email = min(sorted(e for e in ordered if e in signed), key=lambda e: ids_days(landing, _person(landing, e))[0])
    found = _person(landing, email)
    assert found["customers"] and found["devices"] and ids_days(landing, found)[0] == START, found
    return email, found


def run_all_nights() -> None:
    from influence_pipeline.flows.nightly import nightly

    for day in NIGHTS:
        nightly(ds=day)


@pytest.fixture(scope="module")
def never_saw(prefect_harness, landing, person, tmp_path_factory) -> Path:
    """A data dir whose landing files never held the person, after the same nights."""
    root = tmp_path_factory.mktemp("never-saw")
    clean = _without(landing, person[1], root / "clean-landing")
    with pytest.MonkeyPatch.context() as monkeypatch:
        data = use_data_dir(clean, root / "data", monkeypatch)
        run_all_nights()
    return data


def needles(email: str, person: dict[str, set[str]]) -> list[str]:
    """What must appear nowhere: their clear identifiers and the hashes ingest gives their e-mail addresses."""
    hashes = {hmac.new(TEST_PII_KEY.encode(), e.strip().lower().encode(), hashlib.sha256).hexdigest()
              for e in person["emails"]}
    return sorted(hashes | {v for values in person.values() for v in values} | {email})


def _cells(con, sql: str) -> str:
    return "\n".join(map(repr, con.execute(sql).fetchall()))


def traces(data: Path, needles: list[str], pg_url: str | None = None, skip: tuple[str, ...] = ()) -> list[str]:
    """Where any needle occurs in the data dir's outputs: text files by their bytes, Parquet and DuckDB files by
    every value they hold, PostgreSQL by every table of its schemas. The erasure log itself holds digests only;
    `skip`: more top-level folders left out."""
    found = []
    with duckdb.connect() as con:
        for path in sorted(p for p in data.rglob("*") if p.is_file() and "_erasure" not in p.parts
                           and p.relative_to(data).parts[0] not in skip):
            if path.suffix == ".parquet":
                text = _cells(con, f"SELECT * FROM read_parquet('{path}')")
            elif path.suffix == ".duckdb":
                con.execute(f"ATTACH '{path}' AS w (READ_ONLY)")
                text = "\n".join(_cells(con, f'SELECT * FROM w."{s}"."{t}"') for s, t in con.execute(
                    "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'w'").fetchall())
                con.execute("DETACH w")
            elif path.suffix in (".gz", ".wal") or path.name == ".pii_key":
                continue
            else:
                text = path.read_bytes().decode("utf-8", "replace")
            found += [f"{path.relative_to(data)}: {n}" for n in needles if n in text]
    if pg_url:
        from tests.test_publishing import _pg

        with _pg(pg_url) as conn:
            for schema, table in conn.execute(
                    "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN "
                    "('staging', 'marts', 'quarantine', 'audit') AND table_type = 'BASE TABLE'").fetchall():
                text = "\n".join(map(repr, conn.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()))
                found += [f"postgres {schema}.{table}: {n}" for n in needles if n in text]
    return found


def prefect_parameters(flow_name: str) -> str:
    """The parameters of every run of `flow_name` as Prefect's database holds them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])))
    return json.dumps([run.parameters for run in runs], default=str)


def forget_by_cli(*args: str) -> str:
    from typer.testing import CliRunner

    from influence_pipeline.cli import app

    result = CliRunner().invoke(app, ["forget", *args], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_forget_leaves_no_trace_and_equals_a_run_that_never_saw_them(never_saw, landing, person, tmp_path,
                                                                      monkeypatch):
    from influence_pipeline.flows.nightly import nightly

    email, ids = person
    data = use_data_dir(landing, tmp_path / "data", monkeypatch)
    run_all_nights()
    assert traces(data, needles(email, ids))  # the scan finds them before the erasure

    briefs = sorted((data / "reports").glob("*.html"))
    written = {p: p.stat().st_mtime_ns for p in briefs}
    output = forget_by_cli("--email", email)
    # every brief and validation page rewritten from the rebuilt nights: the old ones counted the person
    assert len(briefs) == 2 * DAYS and all(p.stat().st_mtime_ns > written[p] for p in briefs)
    assert "web_events" in output and "esp_signups" in output and "shopify_orders" in output
    assert f"{NIGHTS[0]} → {NIGHTS[-1]}" in output
    assert traces(data, needles(email, ids)) == []
    assert_same(published(data), published(never_saw))
    assert prefect_parameters("forget") and email not in prefect_parameters("forget")  # stored masked
    log = [json.loads(line) for line in (data / "lake" / "_erasure" / "log.ndjson").read_text().splitlines()]
    assert [e["kind"] for e in log] == ["email"] and email not in json.dumps(log)
    assert log[0]["landing_rows"]["esp_signups"] >= 1 and log[0]["landing_rows"]["shopify_orders"] >= 1

    # an old delivery copied back in: the person's rows load emptied and quarantined, nothing else changes
    day = max(ids_days(landing, ids))
    old = landing / "web_events" / day.isoformat() / "events.ndjson"
    shutil.copy(old, data / "landing" / "web_events" / day.isoformat() / "events.ndjson")
    theirs = sum(_holds(ids, line) for line in _json_lines(old))
    nightly(ds=day)
    assert traces(data, needles(email, ids), skip=("landing",)) == []  # the copied file itself still holds them
    got, expected = published(data), published(never_saw)
    for sink in ("warehouse", "lake"):
        erased = [row for row in got[sink]["quarantine.web_events"] if "erased on request" in repr(row)]
        assert len(erased) == theirs > 0
        got[sink]["quarantine.web_events"] = [r for r in got[sink]["quarantine.web_events"] if r not in erased]
        # the old file's extra lines shift the line numbers (lineage) of that day's other rows, nothing else
        for table in ("staging.stg_web_events", "quarantine.web_events"):
            assert len(got[sink].pop(table)) == len(expected[sink].pop(table)), (sink, table)
    assert_same(got, expected)
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        rows_in, published_rows, quarantined = con.execute(
            "SELECT rows_in, rows_published, rows_quarantined FROM audit.run_sources WHERE dataset = 'web_events' "
            "AND landing_date = ? ORDER BY run_finished_at DESC LIMIT 1", [day]).fetchone()
    assert rows_in == published_rows + quarantined


def ids_days(landing: Path, ids: dict[str, set[str]]) -> list[date]:
    """The landing days whose files hold the person."""
    return sorted({date.fromisoformat(p.parent.name) for p in landing.glob("*/*/*")
                   if p.suffix in (".ndjson", ".csv") and _holds(ids, p.read_text())})


@pytest.mark.slow
@pytest.mark.postgres
def test_forget_on_postgres_leaves_no_trace_and_equals_a_run_that_never_saw_them(never_saw, landing, person,
                                                                                  tmp_path, monkeypatch, pg_url):
    from pydantic import SecretStr

    from influence_pipeline.erasure_flow import forget
    from tests.published_state import lake_tables
    from tests.test_publishing import LISTING, _pg, _tables

    email, ids = person
    data = use_data_dir(landing, tmp_path / "data", monkeypatch)
    monkeypatch.setenv("INFLUENCE_WAREHOUSE_URL", pg_url)
    run_all_nights()
    device = sorted(ids["devices"])[0]
    summary = forget(kind="anonymous_id", value=SecretStr(device))  # found by a device, erased by every identifier
    assert summary.replayed and summary.landing_rows["shopify_orders"] >= 1
    assert traces(data, needles(email, ids), pg_url) == []
    with _pg(pg_url) as conn:
        in_postgres = _tables(lambda sql: conn.execute(sql).fetchall(), LISTING)
    with duckdb.connect(str(never_saw / "warehouse.duckdb"), read_only=True) as con:
        in_duckdb = _tables(lambda sql: con.execute(sql).fetchall(), LISTING)
    assert in_postgres.keys() == in_duckdb.keys()
    for table, rows in in_duckdb.items():
        assert in_postgres[table] == rows, table
    assert lake_tables(data / "lake") == lake_tables(never_saw / "lake")


def test_forget_refuses_more_than_one_identifier_or_none(data_dir):
    from typer.testing import CliRunner

    from influence_pipeline.cli import app

    for args in ([], ["--email", "a@b.example", "--customer-id", "42"], ["--email", " "]):
        result = CliRunner().invoke(app, ["forget", *args], terminal_width=200)
        assert result.exit_code == 2 and "exactly one of --email" in result.output, args


def test_forget_refuses_to_run_without_a_pii_key(data_dir, monkeypatch):
    from typer.testing import CliRunner

    from influence_pipeline.cli import app

    monkeypatch.delenv("INFLUENCE_PII_KEY")
    before = {p: p.read_bytes() for p in (data_dir / "landing").rglob("*") if p.is_file()}
    result = CliRunner().invoke(app, ["forget", "--email", "bob@example.com"], terminal_width=200)
    assert result.exit_code == 1 and "INFLUENCE_PII_KEY" in result.output
    assert {p: p.read_bytes() for p in (data_dir / "landing").rglob("*") if p.is_file()} == before
    assert not (data_dir / "lake").exists()
