-- Hand-written DuckDB version of the engagement marts of one night (flows/engagement_tasks.py: build-marts):
-- fct_post_engagement (transforms/marts/engagement.py) and today's fct_account_daily rows (transforms/marts/accounts.py).
-- Statements run in order, each `-- name:` block one statement; $names are bound by benchmarks/sql_baseline.py
-- (paths, the night's date windows from transforms/windows.py, the rules). post_niche is not reproduced: the caption
-- keyword matcher (transforms/marts/niche.py) is a tokenizer, not a query.

-- name: post_latest
-- One row per post: its latest snapshot on or before the night (later landing, then later row, wins a tie).
CREATE OR REPLACE TEMP TABLE post_latest AS
SELECT post_id, account_id, platform, media_type, is_story, posted_at, snapshot_date, likes, comments, shares, saves,
       views, impressions, reach, replies, link_clicks, is_likes_hidden
FROM read_parquet($stg_post_snapshots, hive_partitioning = true)
WHERE landing_date BETWEEN $snapshots_first AND $ds AND snapshot_date <= $ds
QUALIFY row_number() OVER (PARTITION BY post_id ORDER BY snapshot_date DESC, landing_date DESC, _row_number DESC) = 1;

-- name: follower_history
-- One follower count per account and snapshot day (latest landing wins): what followers_at_post is looked up in.
CREATE OR REPLACE TEMP TABLE follower_history AS
SELECT account_id, platform, snapshot_date, followers
FROM read_parquet($stg_account_daily, hive_partitioning = true)
WHERE landing_date BETWEEN $account_snapshots_first AND $ds AND followers IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY account_id, snapshot_date ORDER BY landing_date DESC, _row_number DESC) = 1;

-- name: fct_post_engagement
CREATE OR REPLACE TEMP TABLE fct_post_engagement AS
WITH owners AS (  -- today's roster; an account listed twice keeps its last row, as the pipeline's unique(keep="last")
    SELECT account_id, influencer_id FROM read_parquet($stg_social_accounts_today)
    QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY _row_number DESC) = 1
), posts AS (
    SELECT p.*, o.influencer_id, p.posted_at::DATE AS posted_day,
           coalesce(p.replies, 0) + coalesce(p.shares, 0) + coalesce(p.link_clicks, 0) AS story_sum,
           coalesce(p.likes, 0) + coalesce(p.comments, 0) + coalesce(p.shares, 0) + coalesce(p.saves, 0) AS feed_sum
    FROM post_latest p LEFT JOIN owners o USING (account_id)
), before AS (  -- the account's latest snapshot on or before the posting day ...
    SELECT p.post_id, h.followers FROM posts p
    ASOF LEFT JOIN follower_history h ON p.account_id = h.account_id AND p.posted_day >= h.snapshot_date
), after AS (  -- ... else its earliest one after it
    SELECT p.post_id, h.followers FROM posts p
    ASOF LEFT JOIN follower_history h ON p.account_id = h.account_id AND p.posted_day <= h.snapshot_date
), campaign_windows AS (
    SELECT DISTINCT campaign_id, influencer_id, start_date, end_date FROM read_parquet($stg_campaigns_today)
), post_campaign AS (  -- contracted on the posting day; with several, the campaign that started last
    SELECT p.post_id, arg_max(c.campaign_id, (c.start_date, c.campaign_id)) AS campaign_id
    FROM posts p JOIN campaign_windows c ON c.influencer_id = p.influencer_id
                                         AND p.posted_day BETWEEN c.start_date AND c.end_date
    GROUP BY p.post_id
), scored AS (
    SELECT p.*, coalesce(b.followers, a.followers) AS followers_at_post, pc.campaign_id,
           CASE WHEN p.is_likes_hidden THEN NULL WHEN p.is_story THEN p.story_sum ELSE p.feed_sum END AS engagements,
           CASE WHEN p.is_story THEN p.story_sum END AS story_engagements
    FROM posts p LEFT JOIN before b USING (post_id) LEFT JOIN after a USING (post_id)
    LEFT JOIN post_campaign pc USING (post_id)
)
SELECT s.post_id, s.account_id, s.influencer_id, s.platform, s.media_type, s.is_story, s.posted_at,
       s.snapshot_date AS metrics_as_of_date, s.likes, s.comments, s.shares, s.saves, s.views, s.impressions, s.reach,
       s.replies, s.link_clicks, s.engagements, s.followers_at_post,
       CASE WHEN s.followers_at_post <> 0 THEN s.engagements / s.followers_at_post END AS er_followers,
       CASE WHEN s.reach <> 0 THEN s.engagements / s.reach END AS er_reach,
       CASE WHEN s.views <> 0 THEN s.engagements / s.views END AS er_views,
       s.is_likes_hidden, s.campaign_id,
       -- Same term order as the pipeline, so the float sum is the same before rounding.
       round(coalesce(s.views, 0) * u.view + coalesce(s.likes, 0) * u."like" + coalesce(s.comments, 0) * u.comment
             + coalesce(s.shares, 0) * u.share + coalesce(s.saves, 0) * u.save
             + coalesce(s.story_engagements, 0) * u.story_interaction, 2) AS emv,
       s.posted_day AS posted_date
