"""The one-page brief: the pure computations on hand-built frames, then the page of the golden fixture night checked
against its marts."""
import re
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from influence_pipeline.report import charts, metrics
from influence_pipeline.report.fmt import format_change, format_count, format_money, format_pct, format_ratio
from influence_pipeline.report.periods import month_brief_end, month_period, night_period
from tests.conftest import FIXTURE_DATE, FIXTURES, TEST_PII_KEY

DS = date.fromisoformat(FIXTURE_DATE)
#: src= / href= values that leave the page (the SVGs name the w3 namespace only in xmlns, which is fine)
REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


# ------------------------------------------------------------------------------------------------ formatting


def test_money_counts_ratios_and_changes_have_one_format():
    assert format_money(12345.678, "USD") == "$12,345.68"
    assert format_money(-5, "EUR") == "−€5.00"
    assert format_money(1234, "CHF") == "1,234.00 CHF"
    assert format_money(None, "USD") == "n/a"
    assert (format_count(235686), format_count(2.5), format_count(10.0)) == ("235,686", "2.5", "10")
    assert (format_ratio(1.234), format_pct(0.0345), format_pct(-0.963172)) == ("1.23×", "3.5 %", "−96.3 %")
    assert (format_change(110, 100), format_change(90, 100)) == ("+10.0 %", "−10.0 %")
    assert format_change(5, None) == format_change(5, 0) == format_change(None, 5) == "n/a"


def test_periods_compare_a_night_with_the_day_before_and_a_month_with_the_same_days_before():
    night = night_period(DS)
    assert (night.start, night.end, night.previous_start, night.previous_end) == (DS, DS, date(2026, 11, 1),
                                                                                  date(2026, 11, 1))
    march = month_period(date(2026, 3, 1), date(2026, 3, 31))
    assert (march.previous_start, march.previous_end) == (date(2026, 2, 1), date(2026, 2, 28))
    assert march.compared_with == "vs 1–28 Feb 2026"
    mtd = month_period(date(2026, 11, 1), DS)
    assert (mtd.previous_start, mtd.previous_end) == (date(2026, 10, 1), date(2026, 10, 2))
    assert month_brief_end(date(2026, 11, 1), [date(2026, 10, 30), DS, date(2026, 12, 1)]) == DS
    assert month_brief_end(date(2026, 9, 1), [DS]) == date(2026, 9, 30)


# ------------------------------------------------------------------------------------------------ metrics

CAMPAIGNS = pl.DataFrame([
    {"campaign_id": c, "influencer_id": i, "model": m, "campaign_name": n, "brand": "B", "start_date": date(2026, 11, 1),
     "end_date": date(2026, 11, 10), "fee": fee, "gifted_product_cost": 0.0, "commission_rate": 0.1, "cost": cost,
     "net_revenue": rev, "roas": rev / cost, "roi": (rev - cost) / cost}
    for c, i, n, fee, cost, rev in [("C1", "I1", "Alpha", 1000.0, 1000.0, 1500.0), ("C1", "I2", "Alpha", 200.0, 200.0, 50.0),
                                    ("C2", "I1", "Beta", 500.0, 500.0, 500.0)]
    for m in ("code", "last_touch")])
INFLUENCERS = pl.DataFrame({"influencer_id": ["I1", "I2"], "full_name": ["Jane Glow", "Marco Fit"]})


def test_spend_spreads_fees_over_the_campaign_days_and_adds_the_period_commission():
    attribution = pl.DataFrame({"converted_date": [date(2026, 11, 2), date(2026, 11, 3)], "model": ["code", "code"],
                                "influencer_id": ["I1", "I1"], "campaign_id": ["C1", "C1"],
                                "attributed_revenue": [40.0, 70.0]})
    # 1 700 of fees over 10 days: 170 a day; 10 % of the day's 40 code revenue
    assert metrics.contracted_spend(CAMPAIGNS, DS, DS) == pytest.approx(170.0)
    assert metrics.commission_spend(CAMPAIGNS, attribution, DS, DS) == pytest.approx(4.0)
    assert metrics.contracted_spend(CAMPAIGNS, date(2026, 10, 1), date(2026, 10, 31)) == 0
    assert metrics.contracted_spend(CAMPAIGNS, date(2026, 11, 1), date(2026, 11, 30)) == pytest.approx(1700.0)


