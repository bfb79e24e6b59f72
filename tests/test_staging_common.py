"""The shared parsing expressions of the staging layer, on tiny inline frames."""
import csv
import io
from datetime import datetime, timezone
from decimal import Decimal
from importlib.resources import files

import polars as pl

from influence_pipeline.transforms.staging.common import (
    abbreviated_count,
    json_value,
    latest_per_key,
    platform_name,
    to_int,
    to_money,
    to_utc,
    url_host,
    url_path,
    utm_columns,
)
from influence_pipeline.transforms.staging.countries import alpha_2_codes, country_code


def _eval(expr: pl.Expr, values: list) -> list:
    return pl.DataFrame({"v": values}, schema={"v": pl.String}).select(expr.alias("out"))["out"].to_list()


#: Follower counts as people type them into a CRM, and what they mean. None: unreadable or ambiguous — null (and a
#: warning from the raw contract's rule), never a guess that could be ×10 or ×1000 off.
TYPED_COUNTS = [
    # plain and abbreviated
    ("950", 950), ("0", 0), ("007", 7), ("12.5K", 12_500), ("12.5k", 12_500), ("1.2M", 1_200_000),
    ("1.2m", 1_200_000), (" 3b ", 3_000_000_000), ("3B", 3_000_000_000), ("12 K", 12_000), ("0,5M", 500_000),
    # decimal comma (European): was read as 125 000 and 12 000 000
    ("12,5K", 12_500), ("1,2M", 1_200_000), ("12,34K", 12_340),
    # thousands separators: comma, dot, spaces (ordinary, no-break, narrow no-break), apostrophes, Indian lakh
    ("1,234", 1_234), ("1.234", 1_234), ("1,000,000", 1_000_000), ("1.234.567", 1_234_567),
    ("1 234 567", 1_234_567), ("1\u00a0234\u00a0567", 1_234_567), ("1\u202f234\u202f567", 1_234_567),
    ("1'234'567", 1_234_567), ("1\u2019234\u2019567", 1_234_567), ("12 500", 12_500), ("12,34,567", 1_234_567),
    # mixed separators: the last one is the decimal mark
    ("1,234.5K", 1_234_500), ("1.234,5K", 1_234_500), ("1 234,5K", 1_234_500), ("1,234.00", 1_234),
    # "at least" and "about"
    ("12.5k+", 12_500), ("12.5K+", 12_500), ("10K+", 10_000), ("1000+", 1_000), ("~12K", 12_000),
    # placeholders and blanks
    ("N/A", None), ("n/a", None), ("-", None), ("\u2014", None), ("", None), ("?", None), (None, None),
    # ambiguous: one separator before exactly three digits, with a suffix (1.234K or 1234K?)
    ("1,234K", None), ("1.500K", None), ("1.234.567K", None),
    # a count is whole: a fraction without suffix is a forgotten K or a typo, not 12 followers
    ("12.5", None), ("1,234.5", None), ("12,34", None),
    # junk
    ("12x", None), ("1.5KK", None), ("lots", None), ("-5", None), ("1e6", None), ("+", None), ("1 2", None),
    ("\uff11\uff12", None),
    # beyond Int64: null, not a crash
    ("10000000000B", None), ("9999999999999999999", None), ("9,300,000,000,000,000K", None),
]


def test_follower_counts_as_people_type_them():
    assert len(TYPED_COUNTS) >= 25
    got = _eval(abbreviated_count(pl.col("v")), [typed for typed, _ in TYPED_COUNTS])
    assert {typed: value for (typed, _), value in zip(TYPED_COUNTS, got)} == dict(TYPED_COUNTS)


#: Countries as people type them into a CRM → ISO 3166-1 alpha-2; None: unknown, null with a warning.
TYPED_COUNTRIES = [
    ("US", "US"), ("us", "US"), (" US ", "US"), ("USA", "US"), ("U.S.", "US"), ("U.S.A.", "US"),
    ("United States", "US"), ("united states of america", "US"), ("America", "US"), ("EE.UU.", "US"),
    ("UK", "GB"), ("uk", "GB"), ("U.K.", "GB"), ("GB", "GB"), ("GBR", "GB"), ("United Kingdom", "GB"),
    ("Great Britain", "GB"), ("England", "GB"), ("DEU", "DE"), ("Deutschland", "DE"), ("Germany", "DE"),
    ("Brasil", "BR"), ("Brazil", "BR"), ("España", "ES"), ("Espana", "ES"), ("México", "MX"), ("Mexico", "MX"),
    ("Türkiye", "TR"), ("Turkey", "TR"), ("Korea, Republic of", "KR"), ("South Korea", "KR"), ("대한민국", "KR"),
    ("The Netherlands", "NL"), ("Holland", "NL"), ("Côte d\u2019Ivoire", "CI"), ("Ivory Coast", "CI"),
    ("Bosnia & Herzegovina", "BA"), ("Guinea-Bissau", "GW"), ("St. Lucia", "LC"), ("Namibia", "NA"), ("NAM", "NA"),
    ("it", "IT"), ("Italia", "IT"), ("日本", "JP"),
    ("Korea", None), ("Europe", None), ("NA", None), ("N/A", None), ("Narnia", None), ("XX", None), ("", None),
    (None, None),
]


def test_countries_as_people_type_them():
    got = _eval(country_code(pl.col("v")), [typed for typed, _ in TYPED_COUNTRIES])
    assert {typed: code for (typed, _), code in zip(TYPED_COUNTRIES, got)} == dict(TYPED_COUNTRIES)


def test_every_iso_3166_country_is_found_by_its_codes_and_name():
    rows = list(csv.DictReader(io.StringIO(files("influence_pipeline.transforms.staging").joinpath("countries.csv").read_text("utf-8"))))
    assert len(rows) == len(alpha_2_codes()) == 249
    for column in ("alpha_2", "alpha_3", "name"):
        assert _eval(country_code(pl.col("v")), [r[column] for r in rows]) == [
            None if r["alpha_2"] == "NA" and column == "alpha_2" else r["alpha_2"] for r in rows], column


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
