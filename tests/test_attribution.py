"""Attribution transforms on hand-built journeys: sessions, channels, link matching, models, codes, refunds, ROI."""
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from influence_pipeline.rules_file import load_rules
from influence_pipeline.schemas.contract import load_contracts, polars_schema
from influence_pipeline.transforms.attribution.campaigns import build_mart_campaign_performance
from influence_pipeline.transforms.attribution.conversions import build_fct_conversion, build_order_codes, latest_orders
from influence_pipeline.transforms.attribution.credit import MODELS, build_fct_attribution
from influence_pipeline.transforms.attribution.journeys import build_journey_touches, transform_path
from influence_pipeline.transforms.attribution.visits import build_fct_visit, sessionize
from influence_pipeline.transforms.staging.common import UTC_TS, utm_columns

RULES = load_rules()
A = RULES.attribution
DAY = date(2026, 11, 10)
T0 = datetime(2026, 11, 10, 12, 0, tzinfo=timezone.utc)
MONEY = pl.Decimal(18, 2)


def _events(rows: list[dict]) -> pl.LazyFrame:
    """Tracker events: each dict gives anonymous_id, minutes after T0, and optionally url, referrer_host, type."""
    frame = pl.DataFrame([{
        "event_id": f"e{i}", "event_at": T0 + timedelta(minutes=r["at"]), "anonymous_id": r.get("anon", "a1"),
        "event_type": r.get("type", "page_view"), "page_url": r.get("url", "https://shop.example.com/"),
        "page_path": "/", "referrer_host": r.get("ref"), "customer_id": r.get("customer"),
        "email_hash": r.get("email")} for i, r in enumerate(rows)],
        schema_overrides={"event_at": UTC_TS, "referrer_host": pl.String, "customer_id": pl.String,
                          "email_hash": pl.String})
    return frame.lazy().with_columns(utm_columns(pl.col("page_url")))


LINKS = pl.LazyFrame({"link_id": ["LNK-1", "LNK-2"], "influencer_id": ["INF-1", "INF-2"],
                      "campaign_id": ["CMP-1", "CMP-1"], "utm_source": ["instagram", "tiktok"],
                      "utm_medium": ["influencer", "influencer"], "utm_campaign": ["winter", "winter"],
                      "utm_content": ["jane", "marco"]})
HANDLES = pl.LazyFrame({"handle": ["jane", "marco", "zoe"], "influencer_id": ["INF-1", "INF-2", "INF-3"]})


def _visits(rows: list[dict]) -> pl.DataFrame:
    return build_fct_visit(_events(rows), LINKS, HANDLES, DAY, DAY, A).collect()


@pytest.mark.parametrize("gap, visits", [(timedelta(minutes=29, seconds=59, milliseconds=999), 1),
                                         (timedelta(minutes=30), 2)])
def test_a_gap_of_exactly_the_timeout_starts_a_new_visit(gap, visits):
    events = pl.LazyFrame({"event_id": ["e1", "e2"], "anonymous_id": ["a", "a"], "event_at": [T0, T0 + gap],
                           "utm_campaign": [None, None]}, schema_overrides={"event_at": UTC_TS})
    assert sessionize(events, 30).collect()["visit_number"].max() == visits


def test_a_new_campaign_starts_a_new_visit_but_an_untagged_page_view_does_not():
    visits = _visits([
        {"at": 0, "url": "https://shop.example.com/?utm_source=instagram&utm_medium=influencer&utm_campaign=winter&utm_content=jane"},
        {"at": 1}, {"at": 2, "url": "https://shop.example.com/?utm_campaign=winter&utm_content=jane&utm_source=instagram&utm_medium=influencer"},
        {"at": 3, "url": "https://shop.example.com/?utm_source=google&utm_medium=cpc&utm_campaign=brand"},
    ])
    assert visits["channel"].to_list() == ["influencer", "paid_search"]
    assert visits["events"].to_list() == [3, 1]