def test_every_campaign_row_is_listed_by_name_with_its_payback():
    rows = metrics.campaign_rows(CAMPAIGNS, INFLUENCERS)
    assert rows.select("campaign_id", "influencer", "paid_back").rows() == [
        ("C1", "Jane Glow", True), ("C1", "Marco Fit", False), ("C2", "Jane Glow", True)]
    assert rows["revenue_code"].to_list() == rows["revenue_last_touch"].to_list() == [1500.0, 50.0, 500.0]


def test_funnel_rates_and_quarantine_reasons_and_failed_rules():
    steps = metrics.funnel_steps(200, 10, 4)
    assert steps["rate_from_visits"].to_list() == [None, 0.05, 0.02]
    quarantine = pl.DataFrame({"dataset": ["web"] * 4 + ["shop"],
                               "rule_id": ["web.parse", "web.future", "web.future", "web.future", "shop.key"],
                               "reason": ["line 1: bad", "in 2099", "in 2099", "in 2098", "dup"]})
    assert metrics.top_quarantine_reasons(quarantine, 1).select("dataset", "rule_id", "rows").rows() == [
        ("shop", "shop.key", 1), ("web", "web.future", 3)]
    assert metrics.source_counts(None, quarantine).select("dataset", "rows_quarantined").rows() == [
        ("shop", 1), ("web", 4)]
    results = [{"rule_id": "a", "dataset": "x", "success": False, "unexpected_count": 2},
               {"rule_id": "b", "dataset": "x", "success": True}, {"rule_id": "c", "dataset": "x", "success": False,
                                                                   "unexpected_count": 9}]
    assert [r["rule_id"] for r in metrics.failed_rules(results)] == ["c", "a"]


def test_unexpected_landing_paths_are_listed_apart_and_never_counted_as_sources():
    from influence_pipeline.report.fmt import format_bytes

    audit = pl.DataFrame({"dataset": ["orders", "unexpected:pinterest/", "unexpected:orders/x/orders (1).ndjson"],
                          "rows_in": [5, 0, 0], "rows_published": [4, 0, 0], "rows_quarantined": [1, 0, 0],
                          "rows_held": [0, 0, 0]})
    counts = metrics.source_counts(audit, pl.DataFrame(schema={"dataset": pl.String}))
    assert counts.rows() == [("orders", 5, 4, 1, 0)]
    assert metrics.unexpected_paths(audit) == ["orders/x/orders (1).ndjson", "pinterest/"]
    assert metrics.unexpected_paths(None) == [] and metrics.unexpected_paths(audit.head(1)) == []
    assert [format_bytes(b) for b in (0, 999, 1000, 12_345, 4_500_000, None)] == [
        "0 B", "999 B", "1.0 kB", "12.3 kB", "4.5 MB", "n/a"]


# ------------------------------------------------------------------------------------------------ charts


def _layers(spec: dict) -> list[dict]:
    return spec.get("layer", [spec])


def test_funnel_is_linear_and_labelled():
    spec = charts.funnel(metrics.funnel_steps(235_686, 9_000, 4_915)).to_dict()
    assert "symlog" not in str(spec) and _layers(spec)[0]["encoding"]["x"]["scale"]["type"] == "linear"
    labels = [v["label"] for v in next(iter(spec["datasets"].values()))]
    assert labels == ["235,686", "9,000 (3.8 % of visits)", "4,915 (2.1 % of visits)"]


def test_growth_points_are_red_and_the_legend_names_handles():
    daily = pl.DataFrame({"account_id": ["ig:1"] * 3 + ["tt:2"] * 3, "metric_date": [date(2026, 11, d) for d in (1, 2, 3)] * 2,
                          "followers": [100, 110, 500, 50, 51, 52], "is_growth_anomaly": [False, False, True] + [False] * 3})
    accounts = pl.DataFrame({"account_id": ["ig:1", "tt:2"], "handle": ["glowbyjane", "marcofit"],
                             "platform": ["instagram", "tiktok"]})
    shown = metrics.growth_accounts(daily, accounts)
    assert set(shown["account"]) == {"@glowbyjane (instagram)"}  # only the flagged account
    line, points = _layers(charts.follower_growth(shown).to_dict())
    assert line["encoding"]["color"]["field"] == "account"
    assert points["mark"]["type"] == "point" and points["mark"]["color"] == points["mark"]["fill"] == charts.FLAG_RED
    assert "color" not in points["encoding"] and "fill" not in points["encoding"]


