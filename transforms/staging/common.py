"""Parsing and cleaning expressions shared by the staging models. Pure: expressions and frames in, frames out."""
from __future__ import annotations

import json
import re
from urllib.parse import unquote_plus

import polars as pl

UTC_TS = pl.Datetime("us", "UTC")
MONEY = pl.Decimal(18, 2)
UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
LINEAGE = ("_source_file", "_row_number")

#: What humans and exports call each platform, mapped to the house name.
PLATFORM_ALIASES = {
    "instagram": "instagram", "ig": "instagram", "insta": "instagram",
    "tiktok": "tiktok", "tik tok": "tiktok", "tt": "tiktok",
    "youtube": "youtube", "yt": "youtube", "you tube": "youtube",
}


def parsed_rows(raw: pl.LazyFrame) -> pl.LazyFrame:
    """Rows whose line could be parsed; unparseable lines are the quarantine's, not staging's."""
    return raw.filter(pl.col("_parse_error").is_null())


def to_utc(text: pl.Expr) -> pl.Expr:
    """ISO-8601 text with any offset style ("+0000", "-05:00", "Z") → UTC timestamp; unparseable → null."""
    normalised = text.str.strip_chars().str.replace(r"[Zz]$", "+00:00")
    return normalised.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_zone="UTC").cast(UTC_TS)


def from_unix_seconds(text: pl.Expr) -> pl.Expr:
    return pl.from_epoch(to_int(text), time_unit="s").dt.replace_time_zone("UTC").cast(UTC_TS)


def to_date(text: pl.Expr) -> pl.Expr:
    return text.str.strip_chars().str.to_date("%Y-%m-%d", strict=False)


def to_int(text: pl.Expr) -> pl.Expr:
    """Integer text → Int64. JSON may render a whole number as "12.0"; anything else unparseable → null."""
    as_float = text.str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(as_float == as_float.round(0)).then(as_float).cast(pl.Int64, strict=False)


def to_float(text: pl.Expr) -> pl.Expr:
    """Decimal text → Float64. Unparseable, NaN, ±infinity (also 1e309, which overflows to it) and magnitudes of 1e16
    and more → null: no amount or rate is that, and an amount that large would not fit staging's decimal(18,2), so
    the raw contract's type rule quarantines the row instead of a mart finding a null later."""
    value = text.str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(value.abs() < 1e16).then(value)


#: Plain decimal text: sign, whole digits, fraction digits (at least one digit in all).
_PLAIN_DECIMAL = r"^([+-]?)([0-9]*)(?:\.([0-9]*))?$"


def to_money(text: pl.Expr) -> pl.Expr:
    """Decimal text → decimal(18,2), rounded to the cent half away from zero ("12.345" → 12.35, "-12.345" → -12.35,
    "1.005" → 1.01), exactly: the digits are rounded as text, never through a float. What to_float accepts is
    accepted (the raw contract checks money with it): also exponent forms ("1.2345e1"), expanded to plain digits
    first. Unparseable, NaN, infinite or beyond decimal(18,2) → null."""
    stripped = text.str.strip_chars()
    # Polars' own cast rounds half to even (12.345 → 12.34), so it only spells exponent forms out, to 20 places.
    plain = (pl.when(stripped.str.contains(_PLAIN_DECIMAL)).then(stripped)
             .otherwise(stripped.cast(pl.Decimal(38, 20), strict=False).cast(pl.String)))
    parts = plain.str.extract_groups(_PLAIN_DECIMAL)
    sign, whole, fraction = (parts.struct.field(f) for f in ("1", "2", "3"))
    thousandths = pl.concat_str([fraction.fill_null(""), pl.lit("000")]).str.slice(0, 3)
    # Half away from zero needs only the third decimal: 0.005 and 0.0050001 both round up, 0.0049999 down.
    cents = (pl.concat_str([pl.lit("0"), whole, thousandths.str.slice(0, 2)]).cast(pl.Int64, strict=False)
             + (thousandths.str.slice(2, 1) >= "5").cast(pl.Int64))
    digits = cents.cast(pl.String).str.zfill(3)
    unsigned = pl.concat_str([digits.str.slice(0, digits.str.len_chars() - 2), pl.lit("."), digits.str.slice(-2)])
    signed = pl.when((sign == "-") & (cents > 0)).then(pl.concat_str([pl.lit("-"), unsigned])).otherwise(unsigned)
    has_digit = whole.str.len_chars() + fraction.fill_null("").str.len_chars() > 0
    return pl.when(has_digit).then(signed).cast(MONEY, strict=False)


def to_bool(text: pl.Expr) -> pl.Expr:
    lowered = text.str.strip_chars().str.to_lowercase()
    return (pl.when(lowered.is_in(["true", "1", "yes"])).then(True)
            .when(lowered.is_in(["false", "0", "no"])).then(False))


