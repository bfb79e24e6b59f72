"""Country as people type it in the CRM → ISO 3166-1 alpha-2 code.

"United States", "USA", "U.S.", "uk", "Deutschland", "Brasil", "México" and "GBR" are all countries the roster means,
and upper-casing them ("UNITED STATES", "BRASIL", "UK") is not a country code. The lookup accepts, compared without
case, accents, dots, a leading "the" or the difference between "&" and "and":

* the 249 alpha-2 and alpha-3 codes and English short, common and official names of ISO 3166-1
  (countries.csv, taken from the iso-codes data as packaged by pycountry 26.2.16; ISO 3166-1 itself has no file of
  its own to ship);
* the other names people type (country_synonyms.csv): "UK", "England", "America", native spellings and old names.

Anything else — "Korea" (which one?), "Europe", "N/A", and "NA" (Namibia's code, but in a CRM far more often "not
available") — is not guessed: it maps to null, and the raw contract's
`country` rule reports it (the column is informational, so the row is kept).

Both tables are package data (pyproject.toml) read once, on first use, by `_lookup`: not configuration.
"""
from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib.resources import files

import polars as pl

_COLUMNS = ("alpha_2", "alpha_3", "name", "common_name", "official_name")


def country_key(text: pl.Expr) -> pl.Expr:
    """The spelling-insensitive form both the typed value and every known name are compared in."""
    return (text.str.normalize("NFKD").str.replace_all(r"\p{M}", "")  # México → Mexico, Türkiye → Turkiye
            .str.to_lowercase()
            .str.replace_all(r"[’‘`´]", "'")
            .str.replace_all(".", "", literal=True)  # U.S.A. → usa, EE.UU. → eeuu
            .str.replace_all("&", " and ", literal=True)
            .str.replace_all(r"[\s\-_/]+", " ")  # Guinea-Bissau, narrow no-break spaces
            .str.strip_chars()
            .str.replace(r"^the ", "")
            .str.replace(r"^st ", "saint "))


def _rows(name: str) -> list[dict[str, str]]:
    text = files("influence_pipeline.transforms.staging").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@lru_cache(maxsize=1)
def _lookup() -> dict[str, str]:
    """Key (see `country_key`) → alpha-2 code. Raises if one key would mean two countries: the tables must never make
    the answer depend on which row came first."""
    pairs = [(row[column], row["alpha_2"]) for row in _rows("countries.csv") for column in _COLUMNS if row[column]]
    pairs += [(row["typed"], row["alpha_2"]) for row in _rows("country_synonyms.csv")]
    codes = {row["alpha_2"] for row in _rows("countries.csv")}
    typed = pl.Series("typed", [t for t, _ in pairs], dtype=pl.String)
    keys = pl.select(country_key(pl.lit(typed))).to_series().to_list()
    lookup: dict[str, str] = {}
    for key, (text, code) in zip(keys, pairs):
        if code not in codes:
            raise ValueError(f"country table: {text!r} maps to {code!r}, which is not an ISO 3166-1 alpha-2 code")
        if lookup.setdefault(key, code) != code:
            raise ValueError(f"country table: {text!r} means both {lookup[key]} and {code}")
    # "NA" is Namibia's code, but in a CRM column it is far more often "not available": left unknown (a warning),
    # not guessed. Namibia typed as "Namibia" or "NAM" is found.
    del lookup["na"]
    return lookup


def alpha_2_codes() -> frozenset[str]:
    return frozenset(row["alpha_2"] for row in _rows("countries.csv"))


def country_code(text: pl.Expr) -> pl.Expr:
    """Typed country → ISO 3166-1 alpha-2 code ("United Kingdom", "UK", "GBR", "gb" → "GB"); unknown, blank → null."""
    return country_key(text).replace_strict(_lookup(), default=None, return_dtype=pl.String)
