"""Independent recomputation of the engagement marts' derived columns from their own inputs, in SQL (DuckDB): a
second implementation to hold the Polars one to. Each query counts the rows that disagree."""
import duckdb

TIER = """CASE WHEN {f} < 1000 THEN 'sub_nano' WHEN {f} < 5000 THEN 'nano' WHEN {f} < 50000 THEN 'micro'
               WHEN {f} < 500000 THEN 'macro' ELSE 'mega' END"""

MISMATCHES = {
    "engagements": """
        SELECT count(*) FROM marts.fct_post_engagement
        WHERE engagements IS DISTINCT FROM CASE
                WHEN is_likes_hidden THEN NULL
                WHEN is_story THEN coalesce(replies, 0) + coalesce(shares, 0) + coalesce(link_clicks, 0)
                ELSE coalesce(likes, 0) + coalesce(comments, 0) + coalesce(shares, 0) + coalesce(saves, 0) END""",
    "er_followers": """
        SELECT count(*) FROM marts.fct_post_engagement
        WHERE abs(coalesce(er_followers, -1) - coalesce(engagements / nullif(followers_at_post, 0), -1)) > 1e-12""",
    "tier": f"SELECT count(*) FROM marts.fct_account_daily WHERE tier IS DISTINCT FROM {TIER.format(f='followers')}",
    "er_benchmark": """
        SELECT count(*) FROM marts.fct_account_daily
        WHERE er_benchmark IS DISTINCT FROM CASE WHEN er_30d_mean IS NULL THEN NULL WHEN er_30d_mean < 0.03
                THEN 'below' WHEN er_30d_mean <= 0.05 THEN 'target' ELSE 'above' END""",
    # A post counts once, on its posted_date, whatever export it arrived in.
    "posts_published": """
        SELECT count(*) FROM marts.fct_account_daily d
        LEFT JOIN (SELECT account_id, posted_date, count(*) AS n FROM marts.fct_post_engagement GROUP BY ALL) p
               ON p.account_id = d.account_id AND p.posted_date = d.metric_date
        WHERE d.posts_published <> coalesce(p.n, 0)""",
    # The benchmark's posts are the month's posts of the accounts it ranks (those with a tier on their latest day).
    "benchmark_posts": """
        WITH per_account AS (
            SELECT CAST(date_trunc('month', metric_date) AS DATE) AS m, account_id, sum(posts_published) AS posts,
                   arg_max(tier, metric_date) AS last_tier
            FROM marts.fct_account_daily GROUP BY ALL),
        daily AS (SELECT m, sum(posts) AS posts FROM per_account WHERE last_tier IS NOT NULL GROUP BY m),
        bench AS (SELECT month_start_date AS m, sum(posts) AS posts FROM marts.mart_tier_benchmark GROUP BY m)
        SELECT count(*) FROM daily FULL JOIN bench USING (m) WHERE daily.posts IS DISTINCT FROM bench.posts""",
}


def mart_mismatches(warehouse: str) -> dict[str, int]:
    """Rows of the DuckDB warehouse whose engagements, er_followers, tier or er_benchmark disagree with the
    definitions recomputed here."""
    with duckdb.connect(warehouse, read_only=True) as con:
        return {name: con.execute(sql).fetchone()[0] for name, sql in MISMATCHES.items()}


def coverage(warehouse: str) -> dict[str, int]:
    """How much the check covered: posts, account-days, days and distinct tiers."""
    with duckdb.connect(warehouse, read_only=True) as con:
        return dict(zip(("posts", "account_days", "days", "tiers"), con.execute("""
            SELECT (SELECT count(*) FROM marts.fct_post_engagement), count(*), count(DISTINCT metric_date),
                   count(DISTINCT tier) FROM marts.fct_account_daily""").fetchone()))


ATTRIBUTION_MISMATCHES = {
    "credit_sum": """
        SELECT count(*) FROM (SELECT conversion_id, model, sum(credit) AS s FROM marts.fct_attribution GROUP BY ALL)
        WHERE abs(s - 1) > 1e-9""",
    "revenue_sum": """
        SELECT count(*) FROM (SELECT conversion_id, model, sum(attributed_revenue) AS r
                              FROM marts.fct_attribution GROUP BY ALL) a
        JOIN marts.fct_conversion c USING (conversion_id) WHERE a.r <> c.net_revenue""",
    "models_per_conversion": """
        SELECT count(*) FROM (SELECT conversion_id, count(DISTINCT model) AS m FROM marts.fct_attribution GROUP BY ALL)
        WHERE m <> 6""",
    "unattributed_conversions": """
        SELECT count(*) FROM marts.fct_conversion c
        WHERE NOT EXISTS (SELECT 1 FROM marts.fct_attribution a WHERE a.conversion_id = c.conversion_id)""",
    "duplicate_keys": """
        SELECT count(*) - count(DISTINCT (conversion_id, model, credited_to)) FROM marts.fct_attribution""",
    "campaign_formulas": """
        SELECT count(*) FROM marts.mart_campaign_performance
        WHERE cost <> fee + gifted_product_cost + commission
           OR abs(commission - round(commission_rate * code_net_revenue, 2)) > 0.005
           OR cpe IS DISTINCT FROM CASE WHEN engagements > 0 THEN cost / engagements END
           OR abs(coalesce(cpm, -1) - coalesce(1000 * cost / nullif(impressions, 0), -1)) > 1e-9
           OR cpv IS DISTINCT FROM CASE WHEN visits > 0 THEN cost / visits END
           OR abs(coalesce(cpa, -1) - coalesce(cost / nullif(orders, 0), -1)) > 1e-9
           OR abs(coalesce(roas, -1) - coalesce(net_revenue / nullif(cost, 0), -1)) > 1e-9
           OR abs(coalesce(roi, -9) - coalesce((net_revenue - cost) / nullif(cost, 0), -9)) > 1e-9""",
}


def attribution_mismatches(warehouse: str) -> dict[str, int]:
    """Conservation and formula invariants of the attribution marts: each counts the rows that break it."""
    with duckdb.connect(warehouse, read_only=True) as con:
        return {name: con.execute(sql).fetchone()[0] for name, sql in ATTRIBUTION_MISMATCHES.items()}
