"""Full-snapshot sources (the roster files) that shrink are suspect: an empty, header-only or much smaller delivery
than the previous one is refused before anything of it is written, and the night stops with a clear error."""
import re
import shutil
from datetime import date, timedelta

import duckdb
import pydantic
import pytest

from influence_pipeline.rules_file import load_rules
from influence_pipeline.schemas.contract import load_contracts
from influence_pipeline.schemas.full_snapshot import shrink_refusal
from influence_pipeline.schemas.raw import BY_NAME as RAW
from influence_pipeline.sinks.lake import partition_file
from influence_pipeline.sources.ingest import ShrunkSnapshotError, ingest_dataset
from influence_pipeline.sources.landing import LandingFileError
from influence_pipeline.sources.manifest import dataset_entries, previous_entry, read_entry
from tests.conftest import FIXTURE_DATE, FIXTURES, TEST_PII_KEY

DAY1 = date.fromisoformat(FIXTURE_DATE)
DAY2, DAY3 = DAY1 + timedelta(days=1), DAY1 + timedelta(days=2)
KEY = TEST_PII_KEY.encode()
CAMPAIGNS = RAW["roster_campaigns"]
HEADER = ("campaign_id,campaign_name,brand,influencer_id,start_date,end_date,fee,currency,gifted_product_cost,"
          "commission_rate")


def _roster(n: int) -> str:
    rows = [f"CMP-{i // 3 + 1:03d},Winter Glow,Lumi Skin,INF-{i:04d},2026-10-20,2026-11-30,100.00,USD,0,0.10"
            for i in range(1, n + 1)]
    return "\n".join([HEADER, *rows]) + "\n"


def _deliver(landing, day: date, content: str | bytes) -> None:
    path = landing / "roster" / day.isoformat() / "campaigns.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)


def _ingest(landing, lake, day: date, **kwargs):
    return ingest_dataset(CAMPAIGNS, landing, lake, day, f"run-{day}", KEY, **kwargs)


def _raw_file(lake, day: date):
    return partition_file(lake, "raw", CAMPAIGNS.name, "landing_date", day)


# ------------------------------------------------------------------------------------------------ the contracts


def test_the_roster_contracts_and_only_they_are_full_snapshots():
    marked = {c.name for c in load_contracts().values() if c.is_full_snapshot}
    assert marked == {"roster_influencers", "roster_social_accounts", "roster_campaigns", "roster_discount_codes",
                      "roster_tracking_links"}
    assert {d.name for d in RAW.values() if d.full_snapshot} == marked


def test_the_ratio_is_a_rule_with_unknown_keys_and_impossible_values_rejected(tmp_path):
    assert load_rules().full_snapshots.min_ratio == 0.5
    override = tmp_path / "rules.yaml"
    override.write_text("full_snapshots: {min_ratio: 0.2}\n")
    assert load_rules(override).full_snapshots.min_ratio == 0.2
    for bad in ("full_snapshots: {min_ratio: 0.2, max_ratio: 3}\n", "full_snapshots: {min_ratio: 1.5}\n",
                "full_snapshots: {min_ratio: -0.1}\n", "full_snapshot: {min_ratio: 0.2}\n"):
        override.write_text(bad)
        with pytest.raises(pydantic.ValidationError):
            load_rules(override)


# ------------------------------------------------------------------------------------------- the pure check


@pytest.mark.parametrize(("rows", "previous", "ratio", "refused"), [
    (0, 10, 0.5, True), (0, None, 0.5, True), (4, 10, 0.5, True), (49, 100, 0.5, True),
    (5, 10, 0.5, False), (9, 10, 0.5, False), (12, 10, 0.5, False), (1, None, 0.5, False),
    (0, 10, 0.0, False), (1, 1000, 0.0, False), (9, 10, 1.0, True), (10, 10, 1.0, False),
])
def test_shrink_refusal(rows, previous, ratio, refused):
    assert (shrink_refusal("roster_campaigns", rows, previous, ratio) is not None) == refused


