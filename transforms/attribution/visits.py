"""fct_visit: web events → visits (sessions), each with its channel and the tracking link it came through."""
from __future__ import annotations

from datetime import date

import polars as pl

from influence_pipeline.transforms.business_rules import Attribution

CHANNELS = ("influencer", "paid_search", "organic_search", "email", "social_organic", "referral", "other", "direct")


def _link_keys(links: pl.LazyFrame, handles: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
    """Three lookups, tried in order: the link's four UTMs; its campaign and content (utm_source or medium mistyped);
    an account handle in utm_content (a link the CRM never recorded: influencer known, campaign not)."""
    utms = ["utm_source", "utm_medium", "utm_campaign", "utm_content"]
    ranked = links.sort("link_id").select("link_id", "influencer_id", "campaign_id", *utms)
    exact = ranked.unique(utms, keep="first", maintain_order=True).with_columns(link_match=pl.lit("exact"))
    loose = (ranked.drop("utm_source", "utm_medium").unique(["utm_campaign", "utm_content"], keep="first",
                                                              maintain_order=True)
             .with_columns(link_match=pl.lit("campaign_content")))
    by_handle = (handles.select(utm_content="handle", influencer_id="influencer_id").drop_nulls()
                 .sort("utm_content", "influencer_id").unique("utm_content", keep="first", maintain_order=True)
                 .with_columns(link_id=pl.lit(None, pl.String), campaign_id=pl.lit(None, pl.String),
                               link_match=pl.lit("handle")))
    return exact, loose, by_handle


def match_tracking_links(visits: pl.LazyFrame, links: pl.LazyFrame, handles: pl.LazyFrame) -> pl.LazyFrame:
    """Visits with utm_* columns → the same rows plus link_id, influencer_id, campaign_id, link_match."""
    exact, loose, by_handle = _link_keys(links, handles)
    out = ["link_id", "influencer_id", "campaign_id", "link_match"]
    matched = (visits
               .join(exact, on=["utm_source", "utm_medium", "utm_campaign", "utm_content"], how="left", nulls_equal=False)
               .join(loose.rename({c: f"{c}_2" for c in out}), on=["utm_campaign", "utm_content"], how="left")
               .join(by_handle.rename({c: f"{c}_3" for c in out}), on="utm_content", how="left"))
    # Only a visit with a UTM tag can match: a bare handle in utm_content of an untagged URL does not exist.
    tagged = pl.col("utm_campaign").is_not_null() | pl.col("utm_content").is_not_null()
    level = (pl.when(pl.col("link_match").is_not_null()).then(1).when(pl.col("link_match_2").is_not_null()).then(2)
             .when(pl.col("link_match_3").is_not_null()).then(3))
    picked = [pl.when(tagged & (level == 1)).then(pl.col(c)).when(tagged & (level == 2)).then(pl.col(f"{c}_2"))
              .when(tagged & (level == 3)).then(pl.col(f"{c}_3")).alias(c) for c in out]
    return matched.with_columns(picked).drop([f"{c}_{i}" for c in out for i in (2, 3)])


def classify_channel(rules: Attribution) -> pl.Expr:
    """A visit's channel from its first event's UTMs and referrer, by the documented rules in rules.yaml."""
    medium, host = pl.col("utm_medium"), pl.col("referrer_host")
    external = host.is_not_null() & ~host.str.contains(rules.own_hosts)
    return (pl.when(pl.col("influencer_id").is_not_null() | medium.is_in(rules.influencer_mediums)).then(pl.lit("influencer"))
            .when(medium.is_in(rules.paid_search_mediums)).then(pl.lit("paid_search"))
            .when(medium.is_in(rules.email_mediums)).then(pl.lit("email"))
            .when(medium.is_in(rules.social_mediums)).then(pl.lit("social_organic"))
            .when(external & host.str.contains(rules.search_hosts)).then(pl.lit("organic_search"))
            .when(external & host.str.contains(rules.social_hosts)).then(pl.lit("social_organic"))
            .when(external).then(pl.lit("referral"))
            .when(medium.is_not_null() | pl.col("utm_source").is_not_null()).then(pl.lit("other"))
            .otherwise(pl.lit("direct")))


def sessionize(events: pl.LazyFrame, timeout_minutes: int, browser: str = "anonymous_id") -> pl.LazyFrame:
    """Events → the same rows with `visit_number` per `browser` and `visit_seq`, one number per visit of the whole
    frame (a single integer key to group a visit's events by). A visit ends after `timeout_minutes` without an
    event (a gap of exactly the timeout starts a new visit), and an event tagged with a different utm_campaign than
    the one the visit is running under starts a new one (an untagged page view continues the current visit)."""
    # One sort, then only shifts and running sums over the whole frame: window expressions (`over`) per browser
    # hash millions of string keys once each and took 20 s on a 6 M-event night; this takes a few seconds.
    ordered = events.sort(browser, "event_at", "event_id")
    new_browser = (pl.col(browser) != pl.col(browser).shift(1)).fill_null(True)
    gap = pl.col("event_at") - pl.col("event_at").shift(1)
    timed_out = pl.col("_new_browser") | gap.is_null() | (gap >= pl.duration(minutes=timeout_minutes))
    # The campaign the visit runs under is the latest tag since the period started: a marker at each period's first
    # event (NUL, never a real tag) stops the forward fill from carrying a tag into the next period.
    tag = pl.col("utm_campaign")
    running = (pl.when(pl.col("_timed_out")).then(tag.fill_null("\x00")).otherwise(tag)
               .forward_fill().shift(1))
    running = pl.when(pl.col("_timed_out") | (running == "\x00")).then(None).otherwise(running)
    new_campaign = tag.is_not_null() & (running.is_null() | (tag != running))
    browser_first = pl.when(pl.col("_new_browser")).then(pl.col("visit_seq")).forward_fill()
    return (ordered.with_columns(_new_browser=new_browser)
            .with_columns(_timed_out=timed_out)
            # a running count never decreases: flagged sorted, grouping by it takes a third of the time
            .with_columns(visit_seq=(pl.col("_timed_out") | new_campaign).cum_sum().cast(pl.UInt32).set_sorted())
            .with_columns(visit_number=(pl.col("visit_seq") - browser_first + 1))
            .drop("_timed_out", "_new_browser"))


#: The columns describing a visit by its landing event, fetched by row number once the visits are known: carrying
#: them through the sort of every event costs more than the sort of the keys itself.
_LANDING = {"page_url": "landing_page_url", "page_path": "landing_page_path", "utm_source": "utm_source",
            "utm_medium": "utm_medium", "utm_content": "utm_content", "utm_term": "utm_term",
            "referrer_host": "referrer_host"}


def _sessionized_visits(events: pl.LazyFrame, first_date: date, last_date: date, timeout_minutes: int) -> pl.LazyFrame:
    """Events → one row per visit of every browser with an event dated in [first_date, last_date] (no other browser
    can start a visit there), with `_row`, the row number of its landing event in `events`."""
    # Each browser gets an integer `_browser`: sorting millions of events by it is a quarter of the cost of sorting
    # by the string id, and the join that numbers them also drops the browsers of no owned day.
    active = (events.filter(pl.col("event_at").dt.date().is_between(first_date, last_date))
              .select("anonymous_id").unique().with_row_index("_browser"))
    keys = (events.with_row_index("_row")
            .select("_row", "anonymous_id", "event_at", "event_id", "utm_campaign", "event_type", "customer_id",
                    "email_hash")
            .join(active, on="anonymous_id", how="inner"))
    return sessionize(keys, timeout_minutes, "_browser").group_by("visit_seq").agg(
        _row=pl.col("_row").first(), anonymous_id=pl.col("anonymous_id").first(),
        visit_started_at=pl.col("event_at").min(), visit_ended_at=pl.col("event_at").max(),
        utm_campaign=pl.col("utm_campaign").first(),
        events=pl.len().cast(pl.Int64), page_views=(pl.col("event_type") == "page_view").sum().cast(pl.Int64),
        has_signup=(pl.col("event_type") == "signup").any(), has_checkout=(pl.col("event_type") == "checkout").any(),
        customer_id=pl.col("customer_id").drop_nulls().first(), email_hash=pl.col("email_hash").drop_nulls().first(),
    )


def build_fct_visit(events: pl.LazyFrame, links: pl.LazyFrame, handles: pl.LazyFrame, first_date: date,
                    last_date: date, rules: Attribution) -> pl.LazyFrame:
    """stg_web_events (from windows.EVENT_LEAD_DAYS before `first_date` to `last_date`), stg_tracking_links and the
    account handles (stg_social_accounts) → one row per visit that started in [first_date, last_date]."""
    utms = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"]
    visits = _sessionized_visits(events, first_date, last_date, rules.session_timeout_minutes)
    landing = events.with_row_index("_row").select("_row", *_LANDING).rename(_LANDING)
    owned = (visits.filter(pl.col("visit_started_at").dt.date().is_between(first_date, last_date))
             .join(landing, on="_row", how="left"))
    return (match_tracking_links(owned, links, handles)
            .with_columns(channel=classify_channel(rules),
                          visit_date=pl.col("visit_started_at").dt.date(),
                          visit_id=pl.concat_str([pl.col("anonymous_id"), pl.lit("@"),
                                                  pl.col("visit_started_at").dt.epoch("ms").cast(pl.String)]))
            .select("visit_id", "anonymous_id", "visit_started_at", "visit_ended_at", "channel",
                    "influencer_id", "campaign_id", "link_id", "link_match", *utms, "referrer_host",
                    "landing_page_url", "landing_page_path", "events", "page_views", "has_signup", "has_checkout",
                    "customer_id", "email_hash", "visit_date")
            .sort("visit_date", "visit_id"))
