"""Which raw rows belong to a person who asked to be erased: frames of raw rows in, identifier digests and row masks
out. No I/O: the erasure log and the landing files are read and written by influence_pipeline.erasure*.

A person is known by three kinds of identifier — e-mail, shop customer id, site-tracker anonymous id — and a row
carrying any of them links the others it carries (an order links an e-mail to a customer id, a checkout event a
customer id to a device). Identifiers are compared as digests: HMAC(erasure key, ingest hash of the normalised
value), so the erasure log never holds a value the lake holds, clear or hashed.
"""
from __future__ import annotations

import hashlib
import hmac

import polars as pl

from influence_pipeline.transforms.pii import pseudonymise

ERASED_REASON = "erased on request"
KINDS = ("email", "customer_id", "anonymous_id")

#: Raw columns carrying a person's identifiers, per raw dataset. E-mail columns already hold the ingest hash; the
#: ids arrive in clear (they are no contact data, but they are the person's keys).
PERSON_COLUMNS: dict[str, dict[str, str]] = {
    "esp_signups": {"email_hash": "email", "anonymous_id": "anonymous_id"},
    "web_events": {"email_hash": "email", "customer_id": "customer_id", "anonymous_id": "anonymous_id"},
    "shopify_orders": {"email_hash": "email", "customer_email_hash": "email", "customer_id": "customer_id"},
    "shopify_order_nodes": {"email_hash": "email", "customer_email_hash": "email", "customer_id": "customer_id"},
    "ga4_events": {"user_id": "customer_id", "user_pseudo_id": "anonymous_id"},
}
_METADATA = ("_source_file", "_row_number", "_run_id")
_WORD = r'[^\s",:;{}\[\]<>=&?/]+'  # what an identifier cannot hold: JSON, CSV and URL punctuation


def erasure_key(pii_key: bytes) -> bytes:
    """The key of the erasure digests, derived from the PII key: a digest in the log matches no lake column."""
    return hmac.new(pii_key, b"influence-pipeline erasure log", hashlib.sha256).digest()


def _normalised_id(values: pl.Expr, kind: str) -> pl.Expr:
    """A customer id as staging keys it (`gid://shopify/Customer/42` and `42` are one customer; GA4's user_id is a
    customer id only when all digits); an anonymous id as delivered. Ingest hashing trims and lower-cases."""
    if kind != "customer_id":
        return values
    trimmed = values.str.strip_chars()
    return (pl.when(trimmed.str.starts_with("gid://"))
            .then(trimmed.str.extract(r"^gid://shopify/\w+/([0-9]+)", 1))
            .when(trimmed.str.contains(r"^[0-9]+$")).then(trimmed))


def _ingest_hash(values: pl.Series, kind: str, pii_key: bytes) -> pl.Series:
    """The hash ingest gives a clear value (e-mail columns arrive hashed already)."""
    if kind == "email":
        return values
    frame = pl.DataFrame({"v": values}).select(_normalised_id(pl.col("v"), kind))
    return pseudonymise(frame, {"v": "v"}, pii_key).get_column("v")


def value_digest(value: str, kind: str, pii_key: bytes) -> str | None:
    """The erasure digest of one clear identifier of `kind` (None: it normalises to nothing, e.g. `gid://x`)."""
    column = "email_hash" if kind == "email" else "v"
    frame = pl.DataFrame({"v": [value]})
    if kind == "email":
        frame = pseudonymise(frame, {"v": column}, pii_key)
    return digests(frame, {column: kind}, pii_key).get_column("digest").first()