# url, referrer host → channel, influencer, link_match: the UTM normalisation and channel rules in one table.
CASES = [
    ("https://shop.example.com/?utm_source=Instagram&utm_medium=INFLUENCER&utm_campaign=%20Winter%20&utm_content=jane",
     None, "influencer", "INF-1", "exact"),
    ("https://shop.example.com/?UTM_SOURCE=ig&utm_medium=story&utm_campaign=winter&utm_content=marco", None,
     "influencer", "INF-2", "campaign_content"),
    ("https://shop.example.com/?utm_source=instagram&utm_medium=influencer&utm_campaign=spring&utm_content=zoe", None,
     "influencer", "INF-3", "handle"),
    ("https://shop.example.com/?utm_source=instagram&utm_medium=influencer&utm_campaign=spring+sale", None,
     "influencer", None, None),
    ("https://shop.example.com/?utm_source=google&utm_medium=cpc&utm_campaign=brand", "www.google.com", "paid_search",
     None, None),
    ("https://shop.example.com/?utm_source=newsletter&utm_medium=email&utm_campaign=weekly", None, "email", None, None),
    ("https://shop.example.com/?utm_source=pinterest&utm_medium=social", None, "social_organic", None, None),
    ("https://shop.example.com/", "www.bing.com", "organic_search", None, None),
    ("https://shop.example.com/", "t.co", "social_organic", None, None),
    ("https://shop.example.com/", "blog.example.org", "referral", None, None),
    ("https://shop.example.com/?utm_source=partner&utm_medium=display", None, "other", None, None),
    ("https://shop.example.com/", "shop.example.com", "direct", None, None),
    ("https://shop.example.com/", None, "direct", None, None),
]


@pytest.mark.parametrize("url, ref, channel, influencer, match", CASES)
def test_channel_and_link_matching(url, ref, channel, influencer, match):
    visit = _visits([{"at": 0, "url": url, "ref": ref}]).row(0, named=True)
    assert (visit["channel"], visit["influencer_id"], visit["link_match"]) == (channel, influencer, match)


def _touches(channels_minutes: list[tuple[str, str | None, int]], converted: datetime) -> pl.LazyFrame:
    """One conversion's journey: (channel, influencer_id, minutes before the conversion)."""
    return pl.LazyFrame({
        "conversion_id": ["order:1"] * len(channels_minutes), "converted_at": [converted] * len(channels_minutes),
        "visit_id": [f"v{i}" for i in range(len(channels_minutes))],
        "touch_at": [converted - timedelta(minutes=m) for _, _, m in channels_minutes],
        "channel": [c for c, _, _ in channels_minutes], "influencer_id": [i for _, i, _ in channels_minutes],
        "campaign_id": [None if i is None else "CMP-1" for _, i, _ in channels_minutes]},
        schema_overrides={"conversion_id": pl.String, "converted_at": UTC_TS, "visit_id": pl.String,
                          "touch_at": UTC_TS, "channel": pl.String, "influencer_id": pl.String,
                          "campaign_id": pl.String})


def _conversion(net: str = "100.00") -> pl.LazyFrame:
    return pl.LazyFrame({"conversion_id": ["order:1"], "conversion_type": ["order"], "converted_at": [T0],
                         "converted_date": [DAY], "net_revenue": [net]},
                        schema_overrides={"converted_at": UTC_TS, "net_revenue": MONEY})


NO_CODES = pl.LazyFrame(schema={"order_id": pl.String, "influencer_id": pl.String, "campaign_id": pl.String,
                                "discount_code": pl.String, "code_share": pl.Float64})


def _credit(touches: pl.LazyFrame, codes: pl.LazyFrame = NO_CODES, net: str = "100.00", rules=A) -> dict:
    rows = build_fct_attribution(_conversion(net), transform_path(touches, rules.path_transform), codes,
                                 rules).collect()
    return {(r["model"], r["credited_to"]): (round(r["credit"], 6), str(r["attributed_revenue"]), r["evidence"])
            for r in rows.iter_rows(named=True)}


def test_one_touch_gets_everything_in_every_touch_model():
    credit = _credit(_touches([("influencer", "INF-1", 60)], T0))
    for model in ("first_touch", "last_touch", "linear", "position_based", "time_decay"):
        assert credit[(model, "influencer:INF-1:CMP-1")][:2] == (1.0, "100.00")
    assert credit[("code", "none")] == (1.0, "100.00", "none")


def test_two_touches_split_half_half_in_position_based_and_by_half_life_in_time_decay():
    day = 24 * 60
    credit = _credit(_touches([("influencer", "INF-1", 7 * day), ("email", None, 0)], T0))
    assert credit[("position_based", "influencer:INF-1:CMP-1")][:2] == (0.5, "50.00")
    assert credit[("first_touch", "influencer:INF-1:CMP-1")][2] == "last_click_utm"
    # a touch one half-life (7 days) older weighs half as much: 1/3 and 2/3, and the cents still add up
    assert credit[("time_decay", "influencer:INF-1:CMP-1")][:2] == (0.333333, "33.33")
    assert credit[("time_decay", "email::")][:2] == (0.666667, "66.67")


def test_three_touches_position_based_is_40_20_40_and_consecutive_repeats_collapse():
    credit = _credit(_touches([("influencer", "INF-1", 300), ("influencer", "INF-1", 200), ("email", None, 100),
                               ("influencer", "INF-2", 50)], T0))
    assert credit[("position_based", "influencer:INF-1:CMP-1")][0] == 0.4
    assert credit[("position_based", "email::")][0] == 0.2
    assert credit[("linear", "influencer:INF-1:CMP-1")][0] == pytest.approx(1 / 3, abs=1e-6)