def test_shrink_refusal_names_everything_needed_to_act():
    message = shrink_refusal("roster_campaigns", 4, 10, 0.5, file="roster/2026-11-03/campaigns.csv",
                             previous_date="2026-11-02")
    for part in ("roster/2026-11-03/campaigns.csv", "roster_campaigns", "4 rows", "the 10 of the previous delivery "
                 "(2026-11-02)", "0.5 ×", "full_snapshots.min_ratio", "INFLUENCE_RULES_FILE"):
        assert part in message
    assert "0 rows (no earlier delivery)" in shrink_refusal("roster_campaigns", 0, None, 0.5)
    with pytest.raises(ValueError):
        shrink_refusal("roster_campaigns", 1, 1, 1.5)


# ------------------------------------------------------------------------------------------------- ingestion


EMPTY = f"has 0 rows, against 10 in the previous delivery ({DAY1})"


@pytest.mark.parametrize(("content", "rows", "found"), [
    (b"", 0, EMPTY), (HEADER + "\n", 0, EMPTY), (HEADER + "\r\n", 0, EMPTY),
    (_roster(4), 4, f"has 4 rows, 60% fewer than the 10 of the previous delivery ({DAY1}): fewer than 0.5 ×"),
], ids=["empty", "header-only", "header-only-crlf", "below-the-ratio"])
def test_a_shrunk_roster_is_refused_before_anything_is_written(tmp_path, content, rows, found):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    _deliver(landing, DAY1, _roster(10))
    assert _ingest(landing, lake, DAY1).status == "loaded"
    _deliver(landing, DAY2, content)
    with pytest.raises(ShrunkSnapshotError) as refused:
        _ingest(landing, lake, DAY2)
    message = str(refused.value)
    assert message.startswith(f"roster/{DAY2}/campaigns.csv: roster_campaigns is a full snapshot")
    assert f"and this delivery {found}" in message
    assert "set full_snapshots.min_ratio lower" in message
    assert isinstance(refused.value, LandingFileError)  # the flow does not retry it
    error = refused.value
    assert (error.dataset, error.file, error.rows, error.previous_rows, error.previous_date) == (
        "roster_campaigns", f"roster/{DAY2}/campaigns.csv", rows, 10, DAY1.isoformat())
    assert not _raw_file(lake, DAY2).exists()
    assert read_entry(lake, CAMPAIGNS.name, DAY2) is None
    assert [e.landing_date for e in dataset_entries(lake, CAMPAIGNS.name)] == [DAY1.isoformat()]


@pytest.mark.parametrize("rows", [9, 5, 10, 30], ids=["10%-smaller", "exactly-half", "same", "grown"])
def test_a_roster_at_least_min_ratio_of_the_previous_is_accepted(tmp_path, rows):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    _deliver(landing, DAY1, _roster(10))
    _ingest(landing, lake, DAY1)
    _deliver(landing, DAY2, _roster(rows))
    result = _ingest(landing, lake, DAY2)
    assert (result.status, result.rows) == ("loaded", rows)
    assert read_entry(lake, CAMPAIGNS.name, DAY2).rows == rows


