"""Pseudonymisation of personal data: a keyed HMAC-SHA256 of the normalised value."""
from __future__ import annotations

import hashlib
import hmac

import polars as pl


def _hmac_series(values: pl.Series, key: bytes) -> pl.Series:
    # Hash each distinct value once: emails and IPs repeat across events, and HMAC is Python-level work.
    normalised = values.str.strip_chars().str.to_lowercase()
    distinct = normalised.drop_nulls().unique().to_list()
    digests = {v: hmac.new(key, v.encode(), hashlib.sha256).hexdigest() for v in distinct if v}
    return normalised.replace_strict(digests, default=None, return_dtype=pl.String)


def pseudonymise(frame: pl.DataFrame, columns: dict[str, str], key: bytes) -> pl.DataFrame:
    """Return `frame` with each clear PII column `src` replaced by `dst` holding HMAC-SHA256(key, trim(lower(src)))
    in hex; empty values hash to null. Same key and value give the same hash, so hashed columns still join."""
    if not key:
        raise ValueError("an empty PII key would make the hashes reversible by brute force")
    hashed = [_hmac_series(frame.get_column(src), key).alias(dst) for src, dst in columns.items()]
    return frame.with_columns(hashed).drop([s for s in columns if s not in columns.values()])