def _hand_built(**changes):
    """ReportData of hand-built frames (a night of 235 686 visits, three campaign rows), with `changes`."""
    from dataclasses import replace

    from influence_pipeline.report.page import ReportData
    from influence_pipeline.report.periods import brief_periods
    from influence_pipeline.schemas.contract import table_schema

    empty = lambda table: pl.DataFrame(schema=table_schema(table))  # noqa: E731
    return replace(ReportData(
        ds=DS, currency="EUR", periods=brief_periods(DS, False),
        visits_daily=pl.DataFrame({"visit_date": [DS], "visits": [235_686]}), conversions=empty("fct_conversion"),
        attribution=empty("fct_attribution"), campaigns=CAMPAIGNS, influencers=INFLUENCERS,
        accounts=empty("dim_account"), benchmark=empty("mart_tier_benchmark"), account_daily=empty("fct_account_daily"),
        channel_attribution=empty("mart_channel_attribution"), audit=None,
        quarantine=pl.DataFrame({"dataset": ["web"], "rule_id": ["web.parse"], "reason": ["line 3: not JSON"]}),
        validation=[{"rule_id": "web.future", "dataset": "web", "severity": "warning", "success": False,
                     "unexpected_count": 12, "element_count": 3400}], target_min=0.03, target_max=0.05), **changes)


def test_a_page_of_hand_built_frames_marks_payback_and_stays_offline():
    from influence_pipeline.report.page import render_report

    page = render_report(_hand_built())
    assert not REMOTE.findall(page) and "<script" not in page
    assert "Unexpected files in landing" not in page  # nothing unexpected: no empty list
    assert "<div class='value'>235,686</div>" in page and "money in EUR" in page
    assert page.count("paid back</span>") == 2 and page.count("not yet</span>") == 1
    assert "<td class='l'>Marco Fit</td><td class=''>€200.00</td>" in page
    assert "<td class='l'>web</td><td class='l'>web.future</td><td class='l'>warning</td><td class=''>12</td>" in page
    assert "<a href='validation-2026-11-02.html'>validation details</a>" in page


def test_a_page_lists_unexpected_landing_files_under_the_quality_table_offline():
    from influence_pipeline.report.page import quality_section, render_report

    audit = pl.DataFrame({"dataset": ["web_events", "unexpected:web_events/2026-11-02/events.ndjson.bak",
                                      "unexpected:notes.txt"],
                          "rows_in": [7, 0, 0], "rows_published": [4, 0, 0], "rows_quarantined": [3, 0, 0],
                          "rows_held": [0, 0, 0]})
    unexpected = pl.DataFrame({"path": ["web_events/2026-11-02/events.ndjson.bak", "notes.txt"],
                               "bytes": [2_048, None]})
    data = _hand_built(audit=audit, unexpected=unexpected)
    section = quality_section(data)
    listed = section.split("<h3>Unexpected files in landing</h3>", 1)[1].split("<h3>", 1)[0]
    assert "<td class='l'>web_events/2026-11-02/events.ndjson.bak</td><td class=''>2.0 kB</td>" in listed
    assert "<td class='l'>notes.txt</td><td class=''>n/a</td>" in listed  # removed since the run
    counts = section.split("<h3>", 1)[0]
    assert "<td class='l'>web_events</td><td class=''>7</td>" in counts and "unexpected" not in counts
    page = render_report(data)
    assert not REMOTE.findall(page) and "<script" not in page  # a path is text, never a link


# ------------------------------------------------------------------------------------------------ the fixture night


