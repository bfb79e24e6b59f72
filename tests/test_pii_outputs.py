"""Every e-mail address, phone number and IP address of a dirty sample's landing files — found in the files themselves
(plainly written, %-encoded or double-encoded), plus the leak strings tests/test_pii_free_text.py plants — is found in
clear in no output of a night, on either warehouse engine: the lake, the warehouse (DuckDB file, or every row and
comment of every PostgreSQL table), the BI copy, the validation results (JSON and HTML), the reports, the Prefect
artifacts and flow-run logs the night created, and the run's own log output."""
import gzip
import ipaddress
import re
import shutil
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import unquote, unquote_plus

import pytest

from influence_pipeline.sample import generate
from tests.conftest import FIXTURE_DATE
from tests.test_pii_free_text import NEEDLES, _dirty_landing, _output_texts

DS = date.fromisoformat(FIXTURE_DATE)
EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
PHONE = re.compile(r"(?<![\w.+-])(?:\+\d{1,3}[ .-]?)?\(?\d{2,4}\)?[ .-]\d{3,4}[ .-]?\d{3,4}(?![\w.])")


def _decodings(text: str) -> list[str]:
    """The text as written and %-decoded once and twice (with and without "+" as a space): how a URL hides data."""
    once, once_plus = unquote(text), unquote_plus(text)
    return [text, once, unquote(once), once_plus, unquote_plus(once_plus)]


def _is_ipv4(match: re.Match) -> bool:
    text, start = match.string, match.start()
    if start >= 2 and text[start - 1] == "/" and text[start - 2].isalnum():  # Chrome/120.0.0.0 is a version
        return False
    try:
        return ipaddress.ip_address(match.group()).version == 4
    except ValueError:
        return False


def _is_ipv6(candidate: str) -> bool:
    if "::" not in candidate and candidate.count(":") != 7:  # 10:22:03 is a time
        return False
    try:
        return ipaddress.ip_address(candidate).version == 6
    except ValueError:
        return False


def personal_data(text: str) -> dict[str, set[str]]:
    """Every e-mail, phone number, IPv4 and IPv6 address in `text`, in whichever encoding it was written."""
    found = {"email": set(), "phone": set(), "ipv4": set(), "ipv6": set()}
    for view in _decodings(text):
        found["email"] |= {m.group().lower() for m in EMAIL.finditer(view)}
        found["phone"] |= {m.group() for m in PHONE.finditer(view) if sum(c.isdigit() for c in m.group()) >= 9}
        found["ipv4"] |= {m.group() for m in IPV4.finditer(view) if _is_ipv4(m)}
        found["ipv6"] |= {m.group() for m in IPV6.finditer(view) if _is_ipv6(m.group())}
    return found


def _landing_texts(landing: Path):
    for path in sorted(p for p in landing.rglob("*") if p.is_file()):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        yield path, data.decode("utf-8", "replace")


def leak_list(landing: Path) -> dict[str, set[str]]:
    """The personal data of every landing file, by kind; the planted leak strings under `planted`."""
    found = {"email": set(), "phone": set(), "ipv4": set(), "ipv6": set()}
    for _, text in _landing_texts(landing):
        for kind, values in personal_data(text).items():
            found[kind] |= values
    return {**found, "planted": set(NEEDLES)}


def leaks_in(text: str, needles: set[str]) -> list[str]:
    views = [view.lower() for view in _decodings(text)]
    return sorted(n for n in needles if any(n.lower() in view for view in views))