#: A count's shape once spaces and apostrophes are unified: optional "~", digits with separators, an optional K/M/B
#: suffix, an optional trailing "+" ("10K+": at least ten thousand, counted as ten thousand).
_COUNT_SHAPE = r"^~? ?([0-9](?:[0-9., ']*[0-9])?) ?([KMB]?) ?\+?$"
_MULTIPLIER = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9}


def _grouped(number: pl.Expr, separator: str) -> pl.Expr:
    """Digits in thousands groups: 1 to 3 digits, then groups of exactly 3 (1,234,567 / 1.234.567 / 1 234 567)."""
    return number.str.contains(rf"^[0-9]{{1,3}}(?:{re.escape(separator)}[0-9]{{3}})+$")


def _digits(number: pl.Expr) -> pl.Expr:
    return number.str.replace_all(r"[^0-9]", "")


def abbreviated_count(text: pl.Expr) -> pl.Expr:
    """Human-typed counts → Int64: "950", "12,345", "1.234.567", "1 234 567", "1'234'567", "12.5K", "12,5k+",
    "1,2M", "3B". Unreadable or ambiguous → null, never a guess.

    How a separator is read:
    * Spaces (any: no-break, narrow no-break) and apostrophes only ever separate thousands.
    * "," or "." followed by groups of exactly three digits separates thousands ("1,234", "1.234.567"); Indian
      grouping ("12,34,567") too.
    * Otherwise the last "," or "." is the decimal mark, and the other one (if any) separates thousands:
      "12,5K" = 12.5K, "1,234.5K" = 1234.5K, "1.234,5K" = 1234.5K.
    * A single "," or "." before exactly three digits with a suffix ("1,234K", "1.500K") is ambiguous — 1.234K or
      1234K, ×1000 apart — and so is any "," or "." thousands grouping with a suffix: null.
    * Without a suffix a count is whole: "12.5" (a forgotten K?) and "1,234.5" are null; "1,234.00" is 1234.
    Placeholders ("N/A", "-", "—", "?") and anything else ("12x", "1.5KK", "lots") are null: the raw contract's
    rule reports them."""
    unified = (text.str.strip_chars().str.replace_all(r"\s+", " ").str.replace_all(r"[’‘`´]", "'")
               .str.to_uppercase())
    parts = unified.str.extract_groups(_COUNT_SHAPE)
    number, suffix = parts.struct.field("1"), parts.struct.field("2")
    has_suffix = suffix != ""
    comma_or_dot = _grouped(number, ",") | _grouped(number, ".") | number.str.contains(
        r"^[0-9]{1,2}(?:,[0-9]{2})+,[0-9]{3}$")  # Indian lakh grouping
    whole = (number.str.contains(r"^[0-9]+$") | _grouped(number, " ") | _grouped(number, "'")
             | (comma_or_dot & ~has_suffix))
    decimal = number.str.extract_groups(r"^(.*)([.,])([0-9]+)$")
    int_part, mark, fraction = (decimal.struct.field(f) for f in ("1", "2", "3"))
    other_grouping = pl.when(mark == ".").then(_grouped(int_part, ",")).otherwise(_grouped(int_part, "."))
    int_ok = (int_part.str.contains(r"^[0-9]+$") | _grouped(int_part, " ") | _grouped(int_part, "'")
              | other_grouping)
    is_decimal = ~whole & ~comma_or_dot & int_ok & fraction.is_not_null()
    multiplier = suffix.replace_strict(_MULTIPLIER, default=None, return_dtype=pl.Float64)
    as_float = (pl.when(whole).then(_digits(number))
                .when(is_decimal).then(pl.concat_str([_digits(int_part), pl.lit("."), fraction]))
                ).cast(pl.Float64, strict=False)
    # Without a suffix, whole digits are read as an integer (exact beyond 2^53); with one, rounded to a follower.
    exact = (pl.when(whole).then(_digits(number))
             .when(is_decimal & fraction.str.contains(r"^0+$")).then(_digits(int_part))).cast(pl.Int64, strict=False)
    scaled = (as_float * multiplier).round(0).cast(pl.Int64, strict=False)  # beyond Int64 → null, not a crash
    return pl.when(has_suffix).then(scaled).otherwise(exact)


def _unquote_plus_series(values: pl.Series) -> pl.Series:
    # Few distinct UTM values repeat over millions of events: decode each distinct value once.
    distinct = values.drop_nulls().unique().to_list()
    return values.replace_strict({v: unquote_plus(v) for v in distinct}, default=None, return_dtype=pl.String)


def url_decode(text: pl.Expr) -> pl.Expr:
    """%-decoding with "+" as a space, as browsers encode query strings."""
    return text.map_batches(_unquote_plus_series, return_dtype=pl.String)


def blank_to_null(text: pl.Expr) -> pl.Expr:
    """Trimmed; empty becomes null (exports write "" and null for the same absence)."""
    # Tested on the length, not by `replace("", None)`: the streaming engine cannot stream `replace` and held a whole
    # column (every column, in the check of a raw batch: twice the batch) to apply it; this streams, and in memory it
    # is as small and faster (5 text columns of 3 M web events: 2.8 s against 4.8 s).
    trimmed = text.str.strip_chars()
    return pl.when(trimmed.str.len_bytes() == 0).then(pl.lit(None, dtype=pl.String)).otherwise(trimmed)


