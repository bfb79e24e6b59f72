"""Money rounds to the cent half away from zero, exactly (decimal digits, no float): a third decimal used to be cut
(12.345 → 12.34), and Polars' own cast rounds half to even (1.005 → 1.00)."""
from decimal import Decimal

import polars as pl

from influence_pipeline.transforms.staging.common import to_float, to_money


def _money(values: list) -> list:
    return pl.DataFrame({"v": values}, schema={"v": pl.String}).select(to_money(pl.col("v")).alias("v"))["v"].to_list()


def test_a_third_decimal_rounds_half_away_from_zero():
    got = _money(["12.345", "-12.345", "1.005", "-0.005", "0.005", "12.344999", "-0.004", "2.675", " 19.9 "])
    assert got == [Decimal(v) for v in ("12.35", "-12.35", "1.01", "-0.01", "0.01", "12.34", "0.00", "2.68",
                                        "19.90")]


def test_exponent_forms_round_like_their_plain_digits():
    assert _money(["1.2345e1", "-1.2345E1", "1e3", "5E-3"]) == [Decimal("12.35"), Decimal("-12.35"),
                                                                Decimal("1000.00"), Decimal("0.01")]


def test_the_largest_amount_staging_holds_is_exact_and_one_beyond_it_is_null():
    assert _money(["9999999999999999.99", "9999999999999999.995", "10000000000000000", "00012.30"]) == [
        Decimal("9999999999999999.99"), None, None, Decimal("12.30")]


def test_what_the_raw_contract_rejects_as_a_number_is_null_money_too():
    """The raw contract quarantines money that to_float cannot read, so none reaches a mart as a surprise null;
    European "12,345" is not read as money (12.345 or 12345 would be a guess)."""
    junk = ["12,345", "1,234.56", "NaN", "inf", "-Infinity", "1e309", "abc", ".", "-", "", None, "0x10"]
    assert _money(junk) == [None] * len(junk)
    floats = pl.DataFrame({"v": junk}, schema={"v": pl.String}).select(to_float(pl.col("v")).alias("v"))["v"].to_list()
    assert floats == [None] * len(junk)