def test_direct_never_takes_last_touch_from_an_earlier_non_direct_touch():
    touches = _touches([("influencer", "INF-1", 300), ("direct", None, 10)], T0)
    assert _credit(touches)[("last_touch", "influencer:INF-1:CMP-1")][0] == 1.0
    assert _credit(touches, rules=A.model_copy(update={"direct_never_last_touch": False}))[
        ("last_touch", "direct::")][0] == 1.0
    assert _credit(_touches([("direct", None, 10)], T0))[("last_touch", "direct::")][0] == 1.0


def _codes(*influencers: str) -> pl.LazyFrame:
    codes = pl.LazyFrame({"order_id": ["1"] * len(influencers), "discount_code": [f"{i}15" for i in influencers]})
    roster = pl.LazyFrame({"discount_code": [f"{i}15" for i in influencers], "influencer_id": list(influencers),
                           "campaign_id": ["CMP-1"] * len(influencers)})
    return build_order_codes(codes, roster)


def test_an_influencer_code_overrides_link_credit_under_code_first():
    touches = _touches([("paid_search", None, 60)], T0)
    credit = _credit(touches, _codes("INF-2"))
    assert {m for m, _ in credit} == set(MODELS)
    assert all(v == (1.0, "100.00", "code") for (m, k), v in credit.items() if k == "influencer:INF-2:CMP-1")
    assert len(credit) == len(MODELS)
    links_only = _credit(touches, _codes("INF-2"), rules=A.model_copy(update={"precedence": "links_only"}))
    assert links_only[("last_touch", "paid_search::")][0] == 1.0 and links_only[("code", "influencer:INF-2:CMP-1")]


def test_two_influencer_codes_on_one_order_split_it_equally_to_the_cent():
    credit = _credit(_touches([], T0), _codes("INF-1", "INF-2"), net="100.01")
    assert credit[("code", "influencer:INF-1:CMP-1")] == (0.5, "50.01", "code")
    assert credit[("code", "influencer:INF-2:CMP-1")] == (0.5, "50.00", "code")


def _orders(rows: list[tuple[str, str, str, str, str]]) -> pl.LazyFrame:
    """(order_id, created day-hour, updated, landing_date, refunded) in EUR, total 100."""
    return pl.LazyFrame({
        "order_id": [r[0] for r in rows], "customer_id": ["C1"] * len(rows),
        "customer_email_hash": ["h1"] * len(rows),
        "created_at": [datetime.fromisoformat(r[1]) for r in rows], "updated_at": [datetime.fromisoformat(r[2]) for r in rows],
        "landing_date": [date.fromisoformat(r[3]) for r in rows], "total_price": ["100.00"] * len(rows),
        "refunded_amount": [r[4] for r in rows], "currency": ["EUR"] * len(rows), "is_test": [False] * len(rows),
        "financial_status": ["paid"] * len(rows)},
        schema_overrides={"created_at": UTC_TS, "updated_at": UTC_TS, "total_price": MONEY, "refunded_amount": MONEY})


def test_a_refund_delivered_two_days_later_restates_net_revenue():
    no_codes = pl.LazyFrame(schema={"order_id": pl.String, "discount_code": pl.String, "landing_date": pl.Date})
    signups = pl.LazyFrame(schema={"signup_id": pl.String, "signed_up_at": UTC_TS, "email_hash": pl.String,
                                   "anonymous_id": pl.String, "landing_date": pl.Date})
    customers = pl.LazyFrame({"customer_key": ["C1"], "first_order_id": ["1"]})
    before = _orders([("1", "2026-11-08T10:00:00+00:00", "2026-11-08T10:00:00+00:00", "2026-11-08", "0.00")])
    after = pl.concat([before, _orders([("1", "2026-11-08T10:00:00+00:00", "2026-11-10T09:00:00+00:00",
                                         "2026-11-10", "40.00")])])

    def net(orders):
        latest, _ = latest_orders(orders, no_codes)
        conv = build_fct_conversion(latest, NO_CODES, signups, customers, date(2026, 11, 3), DAY,
                                    RULES.currency_rates).collect()
        return conv.select("gross_revenue", "refunded_revenue", "net_revenue", "is_new_customer").row(0)

    rate = RULES.currency_rates["EUR"]
    assert [float(x) for x in net(before)] == [round(100 * rate, 2), 0, round(100 * rate, 2), True]
    assert [float(x) for x in net(after)] == [round(100 * rate, 2), round(40 * rate, 2), round(60 * rate, 2), True]