def digests(frame: pl.DataFrame, columns: dict[str, str], pii_key: bytes) -> pl.DataFrame:
    """One row per non-null identifier in `frame`'s `columns` (column → kind): `_row`, its row index in `frame`,
    `kind` and `digest`."""
    key = erasure_key(pii_key)
    parts = []
    for column, kind in columns.items():
        hashed = _ingest_hash(frame.get_column(column), kind, pii_key)
        distinct = hashed.drop_nulls().unique().to_list()
        table = {v: hmac.new(key, v.encode(), hashlib.sha256).hexdigest() for v in distinct}
        parts.append(pl.DataFrame({"_row": pl.int_range(frame.height, eager=True, dtype=pl.UInt32),
                                   "digest": hashed.replace_strict(table, default=None, return_dtype=pl.String)})
                     .drop_nulls("digest").with_columns(kind=pl.lit(kind)))
    empty = pl.DataFrame(schema={"_row": pl.UInt32, "digest": pl.String, "kind": pl.String})
    return pl.concat([empty, *parts]).select("_row", "kind", "digest")


def row_digests(raw: pl.DataFrame, dataset: str, pii_key: bytes) -> pl.DataFrame:
    """The identifier digests of every row of `dataset`'s raw table `raw` (none for a dataset without persons)."""
    return digests(raw, {c: k for c, k in PERSON_COLUMNS.get(dataset, {}).items() if c in raw.columns}, pii_key)


def linked_digests(rows: pl.DataFrame, seed: set[str]) -> set[str]:
    """`seed` and every digest linked to it through rows that carry two identifiers, to the fixed point. `rows`:
    `row` (any key unique per raw row across datasets) and `digest`."""
    known = set(seed)
    while True:
        matched = rows.filter(pl.col("digest").is_in(list(known))).get_column("row").unique()
        found = set(rows.filter(pl.col("row").is_in(matched.implode())).get_column("digest").to_list())
        if found <= known:
            return known
        known |= found


def _raw_line_hits(raw: pl.DataFrame, erased: set[str], pii_key: bytes) -> pl.Series:
    """Row indices of unparseable lines (fields null, the masked line kept) holding an erased identifier as one of
    their words. An e-mail, a device id and a numeric customer id hash alike once normalised, so each word is
    hashed once, as a device id."""
    if "_raw_line" not in raw.columns:
        return pl.Series("_row", [], pl.UInt32)
    words = raw.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("line"),
                       pl.col("_raw_line").str.extract_all(_WORD).alias("word")).explode("word").drop_nulls("word")
    hits = digests(words, {"word": "anonymous_id"}, pii_key).filter(pl.col("digest").is_in(list(erased)))
    return words.get_column("line").gather(hits.get_column("_row"))


def person_mask(raw: pl.DataFrame, dataset: str, erased: set[str], pii_key: bytes) -> pl.Series:
    """For each row of `raw`, whether it carries one of the `erased` digests (in a field, or as a word of an
    unparseable line)."""
    if not erased or dataset not in PERSON_COLUMNS:
        return pl.Series("erased", [False] * raw.height, pl.Boolean)
    hits = row_digests(raw, dataset, pii_key).filter(pl.col("digest").is_in(list(erased))).get_column("_row")
    hits = pl.concat([hits, _raw_line_hits(raw, erased, pii_key)])
    return pl.int_range(raw.height, eager=True, dtype=pl.UInt32).is_in(hits.implode()).alias("erased")


def mark_erased(raw: pl.DataFrame, mask: pl.Series) -> pl.DataFrame:
    """`raw` with the masked rows emptied: every field null, no raw line, `_parse_error` = ERASED_REASON, so the
    night quarantines them (rows in = published + quarantined) holding nothing of the person but a line number."""
    fields = [c for c in raw.columns if c not in (*_METADATA, "_parse_error", "_raw_line")]
    blank = [pl.when(mask).then(pl.lit(None, raw.schema[c])).otherwise(pl.col(c)).alias(c) for c in fields]
    return raw.with_columns(
        *blank,
        pl.when(mask).then(pl.lit(None, pl.String)).otherwise(pl.col("_raw_line")).alias("_raw_line"),
        pl.when(mask).then(pl.lit(ERASED_REASON)).otherwise(pl.col("_parse_error")).alias("_parse_error"))
