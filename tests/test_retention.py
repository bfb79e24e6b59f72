"""Retention (INFLUENCE_RETENTION_*_DAYS): landing files, raw partitions and quarantine partitions older than N days
(counted back from the published night) are purged at the end of a nightly or by `influence purge`; what a replay of
the kept nights reads stays, the audit and the published tables do not move, and a rerun of a night whose rows were
purged is refused with a message instead of publishing it as never delivered."""
import hashlib
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from influence_pipeline.sample import generate
from influence_pipeline.settings import Settings, SettingsError, load_settings
from influence_pipeline.transforms.retention_plan import (
    LISTING_SCHEMA,
    PURGE,
    REPLAY,
    UNLOADED,
    WITHIN,
    plan_purge,
    purge_counts,
)
from tests.conftest import TEST_PII_KEY

REF = date(2026, 11, 20)
START, NIGHTS = date(2026, 11, 1), 5
LAST = START + timedelta(days=NIGHTS - 1)
RETENTION = {"INFLUENCE_RETENTION_LANDING_DAYS": "1", "INFLUENCE_RETENTION_RAW_DAYS": "1",
             "INFLUENCE_RETENTION_QUARANTINE_DAYS": "3"}


def _listing(*rows) -> pl.DataFrame:
    return pl.DataFrame([dict(zip(LISTING_SCHEMA, row)) for row in rows], schema=LISTING_SCHEMA)


# ------------------------------------------------------------------------------------------------ the plan (pure)


def test_a_night_exactly_n_days_old_stays_and_one_day_older_goes():
    listing = _listing(*[(kind, "orders", REF - timedelta(days=age), f"{kind}/{age}", True)
                         for kind in ("landing", "raw", "quarantine") for age in (6, 7, 8)])
    plan = plan_purge(listing, REF, {"landing": 7, "raw": 7, "quarantine": 7}, protected_from=REF - timedelta(days=8))
    assert plan.filter(pl.col("kind") == "quarantine").select("age_days", "action").rows() == [
        (8, PURGE), (7, WITHIN), (6, WITHIN)]
    # landing and raw from protected_from on are a replay's: here every night is
    assert set(plan.filter(pl.col("kind") != "quarantine")["action"]) == {WITHIN, REPLAY}
    plan = plan_purge(listing, REF, {"landing": 7, "raw": 7, "quarantine": 7}, protected_from=REF - timedelta(days=7))
    assert plan.filter(pl.col("action") == PURGE).select("kind", "age_days").rows() == [
        ("landing", 8), ("quarantine", 8), ("raw", 8)]
    assert purge_counts(plan) == {"landing": 1, "raw": 1, "quarantine": 1}


def test_unset_kinds_are_kept_forever_and_unloaded_rows_stay_whatever_their_age():
    old = REF - timedelta(days=400)
    listing = _listing(("landing", "orders", old, "orders/a", False), ("raw", "orders", old, "raw/a", False),
                       ("quarantine", "orders", old, "q/a", True), ("raw", "signups", old, "raw/b", True))
    plan = plan_purge(listing, REF, {"landing": 30, "raw": 30, "quarantine": None}, protected_from=REF)
    assert dict(zip(plan["path"], plan["action"])) == {"orders/a": UNLOADED, "raw/a": UNLOADED, "q/a": WITHIN,
                                                       "raw/b": PURGE}
    # nothing published yet: every landing file and raw partition may be a replay's
    assert set(plan_purge(listing, REF, {"landing": 1, "raw": 1}, None).filter(
        pl.col("kind") != "quarantine")["action"]) == {REPLAY}


@pytest.mark.parametrize("value", ["0", "-3", "7.5", "abc", "٣"])
def test_a_bad_retention_value_fails_at_start_naming_the_variable(value, tmp_path, monkeypatch):
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INFLUENCE_PII_KEY", TEST_PII_KEY)
    monkeypatch.setenv("INFLUENCE_RETENTION_RAW_DAYS", value)
    with pytest.raises(SettingsError, match=r"INFLUENCE_RETENTION_RAW_DAYS=.* is not a whole number of days"):
        load_settings()