def test_journey_joins_the_devices_of_one_customer_inside_the_lookback_only():
    visits = pl.LazyFrame({
        "anonymous_id": ["phone", "laptop", "laptop", "tablet"], "visit_id": ["p1", "l1", "l2", "t1"],
        "visit_started_at": [T0 - timedelta(days=40), T0 - timedelta(days=3), T0 - timedelta(minutes=5),
                             T0 - timedelta(days=1)],
        "channel": ["influencer", "influencer", "direct", "email"], "influencer_id": ["INF-1", "INF-1", None, None],
        "campaign_id": ["CMP-1", "CMP-1", None, None], "customer_id": [None, None, "C1", None],
        "email_hash": ["h1", None, None, None]}, schema_overrides={"visit_started_at": UTC_TS})
    conversions = pl.LazyFrame({"conversion_id": ["order:1"], "converted_at": [T0], "customer_key": ["C1"],
                                "email_hash": ["h1"], "anonymous_id": [None]},
                               schema_overrides={"converted_at": UTC_TS, "anonymous_id": pl.String})
    touches = build_journey_touches(conversions, visits, 30).collect()
    # the laptop checked out (C1), the phone signed up with the same email but 40 days ago: outside the window;
    # the tablet was never tied to the customer
    assert touches["visit_id"].to_list() == ["l1", "l2"]


def test_campaign_roi_columns_follow_their_formulas():
    campaigns = pl.LazyFrame({"campaign_id": ["CMP-1"], "influencer_id": ["INF-1"], "campaign_name": ["Winter"],
                              "brand": ["Lumi"], "start_date": [date(2026, 11, 1)], "end_date": [date(2026, 11, 30)],
                              "fee": ["1000.00"], "currency": ["EUR"], "gifted_product_cost": ["100.00"],
                              "commission_rate": [0.1]}, schema_overrides={"fee": MONEY, "gifted_product_cost": MONEY})
    posts = pl.LazyFrame({"campaign_id": ["CMP-1"] * 2, "influencer_id": ["INF-1"] * 2, "reach": [1000, 3000],
                          "impressions": [2000, 4000], "engagements": [100, 150], "emv": [10.0, 20.0]})
    visits = pl.LazyFrame({"campaign_id": ["CMP-1"] * 4, "influencer_id": ["INF-1"] * 4})
    attribution = pl.LazyFrame({
        "campaign_id": ["CMP-1"] * 3, "influencer_id": ["INF-1"] * 3, "model": ["code", "linear", "linear"],
        "conversion_type": ["order", "order", "signup"], "credit": [1.0, 0.5, 1.0],
        "attributed_revenue": ["500.00", "250.00", "0.00"]}, schema_overrides={"attributed_revenue": MONEY})
    previous = pl.LazyFrame(schema=polars_schema(load_contracts()["mart_campaign_performance"]))
    out = build_mart_campaign_performance(campaigns, posts, visits, attribution, previous, DAY, 37,
                                          {"EUR": 2.0}, MODELS).collect()
    code = out.filter(model="code").row(0, named=True)
    # fee 2 000 + gifted 200 (EUR at 2.0) + commission 10 % of 500 = 2 250
    assert (float(code["cost"]), float(code["commission"]), code["posts"], code["visits"]) == (2250, 50, 2, 4)
    assert code["cpe"] == 2250 / 250 and code["cpm"] == 1000 * 2250 / 6000 and code["cpv"] == 2250 / 4
    assert (code["cpa"], code["roas"], code["roi"]) == (2250, 500 / 2250, (500 - 2250) / 2250)
    linear = out.filter(model="linear").row(0, named=True)
    assert (linear["orders"], linear["signups"], float(linear["net_revenue"]), linear["cpa"]) == (0.5, 1.0, 250, 4500)
    assert out.filter(model="first_touch").row(0, named=True)["cpa"] is None


def test_a_settled_campaign_is_computed_once_then_carried_over():
    from influence_pipeline.transforms.attribution.campaigns import campaigns_to_recompute

    campaigns = pl.LazyFrame({"campaign_id": ["OLD", "OLD", "NEW"], "influencer_id": ["I1", "I2", "I1"],
                              "end_date": [date(2026, 9, 1), date(2026, 9, 1), date(2026, 11, 30)]})
    previous = pl.LazyFrame({"campaign_id": ["OLD"], "influencer_id": ["I1"], "model": ["code"]})
    recomputed = campaigns_to_recompute(campaigns, previous, DAY, 37).collect()
    # OLD × I1 ended long ago and is in the previous mart: carried; OLD × I2 never computed (first run): computed
    assert sorted(recomputed.select("campaign_id", "influencer_id").rows()) == [("NEW", "I1"), ("OLD", "I2")]
