"""GA4 BigQuery export rows (raw ga4_events) → the columns of stg_web_events, so GA4 shops get the same visits,
journeys and attribution as shops running the site tracker.

Pure: a raw frame in, a frame out. The raw contract has already quarantined what cannot be staged (events other than
page_view, sign_up, generate_lead and purchase; rows without user_pseudo_id; malformed lines), so every clean row
becomes exactly one staged row, and rows in = published + quarantined holds for this source too.
"""
from __future__ import annotations

import uuid

import polars as pl

from influence_pipeline.transforms.staging.common import (
    LINEAGE,
    UTC_TS,
    UTM_PARAMS,
    blank_to_null,
    first_line_per_key,
    json_value,
    normalise_text,
    parsed_rows,
    to_int,
    url_host,
    url_path,
    utm_columns,
)

#: GA4 event name → stg_web_events.event_type. The raw contract's event_name enum admits exactly these keys.
EVENT_TYPES = {"page_view": "page_view", "sign_up": "signup", "generate_lead": "signup", "purchase": "checkout"}
#: The typed fields of an event parameter's value; exactly one holds it. All read as text: INT64 may arrive as a JSON
#: string anyway, and only text (URLs) is staged.
VALUE_FIELDS = ("string_value", "int_value", "float_value", "double_value")
_PARAMS = pl.List(pl.Struct({"key": pl.String, "value": pl.Struct({f: pl.String for f in VALUE_FIELDS})}))
_CHUNK = 20_000  # rows decoded at once; a chunk holding an oddly shaped row is decoded again row by row
#: collected_traffic_source fields (raw columns) in UTM_PARAMS order: utm_source, medium, campaign, content, term.
COLLECTED_UTMS = ("collected_manual_source", "collected_manual_medium", "collected_manual_campaign_name",
                  "collected_manual_content", "collected_manual_term")
#: Namespace of the derived event ids. Never change it: the ids of every GA4 event already staged would change.
EVENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://influence-pipeline/ga4_events")
#: The raw columns an event's id is derived from: the raw contract's primary key, in its order.
EVENT_KEY = ("user_pseudo_id", "event_timestamp", "event_name", "batch_page_id", "batch_ordering_id",
             "batch_event_index")


def _uuid5_series(keys: pl.Series) -> pl.Series:
    return pl.Series(keys.name, [str(uuid.uuid5(EVENT_ID_NAMESPACE, k)) for k in keys.to_list()], dtype=pl.String)


def event_id(columns: tuple[str, ...] = EVENT_KEY) -> pl.Expr:
    """A stable event id: UUID5 of the event's key (user_pseudo_id, event_timestamp, event_name and the three batch
    ids), each trimmed, a missing one as empty text. The same event exported again — GA4 rewrites a daily table for
    three days — gets the same id, whether its INT64 values came as JSON strings or numbers (ingestion writes both
    as the same digits). The key is compared exactly as the raw contract's primary-key rule compares it (trimmed
    text), so two clean rows never share an id and staging drops none: two events GA4 itself cannot tell apart are
    one event, and the key rule has already quarantined the extra copy with its reason."""
    parts = [pl.col(c).str.strip_chars().fill_null("") for c in columns]
    key = pl.concat_str([pl.lit("ga4"), *parts], separator="|")
    return key.map_batches(_uuid5_series, return_dtype=pl.String)


def _decode_params(texts: pl.Series) -> pl.Series:
    """event_params JSON text → list of {key, value}. Polars' own decoder runs first, on chunks: it is ~25× faster
    than decoding row by row, but fails a whole chunk on one oddly shaped row, so only a failing chunk is decoded
    row by row (json_value: an odd row becomes null instead)."""
    chunks = []
    for start in range(0, len(texts), _CHUNK):
        chunk = texts.slice(start, _CHUNK)
        try:
            decoded = chunk.str.json_decode(_PARAMS)
        except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
            decoded = None
        # Polars reads the chunk like NDJSON: a text that is not exactly one JSON value ("") would shift the rows.
        # Ingestion writes each value back as one JSON document, so this only guards against hand-made raw rows.
        if decoded is None or len(decoded) != len(chunk):
            decoded = chunk.to_frame().select(json_value(pl.col(chunk.name), _PARAMS)).to_series()
        chunks.append(decoded)
    return pl.concat(chunks) if chunks else pl.Series(texts.name, [], dtype=_PARAMS)