FROM scored s LEFT JOIN emv_units u USING (platform)
WHERE s.posted_day BETWEEN $posted_first AND $posted_last
ORDER BY s.post_id;

-- name: account_posts
-- The trailing 90 days of posts the account rates need: the lake's older partitions, then tonight's rows.
CREATE OR REPLACE TEMP TABLE account_posts AS
SELECT account_id, posted_date, posted_at, is_story, er_followers
FROM read_parquet($fct_post_engagement_published, hive_partitioning = true)
WHERE posted_date BETWEEN $older_posts_first AND $older_posts_last
UNION ALL
SELECT account_id, posted_date, posted_at, is_story, er_followers FROM fct_post_engagement;

-- name: fct_account_daily
CREATE OR REPLACE TEMP TABLE fct_account_daily AS
WITH history AS (
    SELECT account_id, platform, snapshot_date, followers FROM follower_history
    WHERE snapshot_date BETWEEN $growth_first AND $ds
), changes AS (
    SELECT *, followers - lag(followers) OVER w AS follower_change,
           ln(1 + followers) - ln(1 + lag(followers) OVER w) AS log_change
    FROM history WINDOW w AS (PARTITION BY account_id ORDER BY snapshot_date)
), today AS (
    SELECT * FROM changes QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY snapshot_date DESC) = 1
), past AS (
    SELECT * FROM changes WHERE snapshot_date >= $anomaly_first AND snapshot_date < $ds AND log_change IS NOT NULL
), baseline AS (  -- robust z-score baseline: median and MAD of the account's own log changes
    SELECT p.account_id, count(*) AS n, any_value(m.med) AS med, median(abs(p.log_change - m.med)) AS mad
    FROM past p JOIN (SELECT account_id, median(log_change) AS med FROM past GROUP BY ALL) m USING (account_id)
    GROUP BY p.account_id
), growth AS (
    SELECT t.account_id, t.platform, t.followers, t.follower_change,
           0.6745 * (t.log_change - b.med) / greatest(b.mad, 1e-4) AS z, t.log_change, b.n
    FROM today t LEFT JOIN baseline b USING (account_id)
), rated AS (
    SELECT * FROM account_posts WHERE posted_date <= $ds AND er_followers IS NOT NULL AND NOT is_story
), win AS (
    SELECT account_id, count(*) AS posts_30d, avg(er_followers) AS er_30d_mean FROM rated
    WHERE posted_date > $window_first GROUP BY ALL
), last_n AS (
    SELECT account_id, median(er_followers) AS er_last12_median FROM (
        SELECT * FROM rated QUALIFY row_number() OVER (PARTITION BY account_id
                                                       ORDER BY posted_at DESC, er_followers DESC) <= $last_n_posts)
    GROUP BY ALL
), published AS (
    SELECT account_id, count(*) AS posts_published FROM account_posts WHERE posted_date = $ds GROUP BY ALL
), daily AS (
    SELECT g.*, coalesce(pb.posts_published, 0) AS posts_published, coalesce(w.posts_30d, 0) AS posts_30d,
           w.er_30d_mean, l.er_last12_median,
           (SELECT t.tier FROM tiers t WHERE g.followers >= t.minimum ORDER BY t.minimum DESC LIMIT 1) AS tier
    FROM growth g LEFT JOIN win w USING (account_id) LEFT JOIN last_n l USING (account_id)
    LEFT JOIN published pb USING (account_id)
), priored AS (
    SELECT *, median(er_30d_mean) OVER (PARTITION BY platform, tier) AS prior FROM daily
), spikes AS (  -- er_30d_mean on the latest growth anomaly of the trailing window (stored days of earlier nights)
    SELECT account_id, arg_max(er_30d_mean, metric_date) AS er_at_spike
    FROM read_parquet($fct_account_daily_published, hive_partitioning = true)
    WHERE metric_date BETWEEN $stored_days_first AND $stored_days_last AND metric_date > $window_first
      AND is_growth_anomaly AND er_30d_mean IS NOT NULL
    GROUP BY ALL
)
SELECT p.account_id, p.platform, $ds::DATE AS metric_date, p.followers, p.follower_change, p.posts_published,
       p.posts_30d, p.er_30d_mean, p.er_last12_median,
       CASE WHEN p.prior IS NOT NULL
            THEN (p.posts_30d * coalesce(p.er_30d_mean, 0) + $shrink_k * p.prior) / (p.posts_30d + $shrink_k) END
           AS er_30d_shrunk,
       p.tier,
       CASE WHEN p.er_30d_mean IS NULL THEN NULL WHEN p.er_30d_mean < $target_min THEN 'below'
            WHEN p.er_30d_mean <= $target_max THEN 'target' ELSE 'above' END AS er_benchmark,
       round(p.z, 3) AS robust_z,
       coalesce(p.n >= $anomaly_min_history AND p.z > $anomaly_z AND exp(p.log_change) - 1 >= $anomaly_min_change,
                false) AS is_growth_anomaly,
       coalesce(p.er_30d_mean < $er_collapse_ratio * s.er_at_spike, false) AS is_er_collapse
FROM priored p LEFT JOIN spikes s USING (account_id)
ORDER BY p.account_id;
