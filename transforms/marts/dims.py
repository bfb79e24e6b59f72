"""Dimensions: dim_influencer and dim_account, rebuilt whole each night from the day's roster and metrics."""
from __future__ import annotations

import re

import polars as pl

UNKNOWN_NICHE = "unknown"


def infer_niche(captions: pl.LazyFrame, niches: dict[str, list[str]]) -> pl.LazyFrame:
    """Captions (account_id, caption) → one niche per account: the niche whose keywords (as words or hashtags)
    appear in most of its captions; ties go to the niche listed first in the rules."""
    order = {name: i for i, name in enumerate(niches)}
    hits = []
    for name, keywords in niches.items():
        pattern = r"(?i)(?:^|[^\w])#?(?:" + "|".join(re.escape(k) for k in keywords) + r")(?:$|[^\w])"
        hits.append(pl.col("caption").str.contains(pattern).fill_null(False).cast(pl.Int64).alias(name))
    scored = captions.select("account_id", *hits).group_by("account_id").sum()
    long = scored.unpivot(index="account_id", variable_name="niche", value_name="hits").filter(pl.col("hits") > 0)
    return (long.with_columns(_order=pl.col("niche").replace_strict(order, return_dtype=pl.Int64))
            .sort(["account_id", "hits", "_order"], descending=[False, True, False])
            .group_by("account_id", maintain_order=True).first().select("account_id", "niche"))


def _roster_niche(niche: pl.Expr, niches: dict[str, list[str]]) -> pl.Expr:
    """The CRM's free-text niche, mapped onto the configured niches when it names one or one of its keywords."""
    mapping = {keyword: name for name, keywords in niches.items() for keyword in [name, *keywords]}
    return niche.str.strip_chars().str.to_lowercase().replace_strict(mapping, default=None, return_dtype=pl.String)


def build_dim_account(accounts: pl.LazyFrame, account_daily: pl.LazyFrame, captions: pl.LazyFrame,
                      niches: dict[str, list[str]]) -> pl.LazyFrame:
    """The day's stg_social_accounts, today's fct_account_daily and recent captions → one row per social account
    with its current followers and tier, and a niche: the roster's if it names one, else inferred, else unknown."""
    inferred = infer_niche(captions, niches).rename({"niche": "_inferred"})
    current = account_daily.select("account_id", "followers", "tier", "er_30d_mean", "er_benchmark")
    return (accounts.select("account_id", "influencer_id", "platform", "handle", "niche", "declared_followers")
            .join(current, on="account_id", how="left").join(inferred, on="account_id", how="left")
            .with_columns(
                roster_niche=pl.col("niche"),
                niche=pl.coalesce(_roster_niche(pl.col("niche"), niches), "_inferred", pl.lit(UNKNOWN_NICHE)),
                niche_source=pl.when(_roster_niche(pl.col("niche"), niches).is_not_null()).then(pl.lit("roster"))
                .when(pl.col("_inferred").is_not_null()).then(pl.lit("captions")).otherwise(pl.lit("none")))
            .select("account_id", "influencer_id", "platform", "handle", "niche", "niche_source", "roster_niche",
                    "declared_followers", "followers", "tier", "er_30d_mean", "er_benchmark")
            .sort("account_id"))


def build_dim_influencer(influencers: pl.LazyFrame, dim_account: pl.LazyFrame) -> pl.LazyFrame:
    """The day's stg_influencers and dim_account → one row per influencer with their accounts' reach."""
    reach = dim_account.group_by("influencer_id").agg(
        accounts=pl.len(), total_followers=pl.col("followers").sum(),
        main_platform=pl.col("platform").sort_by(pl.col("followers").fill_null(-1)).last())
    return (influencers.select("influencer_id", "full_name", "country_code", "signed_date")
            .join(reach, on="influencer_id", how="left")
            .with_columns(accounts=pl.col("accounts").fill_null(0).cast(pl.Int64))
            .sort("influencer_id"))
