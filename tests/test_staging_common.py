"""The shared parsing expressions of the staging layer, on tiny inline frames."""
from datetime import datetime, timezone
from decimal import Decimal

import polars as pl

from transforms.staging.common import (
    abbreviated_count, json_value, latest_per_key, platform_name, to_int, to_money, to_utc, url_host, url_path,
    utm_columns,
)


def _eval(expr: pl.Expr, values: list) -> list:
    return pl.DataFrame({"v": values}, schema={"v": pl.String}).select(expr.alias("out"))["out"].to_list()


def test_abbreviated_counts_as_humans_type_them():
    assert _eval(abbreviated_count(pl.col("v")), ["950", "12.5K", "1.2M", "1,234", " 3b ", "12x", None, "1.5KK"]) == [
        950, 12500, 1200000, 1234, 3000000000, None, None, None]


def test_timestamps_with_every_offset_style_become_utc():
    got = _eval(to_utc(pl.col("v")), ["2026-10-30T18:21:07+0000", "2026-11-01T10:30:00-05:00",
                                       "2026-11-01T10:22:03.123Z", "2026-11-01", "yesterday"])
    utc = timezone.utc
    assert got[:3] == [datetime(2026, 10, 30, 18, 21, 7, tzinfo=utc), datetime(2026, 11, 1, 15, 30, tzinfo=utc),
                       datetime(2026, 11, 1, 10, 22, 3, 123000, tzinfo=utc)]
    assert got[3:] == [None, None]


def test_integers_accept_whole_floats_and_reject_junk():
    assert _eval(to_int(pl.col("v")), ["12", "12.0", "-3", "12.5", "12x", ""]) == [12, 12, -3, None, None, None]


def test_money_is_exact_to_the_cent():
    assert _eval(to_money(pl.col("v")), ["59.90", "0.1", "abc"]) == [Decimal("59.90"), Decimal("0.10"), None]


def test_utm_parameters_are_decoded_trimmed_and_lower_cased():
    frame = pl.DataFrame({"url": ["https://s.example.com/?UTM_SOURCE=Instagram%20&utm_campaign=Winter+Glow&utm_content=a%2Bb",
                                  "/products/x?utm_medium=influencer#top", "https://s.example.com/"]})
    got = frame.select(utm_columns(pl.col("url"))).to_dicts()
    assert got[0] == {"utm_source": "instagram", "utm_medium": None, "utm_campaign": "winter glow",
                      "utm_content": "a+b", "utm_term": None}
    assert got[1]["utm_medium"] == "influencer"
    assert set(got[2].values()) == {None}


def test_url_parts():
    urls = ["https://L.Instagram.com/x?y=1", "/products/serum?utm_source=a", ""]
    assert _eval(url_host(pl.col("v")), urls) == ["l.instagram.com", None, None]
    assert _eval(url_path(pl.col("v")), urls) == ["/x", "/products/serum", ""]


def test_platform_aliases():
    assert _eval(platform_name(pl.col("v")), ["Instagram", " IG", "TT", "YT", "myspace"]) == [
        "instagram", "instagram", "tiktok", "youtube", None]


def test_latest_per_key_ignores_input_order():
    rows = {"k": ["a", "a", "b", "a"], "ts": [2, 3, 1, 3], "_row_number": [1, 2, 3, 4], "v": ["x", "y", "z", "w"]}
    forward = latest_per_key(pl.LazyFrame(rows), ["k"], ["ts"]).collect()
    backward = latest_per_key(pl.LazyFrame(rows).reverse(), ["k"], ["ts"]).collect()
    assert forward.to_dicts() == backward.to_dicts()
    assert forward.sort("k")["v"].to_list() == ["w", "z"]
    assert forward.columns == ["k", "ts", "_row_number", "v"]


def test_json_value_nulls_odd_shapes_instead_of_failing():
    dtype = pl.List(pl.Struct({"code": pl.String, "amount": pl.String}))
    got = _eval(json_value(pl.col("v"), dtype), ['[{"code":"A","amount":"1.00"}]', '"JANE15"', "[1,2]", "{", None])
    assert got == [[{"code": "A", "amount": "1.00"}], None, None, None, None]