def _postgres_texts(url: str):
    """Every row (as text) of every table and view the warehouse created, and every comment of the database."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    with psycopg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                         password=parsed.password, dbname=parsed.database) as conn:
        relations = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN "
            "('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg_toast%' ORDER BY 1, 2").fetchall()
        for schema, table in relations:
            rows = conn.execute(sql.SQL("SELECT t::text FROM {}.{} AS t").format(
                sql.Identifier(schema), sql.Identifier(table))).fetchall()
            yield f"postgres:{schema}.{table}", "\n".join(r[0] for r in rows)
        yield "postgres:comments", "\n".join(r[0] for r in conn.execute(
            "SELECT description FROM pg_description").fetchall())
        yield "postgres:views", "\n".join(r[0] or "" for r in conn.execute(
            "SELECT definition FROM pg_views WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"))


def _prefect_texts(since: datetime):
    """The artifacts and flow/task run logs the Prefect server received since `since`."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterTimestamp
    from prefect.client.schemas.sorting import ArtifactSort
    from prefect.logging.handlers import APILogWorker

    # Run logs reach the server in batches from a background worker: read them once every batch is sent, or a
    # night that ends between two batches leaves its last logs (or all of them) unread.
    APILogWorker.drain_all(timeout=30)
    with get_client(sync_client=True) as client:
        # Newest first, page by page: the server's default order is by random id and one page holds 200, so on a
        # session server that earlier tests filled, this night's artifacts could all be on a later page.
        artifacts, offset = [], 0
        while page := client.read_artifacts(sort=ArtifactSort.CREATED_DESC, offset=offset, limit=200):
            artifacts += [a for a in page if a.created is None or a.created >= since]
            offset += len(page)
            if page[-1].created is not None and page[-1].created < since:
                break
        logs, offset = [], 0
        while batch := client.read_logs(LogFilter(timestamp=LogFilterTimestamp(after_=since)), offset=offset,
                                        limit=200):
            logs += batch
            offset += len(batch)
    yield "prefect:artifacts", "\n".join(f"{a.key} {a.type} {a.description} {a.data}" for a in artifacts)
    yield "prefect:logs", "\n".join(log.message for log in logs)


@pytest.fixture
def dirty_sample(data_dir) -> Path:
    """A generated day with dirty rows in place of the golden files, with test_pii_free_text's leaks planted."""
    landing = data_dir / "landing"
    shutil.rmtree(landing)
    generate(landing, DS, 1, scale=0.02, seed=20, dirty_rate=0.05)
    _dirty_landing(data_dir)
    return landing


def test_the_leak_list_is_read_from_the_landing_files_in_every_encoding(dirty_sample):
    leaks = leak_list(dirty_sample)
    assert len(leaks["email"]) >= 20 and len(leaks["ipv4"]) >= 20 and leaks["ipv6"]
    # the planted forms are found by the regexes too: %-encoded, double-encoded, "+" for spaces
    assert {"leaky.bob@mail-two.example", "leaky.dan@mail-four.example", "leaky.frank@mail-six.example",
            "leaky.gina@mail-seven.example"} <= leaks["email"]
    assert {"+44 20 7946 0958", "+1 415 555 0134", "(415) 555-0199"} <= leaks["phone"]
    assert {"198.51.100.23", "198.51.100.99", "198.51.100.42"} <= leaks["ipv4"] and "2001:db8::7" in leaks["ipv6"]
    # the scan finds them where they are in clear
    needles = set().union(*leaks.values())
    assert all(leaks_in(text, needles) for path, text in _landing_texts(dirty_sample) if "signups" in str(path))


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_no_landing_personal_data_in_any_output(prefect_harness, dirty_sample, data_dir, monkeypatch, request,
                                                capfd, caplog, engine):
    from influence_pipeline.flows.nightly import nightly

    if engine == "postgres":
        pg_url = request.getfixturevalue("pg_url")
        monkeypatch.setenv("INFLUENCE_WAREHOUSE_URL", pg_url)
    needles = set().union(*leak_list(dirty_sample).values())
    started = datetime.now(timezone.utc)
    summary = nightly(ds=DS)
    assert summary.report and summary.quarantined["web_events"] >= 1

    outputs = {str(path): text for path, text in _output_texts(data_dir)}
    if engine == "postgres":
        outputs |= dict(_postgres_texts(pg_url))
        assert any(name.startswith("postgres:staging.") for name in outputs)
    outputs |= dict(_prefect_texts(started))
    captured = capfd.readouterr()
    outputs["run output"] = captured.out + captured.err + "\n".join(r.getMessage() for r in caplog.records)
    # every kind of output was scanned, and holds something
    assert any(".parquet" in p for p in outputs) and any(p.endswith(".json") for p in outputs)
    assert any(p.endswith(".html") for p in outputs) and any("report" in p for p in outputs)
    if engine == "duckdb":  # the BI copy's views (on PostgreSQL, BI tools read the warehouse itself)
        assert any(f"{Path('bi', 'warehouse.duckdb')}:marts." in p for p in outputs)
    assert [name for name in ("prefect:artifacts", "prefect:logs", "run output") if not outputs[name]] == []
    # the scan reads the warehouse's rows: the planted events' campaigns are there, and found
    warehouse = "postgres:" if engine == "postgres" else "warehouse.duckdb:"
    assert leaks_in("\n".join(t for p, t in outputs.items() if warehouse in p), {"leak-test", "leak two"}) == [
        "leak two", "leak-test"]
    assert {p: leaks_in(t, needles) for p, t in outputs.items() if leaks_in(t, needles)} == {}
