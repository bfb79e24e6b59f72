"""One self-contained HTML page: charts rendered to inline SVG by vl-convert (no script, no network), tables as HTML."""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date

import polars as pl

from influence_pipeline.report import charts

STYLE = """body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:980px;color:#222}
h1{margin-bottom:.2rem}.sub{color:#666;margin-top:0}section{margin:2rem 0}
table{border-collapse:collapse;font-size:.9rem}td,th{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:right}
td:first-child,th:first-child,td:nth-child(2),th:nth-child(2){text-align:left}.bad{color:#b00}"""


@dataclass
class ReportData:
    """Everything the page shows, read by data.py for one date."""
    ds: date
    benchmark: pl.DataFrame          # mart_tier_benchmark, month of ds
    account_daily: pl.DataFrame      # fct_account_daily, 30 days to ds
    attribution: pl.DataFrame        # fct_attribution (influencer_id, model, attributed_revenue), month to ds
    campaigns: pl.DataFrame          # mart_campaign_performance
    visits: int
    signups: int
    orders: int
    rules_checked: int
    rules_failed: list[tuple[str, str, str]]  # (dataset, rule id, severity)
    target_min: float
    target_max: float


def _svg(chart) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(chart.to_json())


def _table(frame: pl.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{'' if v is None else html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in frame.iter_rows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def campaign_table(campaigns: pl.DataFrame, top: int = 15) -> pl.DataFrame:
    """The best campaign × influencer rows by last-touch ROAS, with the code view beside it."""
    money = lambda c: pl.col(c).cast(pl.Float64).round(2)  # noqa: E731
    last = campaigns.filter(pl.col("model") == "last_touch").select(
        "campaign_id", "influencer_id", money("cost"), money("net_revenue").alias("revenue_last_touch"),
        pl.col("roas").round(2).alias("roas_last_touch"), pl.col("roi").round(2).alias("roi_last_touch"))
    code = campaigns.filter(pl.col("model") == "code").select(
        "campaign_id", "influencer_id", money("net_revenue").alias("revenue_code"), pl.col("roas").round(2).alias("roas_code"))
    return (last.join(code, on=["campaign_id", "influencer_id"], how="left")
            .sort("roas_last_touch", "campaign_id", "influencer_id", descending=[True, False, False], nulls_last=True)
            .head(top))


def render_report(data: ReportData) -> str:
    """ReportData → the HTML page."""
    sections = [
        ("Do smaller accounts engage more?", _svg(charts.er_by_tier(data.benchmark, data.target_min, data.target_max))
         if data.benchmark.height else "<p>No benchmark for this month yet.</p>"),
        ("Follower growth", _svg(charts.follower_growth(data.account_daily))
         if data.account_daily.height else "<p>No account metrics yet.</p>"),
        ("Who drove revenue, by model", _svg(charts.revenue_by_influencer(data.attribution))
         if data.attribution.filter(pl.col("influencer_id").is_not_null()).height else "<p>No credited revenue.</p>"),
        ("Campaigns: return on spend", _table(campaign_table(data.campaigns))),
        ("Funnel this month", _svg(charts.funnel(data.visits, data.signups, data.orders))),
    ]
    failed = "".join(f"<li class='bad'>{html.escape(d)}: {html.escape(r)} ({html.escape(s)})</li>"
                     for d, r, s in data.rules_failed) or "<li>none</li>"
    sections.append(("Validation", f"<p>{data.rules_checked} rules checked on the {data.ds} run; failed:</p>"
                                   f"<ul>{failed}</ul>"))
    body = "".join(f"<section><h2>{html.escape(title)}</h2>{content}</section>" for title, content in sections)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>influence-pipeline report "
            f"{data.ds}</title><style>{STYLE}</style></head><body><h1>Influencer marketing report</h1>"
            f"<p class='sub'>Landing date {data.ds} · month to date</p>{body}</body></html>")