def test_unset_retention_keeps_everything(tmp_path, monkeypatch):
    for name in RETENTION:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INFLUENCE_RETENTION_QUARANTINE_DAYS", " 90 ")
    assert Settings().retention_days() == {"landing": None, "raw": None, "quarantine": 90}


def test_purge_without_any_retention_set_says_so(tmp_path, monkeypatch):
    from influence_pipeline.cli import app

    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INFLUENCE_PII_KEY", TEST_PII_KEY)
    for name in RETENTION:
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, ["purge", "--dry-run"])
    assert result.exit_code == 1 and "no retention is set" in result.output


# ------------------------------------------------------------------------------------------------ a real lake


@pytest.fixture(scope="module")
def five_nights(prefect_harness, tmp_path_factory) -> Path:
    """A data dir after five nightlies of a small dirty sample, the lake keeping 3 nights' snapshots (a rerun can
    start at 2026-11-03 at the earliest), no retention set; six days delivered (the sixth not run yet)."""
    from influence_pipeline.flows.nightly import nightly

    data = tmp_path_factory.mktemp("retention") / "data"
    generate(data / "landing", START, NIGHTS + 1, scale=0.03, dirty_rate=0.05)
    rules = data.parent / "rules.yaml"
    rules.write_text("lake:\n  keep_nights: 3\n")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _use(data, monkeypatch, retention=False)
        for day in range(NIGHTS):
            nightly(ds=START + timedelta(days=day))
    return data


def _use(data: Path, monkeypatch, retention: bool = True) -> None:
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(data))
    monkeypatch.setenv("INFLUENCE_PII_KEY", TEST_PII_KEY)
    monkeypatch.setenv("INFLUENCE_RULES_FILE", str(data.parent / "rules.yaml"))
    monkeypatch.delenv("INFLUENCE_WAREHOUSE_URL", raising=False)
    for name, value in RETENTION.items():
        if retention:
            monkeypatch.setenv(name, value)
        else:
            monkeypatch.delenv(name, raising=False)


def _copy(five_nights: Path, tmp_path: Path, monkeypatch) -> Path:
    """A copy of the five-night data dir (the `current` link kept a link) to purge, wired into the settings."""
    data = tmp_path / "data"
    shutil.copytree(five_nights, data, symlinks=True)
    shutil.copy(five_nights.parent / "rules.yaml", tmp_path / "rules.yaml")
    _use(data, monkeypatch)
    return data


def _files(data: Path) -> dict[str, str]:
    """Every file of the data dir but the warehouse and the staging dir -> its SHA-256."""
    return {str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(data.rglob("*"))
            if p.is_file() and not p.is_symlink() and ".staging" not in p.parts and "warehouse" not in p.name}


def _tables(data: Path) -> dict[str, list]:
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        names = con.sql("SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL").fetchall()
        return {f"{s}.{t}": con.sql(f'SELECT * FROM "{s}"."{t}" ORDER BY ALL').fetchall() for s, t in names}