@pytest.fixture(scope="module")
def night(prefect_harness, tmp_path_factory) -> tuple[Path, str]:
    """The golden landing files of FIXTURE_DATE through one nightly: (data dir, the night's report path)."""
    import shutil

    from influence_pipeline.flows.nightly import nightly

    data = tmp_path_factory.mktemp("report") / "data"
    shutil.copytree(FIXTURES / "landing", data / "landing")
    # a misnamed second copy and a source nobody reads: the data-quality section lists them, counts no rows of them
    (data / "landing" / "orders" / FIXTURE_DATE / "orders (1).ndjson").write_text("x" * 1_500)
    (data / "landing" / "pinterest" / FIXTURE_DATE).mkdir(parents=True)
    (data / "landing" / "pinterest" / FIXTURE_DATE / "pins.csv").write_text("y" * 300)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _use(data, monkeypatch)
        summary = nightly(ds=DS)
    return data, summary.report


def _use(data: Path, monkeypatch) -> None:
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(data))
    monkeypatch.setenv("INFLUENCE_PII_KEY", TEST_PII_KEY)
    monkeypatch.delenv("INFLUENCE_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("INFLUENCE_RULES_FILE", raising=False)


def _mart(data: Path, table: str) -> str:
    lake = data / "lake" / "current" / "marts" / table
    return str(lake / ("*/*.parquet" if next(lake.rglob("*.parquet")).parent != lake else "*.parquet"))


def expected_totals(data: Path, start: date, end: date) -> dict[str, float]:
    """The headline numbers of [start, end] straight from the mart Parquet files, in SQL."""
    conv, attr, camp, visit = (_mart(data, t) for t in ("fct_conversion", "fct_attribution",
                                                         "mart_campaign_performance", "fct_visit"))
    with duckdb.connect() as con:
        def one(sql: str, *params) -> float:
            return float(con.execute(sql, list(params)).fetchone()[0] or 0)

        revenue = ("SELECT sum(attributed_revenue) FROM read_parquet(?, hive_partitioning = true) WHERE model = ? "
                   "AND influencer_id IS NOT NULL AND converted_date BETWEEN ? AND ?")
        counted = ("SELECT count(*) FROM read_parquet(?, hive_partitioning = true) WHERE conversion_type = ? "
                   "AND converted_date BETWEEN ? AND ?")
        # fees and gifted products spread evenly over each campaign's days, plus commission on the code revenue
        fees = one("SELECT sum((fee + gifted_product_cost) * greatest(0, least(end_date, ?::DATE) "
                   "- greatest(start_date, ?::DATE) + 1) / (end_date - start_date + 1)) FROM read_parquet(?) "
                   "WHERE model = 'code'", end, start, camp)
        commission = one("SELECT sum(a.attributed_revenue * c.commission_rate) FROM read_parquet(?, hive_partitioning "
                         "= true) a JOIN read_parquet(?) c USING (campaign_id, influencer_id) WHERE a.model = 'code' "
                         "AND c.model = 'code' AND a.converted_date BETWEEN ? AND ?", attr, camp, start, end)
        return {"spend": fees + commission,
                "code": one(revenue, attr, "code", start, end), "last_touch": one(revenue, attr, "last_touch", start, end),
                "visits": one("SELECT count(*) FROM read_parquet(?, hive_partitioning = true) WHERE visit_date "
                              "BETWEEN ? AND ?", visit, start, end),
                "signups": one(counted, conv, "signup", start, end), "orders": one(counted, conv, "order", start, end),
                "new": one(counted + " AND is_new_customer", conv, "order", start, end)}


def _tile(page: str, section: str, label: str) -> str:
    body = page.split(f"<h2>{section}", 1)[1].split("</section>", 1)[0]
    return re.search(rf"<div class='label'>{re.escape(label)}</div><div class='value'>([^<]*)</div>", body).group(1)


def test_the_fixture_night_brief_shows_the_marts_totals_by_name_and_in_dollars(night):
    data, report = night
    page = Path(report).read_text()
    assert Path(report).name == f"report-{FIXTURE_DATE}.html" and "<script" not in page
    assert not REMOTE.findall(page), REMOTE.findall(page)
    assert "money in USD" in page and "$" in page
    for section, (start, end) in {"Night of": (DS, DS), "November 2026 to date": (date(2026, 11, 1), DS)}.items():
        want = expected_totals(data, start, end)
        assert want["spend"] > 0 and want["visits"] > 0, want
        assert _tile(page, section, "Spend") == format_money(want["spend"], "USD")
        assert _tile(page, section, "Revenue, code view") == format_money(want["code"], "USD")
        assert _tile(page, section, "Revenue, last-touch view") == format_money(want["last_touch"], "USD")
        for label, key in [("Visits", "visits"), ("Signups", "signups"), ("Orders", "orders"),
                           ("New customers", "new")]:
            assert _tile(page, section, label) == format_count(want[key]), label
    assert "vs 2026-11-01" in page and "vs 1–2 Oct 2026" in page
    assert "<a href='validation-2026-11-02.html'>validation details</a>" in page


def test_every_campaign_row_appears_by_name_with_the_right_mark(night):
    data, report = night
    page = Path(report).read_text()
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT c.campaign_id, i.full_name, c.cost, c.roi FROM read_parquet(?) c JOIN read_parquet(?) i "
            "USING (influencer_id) WHERE c.model = 'last_touch' ORDER BY ALL",
            [_mart(data, "mart_campaign_performance"), _mart(data, "dim_influencer")]).fetchall()
    assert len(rows) == 3
    campaigns = page.split("<h2>Campaigns", 1)[1].split("</section>", 1)[0]
    shown = re.findall(r"<tr><td class='l'>([^<]*)</td><td class=''>([^<]*)</td>.*?<span class='(?:ok|bad)'>"
                       r"(paid back|not yet)</span>", campaigns)
    assert len(shown) == len(rows)
    for campaign, name, cost, roi in rows:
        assert (name, format_money(float(cost), "USD"), "paid back" if roi >= 0 else "not yet") in shown
        assert f"({campaign})" in campaigns
    assert "INF-0001" not in campaigns


