"""The one way the report writes numbers: money in the reporting currency, counts, ratios, percentages and changes.
Every figure on the page goes through these, so "$1,626.49" never sits beside "1626.49" or "10.0"."""
from __future__ import annotations

import math

#: Symbols of the currencies a reader knows by sign; any other code is written after the amount ("1,234.00 CHF").
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
MINUS = "\u2212"  # a real minus sign: "−12.0 %" reads as negative where a hyphen reads as a dash


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_money(value: float | None, currency: str) -> str:
    """An amount → "$12,345.67" (or "12,345.67 CHF" for a currency without a known sign); "n/a" when missing."""
    if _missing(value):
        return "n/a"
    sign = MINUS if value < 0 else ""
    amount = f"{abs(value):,.2f}"
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"


def format_count(value: float | None) -> str:
    """A count → "235,686"; fractional credited counts (2.5 orders) keep one decimal."""
    if _missing(value):
        return "n/a"
    if float(value).is_integer():
        return f"{int(value):,}".replace("-", MINUS)
    return f"{value:,.1f}".replace("-", MINUS)


def format_bytes(value: int | None) -> str:
    """A size in bytes → "512 B", "12.3 kB", "4.5 MB" (powers of 1 000); "n/a" when unknown."""
    if _missing(value):
        return "n/a"
    size, unit = float(value), "B"
    for bigger in ("kB", "MB", "GB", "TB"):
        if size < 1000:
            break
        size, unit = size / 1000, bigger
    return f"{int(size)} B" if unit == "B" else f"{size:,.1f} {unit}"


def format_ratio(value: float | None) -> str:
    """A ratio such as ROAS → "1.23×"."""
    return "n/a" if _missing(value) else f"{value:,.2f}×".replace("-", MINUS)


def format_pct(value: float | None, digits: int = 1) -> str:
    """A share (0.1234) → "12.3 %"."""
    return "n/a" if _missing(value) else f"{100 * value:,.{digits}f} %".replace("-", MINUS)


def relative_change(current: float | None, previous: float | None) -> float | None:
    """(current − previous) / previous; None when there is no previous value to compare with (missing or 0)."""
    if _missing(current) or _missing(previous) or previous == 0:
        return None
    return (current - previous) / abs(previous)


def format_change(current: float | None, previous: float | None) -> str:
    """The change against the previous period → "+4.2 %" / "−3.0 %", or "n/a" without a previous value."""
    change = relative_change(current, previous)
    if change is None:
        return "n/a"
    return f"{'+' if change >= 0 else MINUS}{100 * abs(change):,.1f} %"


def money_axis_title(label: str, currency: str) -> str:
    """An axis title carrying its unit: "attributed revenue (USD)"."""
    return f"{label} ({currency})"
