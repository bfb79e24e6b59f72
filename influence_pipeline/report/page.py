"""The one-page brief: headline tiles for the night and the month to date, every campaign × influencer with its
return, the funnel, revenue by influencer and by channel, engagement, growth anomalies and data quality. One
self-contained HTML page: charts as inline SVG rendered by vl-convert (no script, no network), tables as HTML."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from influence_pipeline.report import charts, metrics
from influence_pipeline.report.fmt import (
    format_bytes,
    format_change,
    format_count,
    format_money,
    format_pct,
    format_ratio,
)
from influence_pipeline.report.html import STYLE, esc, section, svg, table, tiles
from influence_pipeline.report.periods import Period

SPEND_NOTE = ("Spend: each deal's fee and gifted products spread evenly over its campaign days, plus commission on "
              "the period's code revenue. Revenue: net revenue credited to influencers.")


@dataclass
class ReportData:
    """Everything the page shows, read by data.py: the marts' rows over the periods and their comparisons."""
    ds: date                          # the night the data-quality section describes (the brief's last day)
    currency: str                     # reporting currency: every money column of the marts is in it
    periods: list[Period]             # the night and/or the month to date, each with its comparison period
    visits_daily: pl.DataFrame        # visit_date, visits
    conversions: pl.DataFrame         # fct_conversion: converted_date, conversion_type, net_revenue, is_new_customer
    attribution: pl.DataFrame         # fct_attribution credited to influencers: converted_date, model, ids, revenue
    campaigns: pl.DataFrame           # mart_campaign_performance (lifetime, as of the snapshot's night)
    influencers: pl.DataFrame         # dim_influencer
    accounts: pl.DataFrame            # dim_account
    benchmark: pl.DataFrame           # mart_tier_benchmark, month of the brief
    account_daily: pl.DataFrame       # fct_account_daily, 30 days to the brief's last day
    channel_attribution: pl.DataFrame  # mart_channel_attribution, month of the brief
    audit: pl.DataFrame | None        # run_sources rows of the night's published run (None: not at hand)
    quarantine: pl.DataFrame          # the night's quarantined rows: dataset, rule_id, reason
    validation: list[dict]            # the night's validation results (rule_id, dataset, success, counts…)
    target_min: float
    target_max: float
    unexpected: pl.DataFrame | None = None  # landing paths no run reads: path, bytes (null: gone since the run)


def headline(data: ReportData, period: Period) -> str:
    """A period's tiles: money, ROAS and counts, each with its change against the comparison period."""
    frames = {"visits_daily": data.visits_daily, "conversions": data.conversions, "attribution": data.attribution,
              "campaigns": data.campaigns}
    now, before = metrics.totals_pair(frames, period)
    money = lambda v: format_money(v, data.currency)  # noqa: E731
    items = [("Spend", money(now.spend), format_change(now.spend, before.spend)),
             ("Revenue, code view", money(now.revenue_code), format_change(now.revenue_code, before.revenue_code)),
             ("Revenue, last-touch view", money(now.revenue_last_touch),
              format_change(now.revenue_last_touch, before.revenue_last_touch)),
             ("ROAS (last touch)", format_ratio(now.roas), format_change(now.roas, before.roas)),
             ("Visits", format_count(now.visits), format_change(now.visits, before.visits)),
             ("Signups", format_count(now.signups), format_change(now.signups, before.signups)),
             ("Orders", format_count(now.orders), format_change(now.orders, before.orders)),
             ("New customers", format_count(now.new_customers), format_change(now.new_customers, before.new_customers))]
    return section(period.title, tiles(items, period.compared_with))


def campaign_section(data: ReportData) -> str:
    """Every campaign × influencer, grouped per campaign, marked paid back or not yet."""
    rows = metrics.campaign_rows(data.campaigns, data.influencers)
    if not rows.height:
        return section("Campaigns", "<p>No campaigns yet.</p>")
    money = lambda v: format_money(v, data.currency)  # noqa: E731
    header = ["Influencer", "Cost", "Revenue (code)", "Revenue (last touch)", "ROAS", "ROI", "Paid back?"]
    body = []
    for (campaign_id, name, brand), group in rows.group_by(["campaign_id", "campaign_name", "brand"],
                                                           maintain_order=True):
        cost, revenue = group["cost"].sum(), group["revenue_last_touch"].fill_null(0).sum()
        body.append(f"<tr class='group'><th colspan='{len(header)}'>{esc(name or campaign_id)} · {esc(brand)} "
                    f"<span class='note'>({esc(campaign_id)}) — cost {money(cost)}, last-touch revenue "
                    f"{money(revenue)}, ROAS {format_ratio(revenue / cost if cost else None)}</span></th></tr>")
        for r in group.iter_rows(named=True):
            mark = ("ok", "paid back") if r["paid_back"] else ("bad", "not yet")
            cells = [esc(r["influencer"]), money(r["cost"]), money(r["revenue_code"]), money(r["revenue_last_touch"]),
                     format_ratio(r["roas"]), format_pct(r["roi"]), f"<span class='{mark[0]}'>{mark[1]}</span>"]
            body.append("<tr>" + "".join(f"<td class='{'l' if i in (0, 6) else ''}'>{c}</td>"
                                         for i, c in enumerate(cells)) + "</tr>")
    head = "".join(f"<th class='{'l' if i in (0, 6) else ''}'>{esc(h)}</th>" for i, h in enumerate(header))
    as_of = data.campaigns["as_of_date"].max() if "as_of_date" in data.campaigns.columns else None
    return section("Campaigns: has each deal paid back?",
                   f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
                   "</table></div>",
                   f"Campaign to date as of {as_of}; ROAS and ROI by last-touch revenue; paid back = ROI ≥ 0 "
                   "(revenue covers fee, gifted products and commission).")


