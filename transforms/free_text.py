"""Masking of personal data inside free text (URLs, referrers, JSON holding URLs): e-mail addresses, phone numbers and
IP addresses are replaced by <email>, <phone> and <ip>, and the value of a query parameter named like a personal or
secret field (email, phone, token, password, ...) by <redacted>, whether written plainly, %-encoded (a%40b.c) or
double-encoded (a%2540b.c), with "+" for a space. Everything else, utm_* parameters included, is left byte for byte.

Masked, not hashed: a hash inside a URL would join to nothing (identities join on the contract's PII columns, hashed
separately), and masking needs no key, so this stays a pure function. The patterns are plain regular expressions
(no look-around) so that Polars runs them natively on millions of rows, and Python's `re` can reuse them for the
quarantine lines.
"""
from __future__ import annotations

import polars as pl

# An encoded character may come once (%40) or twice (%2540) encoded: a URL inside a URL's query string.
_AT = r"(?:@|%40|%2540)"
_PLUS = r"(?:\+|%2[Bb]|%252[Bb])"
_COLON = r"(?::|%3[Aa]|%253[Aa])"
_EQUALS = r"(?:=|%3[Dd]|%253[Dd])"
_QUERY_START = r"(?:[?&;]|%3[Ff]|%26|%253[Ff]|%2526)"
# Phone separators: space (also as "+" and %20), dot, dash, parentheses.
_SEP = r"(?:[ .()\-]|\+|%20|%2520|%28|%29|%2528|%2529)"
# What may precede a number for it to start one: not a digit or a dot (so 1.2.3.4.5 or 12345 are not cut in the
# middle), or an escape such as %3D whose hex digits must not count as part of the number. A phone number must
# not follow a letter, "-" or "_" either: the digit groups of a UUID (6f1c1b2e-0000-5000-8000-…) look like one.
_BEFORE_PHONE = r"(^|[^0-9A-Za-z.\-_]|%[0-9A-Fa-f]{2}|%25[0-9A-Fa-f]{2})"

# Unbounded and ASCII before the "@": a bounded Unicode class ({1,64} of \w) makes the regex automaton so large that
# the pattern costs 20 times more (a non-ASCII local part arrives %-encoded in a URL, and "%" is in the class).
EMAIL = rf"[A-Za-z0-9_.+%\-]+{_AT}[\w\-]+(?:\.[\w\-]+)+"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# What may precede an IPv4 address: as for a number (above), but not a letter ("v1.2.3.4", "build10.0.0.1" are
# versions) nor a product token and "/" (a user agent's "Chrome/120.0.0.0", "Version/17.1.2.3": a token at the
# start or after a space, "(", ";" or ","); a "/" after anything else is a URL's: "//10.0.0.1", "host.example/
# 10.0.0.1", "/path/10.0.0.1", " /10.0.0.1". The context is consumed (no look-behind) and put back by ${1}.
_BEFORE_IPV4 = (r"(^|[^0-9A-Za-z./]|%[0-9A-Fa-f]{2}|%25[0-9A-Fa-f]{2}|(?:^|[^A-Za-z0-9_\-])/"
                r"|[^A-Za-z0-9_\-\s(;,][A-Za-z0-9_\-]+/)")
# And what may follow: not a letter, digit or "_" (as \b), nor "." and a digit: "Instagram 250.1.0.34.111" is a
# version of five parts. Consumed too, and put back by ${2}.
_AFTER_IPV4 = r"($|[^0-9A-Za-z_.]|\.$|\.[^0-9])"
IPV4 = rf"{_BEFORE_IPV4}{_OCTET}(?:\.{_OCTET}){{3}}{_AFTER_IPV4}"
# An IPv4 address whose preceding character the previous one's match took ("10.0.0.1/10.0.0.2", "1.1.1.1 2.2.2.2"):
# the second pass looks only right after a mask, which a literal prefix makes cheap.
_IPV4_AFTER_MASK = rf"(<ip>[^0-9A-Za-z_.]){_OCTET}(?:\.{_OCTET}){{3}}{_AFTER_IPV4}"
_HEX = r"[0-9A-Fa-f]{1,4}"
# Full form (seven colons) or compressed (a "::" with at least one group after it); "10:22:03" is neither.
IPV6 = (rf"(?:{_HEX}{_COLON}){{7}}{_HEX}|(?:{_HEX}{_COLON}){{1,6}}{_COLON}{_HEX}(?:{_COLON}{_HEX}){{0,5}}"
        rf"|{_COLON}{_COLON}{_HEX}(?:{_COLON}{_HEX}){{0,6}}")