def test_the_first_delivery_is_accepted_unless_it_is_empty(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    _deliver(landing, DAY1, HEADER + "\n")
    with pytest.raises(ShrunkSnapshotError, match=r"has 0 rows \(no earlier delivery\)"):
        _ingest(landing, lake, DAY1)
    assert not _raw_file(lake, DAY1).exists() and read_entry(lake, CAMPAIGNS.name, DAY1) is None
    _deliver(landing, DAY1, _roster(1))
    assert (_ingest(landing, lake, DAY1).status, read_entry(lake, CAMPAIGNS.name, DAY1).rows) == ("loaded", 1)


def test_a_redelivery_is_compared_with_the_delivery_before_it_and_a_refused_one_changes_nothing(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    _deliver(landing, DAY1, _roster(10))
    _ingest(landing, lake, DAY1)
    _deliver(landing, DAY2, _roster(9))
    _ingest(landing, lake, DAY2)
    raw_before, entry_before = _raw_file(lake, DAY2).read_bytes(), read_entry(lake, CAMPAIGNS.name, DAY2)
    _deliver(landing, DAY2, _roster(3))  # re-delivered cut short: compared with DAY1's 10, not with itself
    with pytest.raises(ShrunkSnapshotError, match=rf"3 rows, 70% fewer than the 10 of the previous delivery "
                                                  rf"\({DAY1}\)"):
        _ingest(landing, lake, DAY2)
    assert _raw_file(lake, DAY2).read_bytes() == raw_before
    assert read_entry(lake, CAMPAIGNS.name, DAY2) == entry_before
    _deliver(landing, DAY2, _roster(8))  # a sound re-delivery replaces it
    assert _ingest(landing, lake, DAY2).status == "replaced"


def test_the_previous_delivery_is_the_latest_earlier_one_that_had_a_file(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    _deliver(landing, DAY1, _roster(10))
    _ingest(landing, lake, DAY1)
    assert _ingest(landing, lake, DAY2).status == "missing"  # not delivered: not a shrink, no manifest entry
    _deliver(landing, DAY3, _roster(4))
    with pytest.raises(ShrunkSnapshotError, match=rf"the 10 of the previous delivery \({DAY1}\)"):
        _ingest(landing, lake, DAY3)
    assert previous_entry(lake, CAMPAIGNS.name, DAY3).landing_date == DAY1.isoformat()
    assert previous_entry(lake, CAMPAIGNS.name, DAY1) is None


def test_a_genuine_shrink_is_accepted_with_a_lower_ratio_from_the_rules_file(tmp_path, monkeypatch):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    _deliver(landing, DAY1, _roster(10))
    _ingest(landing, lake, DAY1)
    _deliver(landing, DAY2, _roster(4))
    rules = tmp_path / "rules.yaml"
    rules.write_text("full_snapshots: {min_ratio: 0.3}\n")
    monkeypatch.setenv("INFLUENCE_RULES_FILE", str(rules))
    assert _ingest(landing, lake, DAY2).rows == 4
    _deliver(landing, DAY3, b"")
    with pytest.raises(ShrunkSnapshotError):
        _ingest(landing, lake, DAY3)
    assert _ingest(landing, lake, DAY3, min_snapshot_ratio=0.0).rows == 0  # 0 turns the check off


def test_datasets_that_are_not_full_snapshots_may_arrive_empty(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    events = RAW["web_events"]
    for day, content in ((DAY1, (FIXTURES / "landing" / "web_events" / FIXTURE_DATE / "events.ndjson").read_bytes()),
                         (DAY2, b"")):
        path = landing / "web_events" / day.isoformat() / "events.ndjson"
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
        ingest_dataset(events, landing, lake, day, "run", KEY)
    assert read_entry(lake, "web_events", DAY2).rows == 0


def test_dataset_entries_lists_one_dataset_oldest_first(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    for day in (DAY3, DAY1):
        _deliver(landing, day, _roster(5))
        _ingest(landing, lake, day)
    path = landing / "roster" / DAY2.isoformat() / "influencers.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "landing" / "roster" / FIXTURE_DATE / "influencers.csv", path)
    ingest_dataset(RAW["roster_influencers"], landing, lake, DAY2, "run", KEY)
    assert [(e.dataset, e.landing_date) for e in dataset_entries(lake, CAMPAIGNS.name)] == [
        (CAMPAIGNS.name, DAY1.isoformat()), (CAMPAIGNS.name, DAY3.isoformat())]
    assert dataset_entries(lake, "web_events") == []


# ------------------------------------------------------------------------------------------------- the night


@pytest.mark.slow
def test_a_header_only_roster_stops_the_night_and_the_published_marts_stay(prefect_harness, data_dir):
    from typer.testing import CliRunner

    from influence_pipeline.cli import app

    landing = data_dir / "landing"
    shutil.copytree(FIXTURES / "landing" / "roster" / FIXTURE_DATE, landing / "roster" / DAY2.isoformat())
    _deliver(landing, DAY2, HEADER + "\n")
    runner = CliRunner()
    first = runner.invoke(app, ["run", "--date", DAY1.isoformat()])
    assert first.exit_code == 0, first.output

    def campaign_performance() -> list[tuple]:
        with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
            return con.sql("SELECT * FROM marts.mart_campaign_performance ORDER BY ALL").fetchall()

    before = campaign_performance()
    assert before
    second = runner.invoke(app, ["run", "--date", DAY2.isoformat()])
    output = re.sub(r"\s+", " ", second.output)
    assert second.exit_code == 1, second.output
    assert (f"error: roster/{DAY2}/campaigns.csv: roster_campaigns is a full snapshot (each delivery replaces the "
            f"whole dataset) and this delivery has 0 rows, against 3 in the previous delivery ({DAY1})") in output
    assert "Traceback" not in second.output
    assert campaign_performance() == before
    assert read_entry(data_dir / "lake", CAMPAIGNS.name, DAY2) is None