def _published_marts(data: Path) -> dict[str, str]:
    current = (data / "lake" / "current").resolve()
    return {str(p.relative_to(current)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((current / "marts").rglob("*.parquet"))}


@pytest.mark.slow
def test_a_dry_run_lists_what_would_go_and_deletes_nothing(five_nights, tmp_path, monkeypatch):
    from influence_pipeline.cli import app

    data = _copy(five_nights, tmp_path, monkeypatch)
    before, tables = _files(data), _tables(data)
    result = CliRunner().invoke(app, ["purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would be purged" in result.output
    for day in ("2026-11-01", "2026-11-02"):  # older than 1 day, and before the kept snapshots
        assert f"raw/shopify_orders/landing_date={day}" in result.output
        assert f"orders/{day}/orders.ndjson" in result.output
    listed = result.output.split("would purge:")[0].split("would be purged:")[1]
    assert "2026-11-03" not in listed and "quarantine" in listed
    # 11-03 is 2 days old but the oldest night a rerun can start at: its landing files and raw rows stay
    assert "kept 18 expired raw item(s): a replay may read it" in result.output
    assert _files(data) == before and _tables(data) == tables


@pytest.mark.slow
def test_a_purge_keeps_the_audit_and_the_published_tables_and_drops_old_quarantine(five_nights, tmp_path,
                                                                                   monkeypatch):
    from influence_pipeline.cli import app
    from influence_pipeline.retention import snapshot_dirs

    data = _copy(five_nights, tmp_path, monkeypatch)
    tables, marts = _tables(data), _published_marts(data)
    result = CliRunner().invoke(app, ["purge"])
    assert result.exit_code == 0, result.output
    raw, landing = data / "lake" / "raw", data / "landing"
    for day in ("2026-11-01", "2026-11-02"):
        assert not list(raw.glob(f"*/landing_date={day}")), day
        assert not list(landing.glob(f"*/{day}")), day
    for day in ("2026-11-03", "2026-11-04", "2026-11-05"):  # a replay of the kept nights reads them
        assert list(raw.glob(f"*/landing_date={day}")) and list(landing.glob(f"*/{day}/*")), day
    assert list(landing.glob("*/2026-11-06/*"))  # delivered, not loaded yet
    assert list((raw / "_manifest").glob("*/landing_date=2026-11-01.json"))  # the proof of what was loaded stays
    quarantine = [snap / "quarantine" for snap in snapshot_dirs(data / "lake")]
    assert len(quarantine) == 3 and not any(list(q.glob("*/landing_date=2026-11-01")) for q in quarantine)  # 4 > 3
    assert all(list(q.glob("*/landing_date=2026-11-02")) for q in quarantine)  # age 3: kept
    after = _tables(data)
    for name, rows in tables.items():
        if not name.startswith("quarantine."):
            assert after[name] == rows, name  # audit, staging and marts as they were
    # the audit still proves rows in = published + quarantined for the purged nights
    audit = [r for r in after["audit.run_sources"] if r[1] == START and not r[2].startswith("unexpected:")]
    assert audit and all(r[5] == r[6] + r[7] + r[8] for r in audit)
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        names = [t for t in tables if t.startswith("quarantine.")]
        days = {d for name in names for (d,) in con.table(name).project("landing_date").distinct().fetchall()}
    assert START not in days and START + timedelta(days=1) in days
    assert sum(len(after[n]) for n in names) < sum(len(tables[n]) for n in names)
    assert _published_marts(data) == marts


@pytest.mark.slow
def test_a_rerun_of_a_purged_night_is_refused_and_nothing_moves(five_nights, tmp_path, monkeypatch):
    from influence_pipeline.flows.nightly import nightly
    from influence_pipeline.retention import PurgedNightError, purge_expired

    data = _copy(five_nights, tmp_path, monkeypatch)
    purge_expired(load_settings())
    current, tables = (data / "lake" / "current").readlink(), _tables(data)
    with pytest.raises(PurgedNightError) as refused:
        nightly(ds=START)  # the first night: it would rebuild every night from nothing
    message = str(refused.value)
    assert message.startswith("cannot run 2026-11-01, 2026-11-02:")
    assert "2026-11-01 esp_signups: signups/2026-11-01/signups.csv (" in message
    assert "as if nothing had been delivered" in message
    assert (data / "lake" / "current").readlink() == current and _tables(data) == tables


@pytest.mark.slow
def test_the_nightly_purges_at_its_end_and_counts_it_in_its_summary(five_nights, tmp_path, monkeypatch):
    from influence_pipeline.flows.nightly import nightly
    from influence_pipeline.retention import purge_expired

    data = _copy(five_nights, tmp_path, monkeypatch)
    first = purge_expired(load_settings())[1]
    assert first["raw"] and first["landing"] and first["quarantine"]
    day = LAST + timedelta(days=1)
    expired = {"raw": len(list((data / "lake" / "raw").glob("*/landing_date=2026-11-03"))),
               "landing": len([p for p in (data / "landing").glob("*/2026-11-03/*")])}
    summary = nightly(ds=day)
    # after night 6 the lake keeps nights 4 to 6: 11-03 (3 days old) is no replay's any more
    assert summary.purged["raw"] == expired["raw"] and summary.purged["landing"] == expired["landing"]
    assert summary.purged["quarantine"] > 0  # 11-02, now 4 days old
    assert not list((data / "lake" / "raw").glob("*/landing_date=2026-11-03"))
    assert list((data / "lake" / "raw").glob("*/landing_date=2026-11-04"))