# International (+ and 8 to 15 digits), North-American 555-123-4567, or national with a trunk 0 (030 1234 5678).
# Digits without separators or a leading + are not matched: they cannot be told from order or product ids.
PHONE = (rf"{_BEFORE_PHONE}(?:{_PLUS}[1-9](?:{_SEP}{{0,2}}[0-9]){{7,14}}"
         rf"|\(?[2-9][0-9]{{2}}\)?{_SEP}{{1,2}}[0-9]{{3}}{_SEP}[0-9]{{4}}"
         rf"|0[0-9]{{2,4}}{_SEP}[0-9]{{3,4}}{_SEP}?[0-9]{{3,4}})\b")
_SECRET_WORDS = ("e_?mail", "mail", "phone", "tel", "mobile", "msisdn", "token", "password", "passwd", "pwd",
                 "secret", "auth", "session", "sid", "api_?key", "access_?key", "ssn", "first_?name", "last_?name",
                 "full_?name", "address", "zip", "postcode", "postal", "birth", "dob", "ip")
# A secret word starts the name or one of its parts (user_email, customer[email], emailAddress; not "recipe").
_NAME_PREFIX = r"(?:[\w.\-\[\]]*(?:[_.\-\[]|%5[Bb]))?"
_NAME_SUFFIX = r"[\w.\-\[\]]*(?:%5[Dd])?"
# The value runs to the next parameter, fragment, quote or space, plainly or once/twice encoded (%26, %2526).
_VALUE_CHAR = (r"(?:[^&#\s\"%]|%[013-9A-Fa-f][0-9A-Fa-f]|%2[0-47-9A-Fa-f]"
               r"|%25[013-9A-Fa-f][0-9A-Fa-f]|%252[0-57-9A-Fa-f])")
SECRET_PARAM = (rf"(?i)({_QUERY_START}{_NAME_PREFIX}(?:{'|'.join(_SECRET_WORDS)}){_NAME_SUFFIX}{_EQUALS})"
                rf"{_VALUE_CHAR}+")

#: (pattern, replacement) in the order they must run: named parameters first (their whole value goes, whatever it
#: looks like), then e-mails (a domain may contain digits), IPs before phones (1.2.3.4 is no phone number).
#: Replacements use `${1}` (and `${2}`) for the characters a pattern had to consume before (and after) the value.
RULES: tuple[tuple[str, str], ...] = (
    (SECRET_PARAM, "${1}<redacted>"),
    (EMAIL, "<email>"),
    (IPV6, "<ip>"),
    (IPV4, "${1}<ip>${2}"),
    (_IPV4_AFTER_MASK, "${1}<ip>${2}"),
    (rf"(?i){PHONE}", "${1}<phone>"),
)


def mask_text(text: pl.Expr) -> pl.Expr:
    """A string expression with e-mails, phone numbers, IPs and secret query-parameter values masked (see the module
    docstring); nulls stay null."""
    for pattern, replacement in RULES:
        text = text.str.replace_all(pattern, replacement)
    return text


#: What a text must contain for a rule's pattern to match in it (a cheap literal search where the pattern's scan is
#: not): the rule then runs on those rows only. A rule without an entry runs on every row.
_NEEDS: dict[str, str] = {
    SECRET_PARAM: r"(?i)=|%3d|%253d",
    EMAIL: r"@|%40|%2540",
    IPV6: r"(?s)(?::|%3[Aa]|%253[Aa]).*(?::|%3[Aa]|%253[Aa])",  # every form has two colons at least
    IPV4: r"[0-9]\.[0-9]",
    rf"(?i){PHONE}": r"[0-9]{3}|\+|%2[Bb]|%252[Bb]",  # a "+" form, or three digits in a row
}


def _masked(text: pl.Series) -> pl.Series:
    """A string series masked as mask_text masks it, each rule run only on the rows its _NEEDS entry finds."""
    text = text.clone()  # scatter writes in place: the caller's series stays as it was
    for pattern, replacement in RULES:
        if pattern not in _NEEDS:
            text = text.str.replace_all(pattern, replacement)
            continue
        rows = text.str.contains(_NEEDS[pattern]).fill_null(False).arg_true()
        if rows.len():
            text = text.scatter(rows, text.gather(rows).str.replace_all(pattern, replacement))
    return text


def mask_free_text(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """`frame` with each of `columns` (string columns the contracts declare as free text) masked as mask_text masks
    them."""
    # An all-null column of a Parquet export arrives typed Null, which has no string methods.
    masked = (_masked_by_value(frame[c].cast(pl.String)).alias(c) for c in columns)
    return frame.with_columns(masked) if columns else frame


def _masked_by_value(text: pl.Series) -> pl.Series:
    """`text` masked by _masked, each distinct value once: a day's events repeat a few thousand URLs and a few dozen
    user agents (the rules cost ten times the hashing of a value)."""
    distinct = text.unique()
    return text.replace_strict(distinct, _masked(distinct), return_dtype=pl.String)
