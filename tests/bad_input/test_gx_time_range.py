"""The GX engine (validation_engine=gx) writes its results for any timestamp that reaches it: one that works out to
year 0 in UTC ("0001-01-01T00:00:00+05:00") or to year 10000 used to crash GX's result serialisation (pandas cannot
give such a value an isoformat). The rows are quarantined by the plausible-time rules either way; GX must record
it, with the same counts as the Polars engine."""
import json
from datetime import date, datetime, timezone

import polars as pl

from influence_pipeline.schemas.checkpoint import validate_run
from influence_pipeline.schemas.gx import representable
from influence_pipeline.schemas.raw import DATASETS
from influence_pipeline.schemas.row_rules import row_rules
from influence_pipeline.sources.ingest import ingest_dataset, scan_raw
from influence_pipeline.transforms.quarantine import check_batch, same_day_references
from tests.bad_input.helpers import CONTRACTS, DS, KEY, _edit_ndjson, _file

YEAR_0 = "0001-01-01T00:00:00+05:00"  # 0000-12-31 19:00 UTC
YEAR_10000 = "9999-12-31T23:00:00-05:00"  # 10000-01-01 04:00 UTC


def _web_events_check(landing, lake):
    for dataset in DATASETS:
        ingest_dataset(dataset, landing, lake, DS, "gx-run", KEY)
    raw = {d.name: scan_raw(lake, d, DS).collect() for d in DATASETS}
    contract = CONTRACTS["web_events"]
    return check_batch(raw["web_events"], contract, row_rules(contract, DS, same_day_references(contract, raw)))


def test_the_gx_engine_records_timestamps_beyond_pythons_years_like_the_polars_engine(landing, tmp_path):
    _edit_ndjson(_file(landing, "web_events"), 1, {"event_at": YEAR_0})
    _edit_ndjson(_file(landing, "web_events"), 2, {"event_at": YEAR_10000})
    check = _web_events_check(landing, tmp_path / "lake")
    assert check.frame["event_at__value"].dt.year().to_list()[:2] == [0, 10000]  # what GX used to choke on

    gx = validate_run(tmp_path / "gx", DS, "run", {"web_events": check}, {}, engine="gx")
    polars = validate_run(tmp_path / "polars", DS, "run", {"web_events": check}, {}, engine="polars")

    def outcomes(run) -> dict:
        return {r.rule_id: (r.success, r.unexpected_count, r.element_count) for r in run.results}

    assert outcomes(gx) == outcomes(polars)
    assert outcomes(gx)["web_events.event_at.past"][:2] == (False, 1)
    assert outcomes(gx)["web_events.event_at.future"][:2] == (False, 2)  # ours and the golden day's 2099 line
    stored = json.loads(gx.results_file.read_text())
    assert {r["rule_id"] for r in stored["results"] if not r["success"]} >= {
        "web_events.event_at.past", "web_events.event_at.future"}
    [gx_result] = (tmp_path / "gx").glob("gx/uncommitted/validations/raw/web_events/*/*/*.json")
    past = next(r for r in json.loads(gx_result.read_text())["results"]
                if r["expectation_config"]["meta"]["rule_id"] == "web_events.event_at.past")
    assert past["result"]["partial_unexpected_list"] == ["0001-01-01T00:00:00+00:00"]  # shown at the range's end


def test_dates_and_timestamps_are_clamped_to_pythons_years_and_nothing_else_changes():
    utc = pl.Datetime("us", "UTC")
    frame = pl.DataFrame({
        "at": pl.Series(["0000-12-31T19:00:00Z", "2026-11-02T10:00:00Z", None, "+10000-01-01T04:00:00Z"])
        .str.to_datetime("%+", time_zone="UTC").cast(utc),
        "day": pl.Series([date(2026, 11, 2), None, date(1, 1, 1), date(9999, 12, 31)]),
        "text": ["0000-12-31", "a", None, "b"],
    })
    clamped = representable(frame)
    assert clamped.schema == frame.schema
    assert clamped["at"].to_list() == [datetime(1, 1, 1, tzinfo=timezone.utc),
                                       datetime(2026, 11, 2, 10, tzinfo=timezone.utc), None,
                                       datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)]
    assert clamped.select("day", "text").equals(frame.select("day", "text"))