def micros_to_utc(text: pl.Expr) -> pl.Expr:
    """INT64 microseconds since the epoch (as text) → UTC timestamp, microseconds kept."""
    micros = pl.coalesce(text.str.strip_chars().cast(pl.Int64, strict=False), to_int(text))
    return pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC").cast(UTC_TS)


def event_param(params: pl.Expr, key: str) -> pl.Expr:
    """The value of event parameter `key` as text, from whichever typed field holds it; null when absent. `params` is
    the decoded event_params list (a repeated key is read at its first occurrence)."""
    entry = params.list.eval(pl.element().filter(pl.element().struct.field("key") == key)).list.first()
    value = entry.struct.field("value")
    return pl.coalesce([value.struct.field(f) for f in VALUE_FIELDS])


def _no_placeholder(text: pl.Expr) -> pl.Expr:
    """GA4 writes "(not set)", "(none)", "(direct)" where it has no value: null, like an absent UTM."""
    return pl.when(~text.str.contains(r"^\(.*\)$")).then(text)


def ga4_utm_columns(url: pl.Expr) -> list[pl.Expr]:
    """utm_* of a GA4 event: those of its page URL when the URL has any UTM (the URL is what the visitor clicked;
    GA4 derives collected_traffic_source from it); otherwise all five from collected_traffic_source, which holds
    UTMs GA4 collected another way (a tagged link on a redirect, the campaign set in the tag). Never mixed: a
    utm_source from the URL next to a campaign from elsewhere would describe no link. Values are trimmed and
    lower-cased as the URL's are; GA4 has already decoded them, so they are not %-decoded again."""
    from_url = [pl.col(f"__url_{p}") for p in UTM_PARAMS]
    url_tagged = pl.any_horizontal([c.is_not_null() for c in from_url])
    collected = [_no_placeholder(normalise_text(pl.col(c))) for c in COLLECTED_UTMS]
    return [pl.when(url_tagged).then(u).otherwise(c).alias(p) for u, c, p in zip(from_url, collected, UTM_PARAMS)]


def stage_ga4_events(raw: pl.LazyFrame) -> pl.LazyFrame:
    """Clean raw ga4_events rows → stg_web_events rows without landing_date, in its column order, one per event (a
    repeated event id is kept once, the first line wins).

    event_at from event_timestamp (microseconds, UTC); anonymous_id = user_pseudo_id; event_type by EVENT_TYPES;
    page_url and referrer from the page_location and page_referrer parameters, page_url as sent (UTMs GA4 collected
    elsewhere fill the utm_* columns, not the URL: see ga4_utm_columns); order_id = ecommerce.transaction_id and
    customer_id = user_id when all digits, both on checkout events only ("(not set)" is null). user_agent, ip_hash
    and email_hash are null: GA4 exports no user-agent string, IP address or email."""
    params = pl.col("__params")
    url = event_param(params, "page_location").str.strip_chars()
    referrer = blank_to_null(event_param(params, "page_referrer"))
    event_type = pl.col("event_name").str.strip_chars().replace_strict(EVENT_TYPES, default=None,
                                                                       return_dtype=pl.String)
    checkout = event_type == "checkout"
    user_id, transaction = pl.col("user_id").str.strip_chars(), _no_placeholder(
        blank_to_null(pl.col("ecommerce_transaction_id")))
    none = pl.lit(None, dtype=pl.String)
    decoded = parsed_rows(raw).with_columns(
        __params=pl.col("event_params").map_batches(_decode_params, return_dtype=_PARAMS))
    with_url = decoded.with_columns(__page_url=url, __referrer=referrer)
    with_utms = with_url.with_columns(utm_columns(pl.col("__page_url"), prefix="__url_"))
    staged = with_utms.select(
        event_id().alias("event_id"), micros_to_utc(pl.col("event_timestamp")).alias("event_at"),
        pl.col("user_pseudo_id").str.strip_chars().alias("anonymous_id"), event_type.alias("event_type"),
        pl.col("__page_url").alias("page_url"), url_host(pl.col("__page_url")).alias("page_host"),
        url_path(pl.col("__page_url")).alias("page_path"), *ga4_utm_columns(pl.col("__page_url")),
        pl.col("__referrer").alias("referrer"), url_host(pl.col("__referrer")).alias("referrer_host"),
        none.alias("user_agent"), none.alias("ip_hash"),
        pl.when(checkout & user_id.str.contains(r"^[0-9]+$")).then(user_id).alias("customer_id"),
        pl.when(checkout).then(transaction).alias("order_id"), none.alias("email_hash"),
        *LINEAGE,
    )
    return first_line_per_key(staged, "event_id")