def test_data_quality_counts_rows_and_rules(night):
    data, report = night
    page = Path(report).read_text()
    quality = page.split("<h2>Data quality", 1)[1]
    # web_events: 7 lines in, 4 published, 3 quarantined (a malformed line, a duplicate, an event dated 2099)
    assert "<td class='l'>web_events</td><td class=''>7</td><td class=''>4</td><td class=''>3</td>" in quality
    assert "web_events.event_at.future" in quality and "Top quarantine reasons" in quality
    assert UNEXPECTED_ROWS in quality and "unexpected:" not in quality


UNEXPECTED_ROWS = ("<h3>Unexpected files in landing</h3>" + "<p class='note'>Found beside the night's files and read "
                   "by no run: rename or move a misnamed delivery, or remove it.</p><div class='scroll'><table><thead>"
                   "<tr><th class='l'>Path</th><th class=''>Size</th></tr></thead><tbody>"
                   f"<tr><td class='l'>orders/{FIXTURE_DATE}/orders (1).ndjson</td><td class=''>1.5 kB</td></tr>"
                   "<tr><td class='l'>pinterest/</td><td class=''>300 B</td></tr></tbody></table></div>")


def test_the_cli_writes_the_night_and_the_month_brief(night, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from influence_pipeline.cli import app

    data, report = night
    _use(data, monkeypatch)
    out = tmp_path / "brief.html"
    result = CliRunner().invoke(app, ["report", "--date", FIXTURE_DATE, "--out", str(out)])
    assert result.exit_code == 0, result.output
    night_page = out.read_text()
    assert "Night of 2026-11-02" in night_page and "November 2026 to date" in night_page
    assert "<td class='l'>web_events</td><td class=''>7</td><td class=''>4</td>" in night_page  # from the warehouse
    assert UNEXPECTED_ROWS in night_page and not REMOTE.findall(night_page)
    result = CliRunner().invoke(app, ["report", "--month", "2026-11", "--out", str(out)])
    assert result.exit_code == 0, result.output
    month_page = out.read_text()
    assert "Night of" not in month_page and "November 2026 to date (1–2 Nov 2026)" in month_page
    assert len(out.read_bytes()) < 400_000