def normalise_text(text: pl.Expr) -> pl.Expr:
    """Trimmed and lower-cased; empty becomes null."""
    return blank_to_null(text).str.to_lowercase()


def query_param(url: pl.Expr, name: str) -> pl.Expr:
    """One query-string parameter of a URL, matched case-insensitively, %-decoded, trimmed and lower-cased."""
    return normalise_text(url_decode(url.str.extract(rf"(?i)[?&]{name}=([^&#]*)", 1)))


def utm_columns(url: pl.Expr, prefix: str = "") -> list[pl.Expr]:
    return [query_param(url, p).alias(f"{prefix}{p}") for p in UTM_PARAMS]


def url_host(url: pl.Expr) -> pl.Expr:
    return url.str.extract(r"^[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#:]+)", 1).str.to_lowercase()


def url_path(url: pl.Expr) -> pl.Expr:
    """Path of an absolute or site-relative URL, without the query string."""
    return url.str.replace(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*", "").str.extract(r"^([^?#]*)", 1)


def platform_name(text: pl.Expr) -> pl.Expr:
    return normalise_text(text).replace_strict(PLATFORM_ALIASES, default=None, return_dtype=pl.String)


def first_line_per_key(frame: pl.LazyFrame, key: str) -> pl.LazyFrame:
    """One row per `key`: the one of the earliest line (`_row_number`), rows in line order."""
    # A batch comes from the check in line order, and then the first row of each key is kept as the rows stream
    # past: a day of profile-XL web events (22 M rows) is never held. Sorting first, which the streaming engine
    # cannot do as they pass, held the staged day (about 10 GiB) at once. The order is checked, not assumed.
    line = pl.col("_row_number")
    if frame.select((line < line.shift()).any()).collect(engine="streaming").item():
        return frame.sort("_row_number").unique(subset=[key], keep="first", maintain_order=True)
    return frame.filter(pl.col(key).is_first_distinct())


def latest_per_key(frame: pl.LazyFrame, keys: list[str], order_by: list[str]) -> pl.LazyFrame:
    """Keep one row per key: the last by `order_by`, ties broken by the later line in the file, so the result does
    not depend on row order."""
    ordering = [*order_by, "_row_number"]
    return (frame.sort([*keys, *ordering], nulls_last=False)
            .group_by(keys, maintain_order=True).last()
            .select(frame.collect_schema().names()))


def with_landing_date(frame: pl.LazyFrame, landing_date) -> pl.LazyFrame:
    return frame.with_columns(pl.lit(landing_date, dtype=pl.Date).alias("landing_date"))


def _conforms(value: object, dtype: pl.DataType) -> bool:
    if value is None:
        return True
    if isinstance(dtype, pl.List):
        return isinstance(value, list) and all(_conforms(v, dtype.inner) for v in value)
    if isinstance(dtype, pl.Struct):
        return isinstance(value, dict) and all(_conforms(value.get(f.name), f.dtype) for f in dtype.fields)
    return not isinstance(value, (list, dict))


def _built(name: str, values: list, dtype: pl.DataType) -> pl.Series:
    """`values` as a Series of `dtype`, cast leniently; a value Polars cannot build among the others (a number
    where text belongs beside text, an integer past 128 bits) becomes null on its own instead of failing the batch."""
    try:
        return pl.Series(name, values, dtype=dtype, strict=False)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        pass
    built = []
    for value in values:
        try:
            built.append(pl.Series(name, [value], dtype=dtype, strict=False))
        except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
            built.append(pl.Series(name, [None], dtype=dtype))
    return pl.concat(built) if built else pl.Series(name, [], dtype=dtype)


def _decode_series(values: pl.Series, dtype: pl.DataType) -> pl.Series:
    """Each distinct text is decoded and built once, then spread back over its rows: most orders carry the same
    `[]`, and building nested values from Python objects cost 0.6 s for one column of 15 000 orders."""
    distinct = values.unique(maintain_order=True)
    decoded = []
    for text in distinct.to_list():
        try:
            value = json.loads(text) if text is not None else None
        except json.JSONDecodeError:
            value = None
        decoded.append(value if _conforms(value, dtype) else None)
    built = _built(values.name, decoded, dtype)
    positions = values.to_frame("text").join(
        pl.DataFrame({"text": distinct, "position": pl.int_range(len(distinct), eager=True, dtype=pl.UInt32)}),
        on="text", how="left", nulls_equal=True, maintain_order="left")["position"]
    return built.gather(positions).alias(values.name)


def json_value(text: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """JSON text → `dtype`; a value of another shape becomes null instead of failing the whole batch (Polars'
    json_decode raises on the first odd row, and dirty exports have odd rows)."""
    return text.map_batches(lambda s: _decode_series(s, dtype), return_dtype=dtype)