def _funnel_section(data: ReportData, period: Period) -> str:
    totals = metrics.period_totals(data.visits_daily, data.conversions, data.attribution, data.campaigns,
                                   period.start, period.end)
    steps = metrics.funnel_steps(totals.visits, totals.signups, totals.orders)
    rates = steps.filter(pl.col("rate_from_visits").is_not_null())
    note = " · ".join(f"visit → {s[:-1]}: {format_pct(r, 2)}" for s, r in zip(rates["step"], rates["rate_from_visits"]))
    return section(f"Funnel, {period.title}", svg(charts.funnel(steps)), note)


def _revenue_sections(data: ReportData, period: Period) -> list[str]:
    credited = metrics.credited_by_influencer(data.attribution, data.influencers, period.start, period.end)
    out = [section("Who drove revenue, by model", svg(charts.revenue_by_influencer(credited, data.currency))
                   if credited.height else "<p>No revenue credited to influencers.</p>", period.title)]
    per_channel = metrics.channel_models(data.channel_attribution)
    if not per_channel.height:
        return out + [section("Channels: models side by side", "<p>No channel attribution this month.</p>")]
    present = per_channel["model"].unique().sort().to_list()
    models = [m for m in charts.MODEL_ORDER if m in present] + [m for m in present if m not in charts.MODEL_ORDER]
    wide = per_channel.pivot("model", index="channel", values="revenue").sort("channel")
    rows = [[c, *[format_money(v, data.currency) for v in vals]]
            for c, *vals in wide.select("channel", *models).iter_rows()]
    out.append(section("Channels: models side by side", svg(charts.channel_models(per_channel, data.currency))
                       + table(["Channel", *[m.replace("_", " ") for m in models]], rows), f"Net revenue credited this month, {data.currency}"))
    return out


def _shortened(text: str | None, limit: int = 90) -> str:
    """A quarantine reason cut to `limit` characters: it can quote a whole malformed line."""
    text = text or ""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def quality_section(data: ReportData) -> str:
    """Rows in, published, quarantined and held per source, the top quarantine reasons, the failed rules."""
    counts = metrics.source_counts(data.audit, data.quarantine)
    parts = [table(["Source", "Rows in", "Published", "Quarantined", "Held"],
                   [[d, *map(format_count, vals)] for d, *vals in counts.iter_rows()])
             if counts.height else "<p>No source counts for this night.</p>"]
    if data.unexpected is not None and data.unexpected.height:
        parts.append("<h3>Unexpected files in landing</h3><p class='note'>Found beside the night's files and read by "
                     "no run: rename or move a misnamed delivery, or remove it.</p>" + table(
                         ["Path", "Size"], [[p, format_bytes(b)] for p, b in data.unexpected.iter_rows()]))
    reasons = metrics.top_quarantine_reasons(data.quarantine)
    parts.append("<h3>Top quarantine reasons</h3>" + (table(
        ["Source", "Rule", "Rows", "Example"], [[d, r, format_count(n), _shortened(e)] for d, r, n, e in reasons.iter_rows()],
        left=2) if reasons.height else "<p>No row was quarantined.</p>"))
    failed = metrics.failed_rules(data.validation)
    parts.append(f"<h3>Failed validation rules ({len(failed)} of {len(data.validation)} checked)</h3>" + (table(
        ["Source", "Rule", "Severity", "Unexpected", "Of rows"],
        [[r.get("dataset"), r.get("rule_id"), r.get("severity"), format_count(r.get("unexpected_count")),
          format_count(r.get("element_count"))] for r in failed], left=3) if failed else "<p>None failed.</p>"))
    parts.append(f"<p><a href='validation-{data.ds.isoformat()}.html'>validation details</a></p>")
    return section(f"Data quality, night of {data.ds.isoformat()}", "".join(parts))


def render_report(data: ReportData) -> str:
    """ReportData → the HTML page."""
    brief = data.periods[-1]  # the widest period: the charts cover it
    body = [headline(data, p) for p in data.periods] + [f"<p class='note'>{esc(SPEND_NOTE)}</p>"]
    body += [campaign_section(data), _funnel_section(data, brief), *_revenue_sections(data, brief)]
    body.append(section("Do smaller accounts engage more?", svg(charts.er_by_tier(
        data.benchmark, data.target_min, data.target_max)) if data.benchmark.height
        else "<p>No benchmark for this month yet.</p>"))
    shown = metrics.growth_accounts(data.account_daily, data.accounts)
    body.append(section("Growth anomalies", svg(charts.follower_growth(shown)) if shown.height
                        else "<p>No account metrics yet.</p>", "30 days; red points: days flagged as a growth anomaly"))
    body.append(quality_section(data))
    title = " · ".join(p.title for p in data.periods)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>Influencer marketing brief {esc(data.ds.isoformat())}</title><style>{STYLE}</style></head><body>"
            f"<h1>Influencer marketing brief</h1><p class='sub'>{esc(title)} · money in {esc(data.currency)}</p>"
            f"{''.join(body)}</body></html>")
