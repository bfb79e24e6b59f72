-- Hand-written DuckDB version of the attribution stage of one night (flows/attribution_tasks.py: build-attribution):
-- fct_visit (transforms/attribution/visits.py), the conversions and journeys it needs (conversions.py, journeys.py)
-- and fct_attribution for the rule-based models with the code_first override (credit.py). Markov and Shapley
-- (mart_channel_attribution) are not reproduced. $names are bound by benchmarks/sql_baseline.py.

-- name: sessionized
-- A visit ends after $timeout_minutes without an event, or when an event is tagged with another utm_campaign than
-- the one the visit runs under (the latest tag since the visit started; untagged page views continue it).
-- The windows carry only the columns they order and compare, plus the event's file and row to join the rest back
-- by: sorting every event's URLs and hashes through three windows took a third more time.
CREATE OR REPLACE TEMP TABLE sessionized AS
WITH ev AS (
    SELECT filename AS f, file_row_number AS r, event_id, event_at, anonymous_id, utm_campaign
    FROM read_parquet($stg_web_events, hive_partitioning = true, filename = true, file_row_number = true)
    WHERE landing_date BETWEEN $events_first AND $ds
), timed AS (
    SELECT *, coalesce(event_at - lag(event_at) OVER w >= to_minutes($timeout_minutes), true) AS timed_out
    FROM ev WINDOW w AS (PARTITION BY anonymous_id ORDER BY event_at, event_id)
), running AS (
    -- chr(0) marks a period's first event, so the fill never carries a tag over from the previous period.
    SELECT *, last_value(CASE WHEN timed_out THEN coalesce(utm_campaign, chr(0)) ELSE utm_campaign END IGNORE NULLS)
                  OVER (PARTITION BY anonymous_id ORDER BY event_at, event_id
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS running_raw
    FROM timed
), starts AS (
    SELECT *, timed_out OR (utm_campaign IS NOT NULL AND (running IS NULL OR utm_campaign <> running)) AS starts_visit
    FROM (SELECT *, CASE WHEN timed_out OR running_raw = chr(0) THEN NULL ELSE running_raw END AS running FROM running)
)
SELECT f, r, sum(starts_visit::INTEGER) OVER (PARTITION BY anonymous_id ORDER BY event_at, event_id
                                              ROWS UNBOUNDED PRECEDING) AS visit_number
FROM starts;

-- name: fct_visit
CREATE OR REPLACE TEMP TABLE fct_visit AS
WITH visits AS (  -- a visit is described by its landing event: one arg_min of a struct, not a sort per column
    SELECT anonymous_id, min(event_at) AS visit_started_at, max(event_at) AS visit_ended_at,
           arg_min({'url': page_url, 'path': page_path, 'source': utm_source, 'medium': utm_medium,
                    'campaign': utm_campaign, 'content': utm_content, 'term': utm_term, 'host': referrer_host},
                   (event_at, event_id)) AS landing,
           count(*) AS events, count(*) FILTER (WHERE event_type = 'page_view') AS page_views,
           coalesce(bool_or(event_type = 'signup'), false) AS has_signup,
           coalesce(bool_or(event_type = 'checkout'), false) AS has_checkout,
           -- arg_min skips null arguments: the first customer id / email the visit carries
           arg_min(customer_id, (event_at, event_id)) AS customer_id,
           arg_min(email_hash, (event_at, event_id)) AS email_hash
    FROM read_parquet($stg_web_events, hive_partitioning = true, filename = true, file_row_number = true) e
    JOIN sessionized v ON v.f = e.filename AND v.r = e.file_row_number
    WHERE e.landing_date BETWEEN $events_first AND $ds
    GROUP BY anonymous_id, visit_number
), owned AS (
    SELECT * EXCLUDE (landing), landing.url AS landing_page_url, landing.path AS landing_page_path,
           landing.source AS utm_source, landing.medium AS utm_medium, landing.campaign AS utm_campaign,
           landing.content AS utm_content, landing.term AS utm_term, landing.host AS referrer_host
    FROM visits WHERE visit_started_at::DATE BETWEEN $visits_first AND $visits_last
), links AS (
    SELECT link_id, influencer_id, campaign_id, utm_source, utm_medium, utm_campaign, utm_content
    FROM read_parquet($stg_tracking_links_today)
), exact AS (  -- lookups tried in order: the four UTMs; campaign + content; an account handle in utm_content
    SELECT utm_source, utm_medium, utm_campaign, utm_content, min(link_id) AS link_id,
           first(influencer_id ORDER BY link_id) AS influencer_id, first(campaign_id ORDER BY link_id) AS campaign_id
    FROM links GROUP BY ALL
), loose AS (
    SELECT utm_campaign, utm_content, min(link_id) AS link_id,
           first(influencer_id ORDER BY link_id) AS influencer_id, first(campaign_id ORDER BY link_id) AS campaign_id
    FROM links GROUP BY ALL
), by_handle AS (
    SELECT handle AS utm_content, min(influencer_id) AS influencer_id
    FROM read_parquet($stg_social_accounts_today) WHERE handle IS NOT NULL AND influencer_id IS NOT NULL GROUP BY ALL
), matched AS (
    SELECT o.*,
           CASE WHEN o.utm_campaign IS NULL AND o.utm_content IS NULL THEN NULL  -- only a tagged visit can match
                WHEN e.link_id IS NOT NULL THEN 1 WHEN l.link_id IS NOT NULL THEN 2
                WHEN h.influencer_id IS NOT NULL THEN 3 END AS level,
           e.link_id AS link_1, e.influencer_id AS inf_1, e.campaign_id AS cmp_1,
           l.link_id AS link_2, l.influencer_id AS inf_2, l.campaign_id AS cmp_2, h.influencer_id AS inf_3
    FROM owned o
    LEFT JOIN exact e ON e.utm_source = o.utm_source AND e.utm_medium = o.utm_medium
                     AND e.utm_campaign = o.utm_campaign AND e.utm_content = o.utm_content
    LEFT JOIN loose l ON l.utm_campaign = o.utm_campaign AND l.utm_content = o.utm_content
    LEFT JOIN by_handle h ON h.utm_content = o.utm_content
), linked AS (
    SELECT *, CASE level WHEN 1 THEN link_1 WHEN 2 THEN link_2 END AS link_id,
           CASE level WHEN 1 THEN inf_1 WHEN 2 THEN inf_2 WHEN 3 THEN inf_3 END AS influencer_id,
           CASE level WHEN 1 THEN cmp_1 WHEN 2 THEN cmp_2 END AS campaign_id,
           CASE level WHEN 1 THEN 'exact' WHEN 2 THEN 'campaign_content' WHEN 3 THEN 'handle' END AS link_match,
           referrer_host IS NOT NULL AND NOT regexp_matches(referrer_host, $own_hosts) AS external
    FROM matched
)
SELECT anonymous_id || '@' || epoch_ms(visit_started_at)::VARCHAR AS visit_id, anonymous_id, visit_started_at,
       visit_ended_at,
       CASE WHEN influencer_id IS NOT NULL OR list_contains($influencer_mediums, utm_medium) THEN 'influencer'
            WHEN list_contains($paid_search_mediums, utm_medium) THEN 'paid_search'
            WHEN list_contains($email_mediums, utm_medium) THEN 'email'
            WHEN list_contains($social_mediums, utm_medium) THEN 'social_organic'
            WHEN external AND regexp_matches(referrer_host, $search_hosts) THEN 'organic_search'
            WHEN external AND regexp_matches(referrer_host, $social_hosts) THEN 'social_organic'
            WHEN external THEN 'referral'
            WHEN utm_medium IS NOT NULL OR utm_source IS NOT NULL THEN 'other'
            ELSE 'direct' END AS channel,
       influencer_id, campaign_id, link_id, link_match, utm_source, utm_medium, utm_campaign, utm_content, utm_term,
       referrer_host, landing_page_url, landing_page_path, events, page_views, has_signup, has_checkout, customer_id,
       email_hash, visit_started_at::DATE AS visit_date
FROM linked ORDER BY visit_date, visit_id;

-- name: latest_orders
-- Each order's latest version (latest updated_at, then latest delivery), the codes of exactly that version, and
-- the influencers whose affiliate codes it used, each with an equal share of the order.
CREATE OR REPLACE TEMP TABLE latest_orders AS
SELECT * FROM read_parquet($stg_orders, hive_partitioning = true)
WHERE landing_date BETWEEN $conversions_first AND $ds
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC NULLS LAST, landing_date DESC NULLS LAST,
                                                          _row_number DESC) = 1;

-- name: order_codes
CREATE OR REPLACE TEMP TABLE order_codes AS
SELECT order_id, influencer_id, campaign_id, discount_code, 1.0 / count(*) OVER (PARTITION BY order_id) AS code_share
FROM (
    SELECT c.order_id, r.influencer_id, r.campaign_id, c.discount_code
    FROM read_parquet($stg_order_discount_codes, hive_partitioning = true) c
    SEMI JOIN latest_orders o ON o.order_id = c.order_id AND o.landing_date = c.landing_date
    JOIN read_parquet($stg_discount_codes_today) r ON r.discount_code = c.discount_code
    WHERE c.landing_date BETWEEN $conversions_first AND $ds
    QUALIFY row_number() OVER (PARTITION BY c.order_id, r.influencer_id ORDER BY c.discount_code) = 1
);

-- name: conversions
-- Only what credit needs: who converted, when, and the net revenue in reporting cents (half-up, integer arithmetic).
CREATE OR REPLACE TEMP TABLE conversions AS
SELECT * FROM (
    SELECT 'order:' || o.order_id AS conversion_id, 'order' AS conversion_type, o.created_at AS converted_at,
           coalesce(o.customer_id, 'email:' || o.customer_email_hash) AS customer_key,
           o.customer_email_hash AS email_hash, NULL::VARCHAR AS anonymous_id,
           (((o.total_price - least(o.refunded_amount, o.total_price)) * 100)::BIGINT * r.micro + 500000)
               // 1000000 AS net_cents
    FROM latest_orders o LEFT JOIN rates r USING (currency) WHERE NOT o.is_test
    UNION ALL
    SELECT 'signup:' || signup_id, 'signup', signed_up_at, NULL, email_hash, anonymous_id, 0
    FROM read_parquet($stg_signups, hive_partitioning = true) WHERE landing_date BETWEEN $conversions_first AND $ds
    QUALIFY row_number() OVER (PARTITION BY signup_id ORDER BY landing_date DESC, _row_number DESC) = 1
) WHERE converted_at::DATE BETWEEN $conversions_first AND $conversions_last;

-- name: touches
-- Journeys: visits of every browser tied to the conversion's identities within the lookback, then consecutive
-- touches of the same channel / influencer / campaign collapsed into the latest.
CREATE OR REPLACE TEMP TABLE touches AS
WITH journey_visits AS (
    SELECT visit_id, anonymous_id, visit_started_at, channel, influencer_id, campaign_id, customer_id, email_hash
    FROM read_parquet($fct_visit_published, hive_partitioning = true)
    WHERE visit_date BETWEEN $journey_visits_first AND $journey_visits_last
    UNION ALL
    SELECT visit_id, anonymous_id, visit_started_at, channel, influencer_id, campaign_id, customer_id, email_hash
    FROM fct_visit
), identities AS (
    -- A person is known by `customer:<id>`, `email:<hash>` and `anon:<browser>`; a guest order's customer_key is
    -- already `email:<hash>`. Each kind is joined on its bare value, so the ~1 M (browser, identity) pairs of the
    -- visits are never spelled out as strings and deduplicated, only the browsers of tonight's conversions.
    SELECT conversion_id, 'customer' AS kind, customer_key AS value
    FROM conversions WHERE customer_key IS NOT NULL AND NOT starts_with(customer_key, 'email:')
    UNION ALL SELECT conversion_id, 'email', substr(customer_key, 7)
    FROM conversions WHERE starts_with(customer_key, 'email:')
    UNION ALL SELECT conversion_id, 'email', email_hash FROM conversions WHERE email_hash IS NOT NULL
), browsers AS (
    SELECT i.conversion_id, v.anonymous_id FROM identities i
    JOIN journey_visits v ON i.kind = 'customer' AND v.customer_id = i.value
    UNION SELECT i.conversion_id, v.anonymous_id FROM identities i
    JOIN journey_visits v ON i.kind = 'email' AND v.email_hash = i.value
    UNION SELECT i.conversion_id, s.anonymous_id FROM identities i  -- a signup ties its browser to its email
    JOIN conversions s ON i.kind = 'email' AND s.email_hash = i.value AND s.anonymous_id IS NOT NULL
    UNION SELECT conversion_id, anonymous_id FROM conversions WHERE anonymous_id IS NOT NULL
), raw AS (
    SELECT c.conversion_id, c.converted_at, v.visit_id, v.visit_started_at AS touch_at, v.channel, v.influencer_id,
           v.campaign_id, concat_ws('|', coalesce(v.channel, ''), coalesce(v.influencer_id, ''),
                                    coalesce(v.campaign_id, '')) AS touch_key
    FROM browsers b JOIN conversions c USING (conversion_id) JOIN journey_visits v ON v.anonymous_id = b.anonymous_id
    WHERE v.visit_started_at BETWEEN c.converted_at - to_days($lookback_days) AND c.converted_at
), kept AS (
    SELECT * FROM raw
    QUALIFY touch_key IS DISTINCT FROM lead(touch_key) OVER (PARTITION BY conversion_id ORDER BY touch_at, visit_id)
)
SELECT *, row_number() OVER (PARTITION BY conversion_id ORDER BY touch_at, visit_id) AS touch_number,
       count(*) OVER (PARTITION BY conversion_id) AS touch_count
FROM kept;

-- name: fct_attribution
CREATE OR REPLACE TEMP TABLE fct_attribution AS
WITH decayed AS (
    SELECT *, pow(0.5, date_diff('microsecond', touch_at, converted_at) / 86400e6 / $half_life_days) AS decay
    FROM touches
), scored AS (  -- per conversion, once: not once per model after the models are crossed in
    SELECT *, max(touch_number) FILTER (WHERE channel <> 'direct') OVER c AS last_non_direct,
           decay / sum(decay) OVER c AS decay_share
    FROM decayed WINDOW c AS (PARTITION BY conversion_id)
), touch_credit AS (
    SELECT conversion_id, channel, influencer_id, campaign_id, m.model,
           CASE m.model
               WHEN 'first_touch' THEN (touch_number = 1)::DOUBLE
               WHEN 'last_touch' THEN (touch_number = CASE WHEN $direct_never_last
                                                           THEN coalesce(last_non_direct, touch_count)
                                                           ELSE touch_count END)::DOUBLE
               WHEN 'linear' THEN 1.0 / touch_count
               WHEN 'position_based' THEN CASE
                   WHEN touch_count = 1 THEN 1.0
                   WHEN touch_count = 2 THEN CASE WHEN touch_number = 1 THEN $pb_first / ($pb_first + $pb_last)
                                                  ELSE $pb_last / ($pb_first + $pb_last) END
                   WHEN touch_number = 1 THEN $pb_first WHEN touch_number = touch_count THEN $pb_last
                   ELSE $pb_middle / (touch_count - 2) END
               ELSE decay_share END AS credit,
           CASE WHEN m.model IN ('first_touch', 'last_touch') THEN 'last_click_utm' ELSE 'multi_touch' END AS evidence,
           1 AS source_order
    FROM scored CROSS JOIN (VALUES ('first_touch'), ('last_touch'), ('linear'), ('position_based'), ('time_decay'))
         m(model)
    -- code_first: an order with an influencer's code gives that influencer all the credit in every model
    WHERE conversion_id NOT IN (SELECT 'order:' || order_id FROM order_codes)
), code_credit AS (
    SELECT 'order:' || order_id AS conversion_id, 'influencer' AS channel, influencer_id, campaign_id, m.model,
           code_share AS credit, 'code' AS evidence, 0 AS source_order
    FROM order_codes CROSS JOIN (VALUES ('code'), ('first_touch'), ('last_touch'), ('linear'), ('position_based'),
                                        ('time_decay')) m(model)
), credits AS (
    SELECT * FROM code_credit UNION ALL SELECT * FROM touch_credit WHERE credit > 0
), every AS (  -- a conversion no rule credits gets one `none` row per model, so credits always add up to 1
    SELECT c.conversion_id, NULL::VARCHAR AS channel, NULL::VARCHAR AS influencer_id, NULL::VARCHAR AS campaign_id,
           m.model, 1.0::DOUBLE AS credit, 'none' AS evidence, 2 AS source_order
    FROM conversions c CROSS JOIN (VALUES ('code'), ('first_touch'), ('last_touch'), ('linear'), ('position_based'),
                                          ('time_decay')) m(model)
    ANTI JOIN credits k ON k.conversion_id = c.conversion_id AND k.model = m.model
), rows AS (
    SELECT conversion_id, model,
           CASE WHEN channel IS NULL AND influencer_id IS NULL THEN 'none'
                ELSE concat_ws(':', coalesce(channel, 'influencer'), coalesce(influencer_id, ''),
                               coalesce(campaign_id, '')) END AS credited_to,
           first(channel ORDER BY source_order) AS channel, first(influencer_id ORDER BY source_order) AS influencer_id,
           first(campaign_id ORDER BY source_order) AS campaign_id, first(evidence ORDER BY source_order) AS evidence,
           sum(credit) AS credit
    FROM (SELECT * FROM credits UNION ALL SELECT * FROM every) GROUP BY ALL
), cents AS (  -- net revenue split to the cent, largest remainder first, so a model's rows add up exactly
    SELECT r.*, c.conversion_type, c.converted_at, c.net_cents,
           floor(r.credit * c.net_cents)::BIGINT AS floor_cents, r.credit * c.net_cents AS share
    FROM rows r JOIN conversions c USING (conversion_id)
)
SELECT conversion_id, model, credited_to, conversion_type, converted_at, channel, influencer_id, campaign_id, evidence,
       credit,
       ((floor_cents + (row_number() OVER (PARTITION BY conversion_id, model ORDER BY floor_cents - share, credited_to)
                        <= net_cents - sum(floor_cents) OVER (PARTITION BY conversion_id, model))::BIGINT)
        / 100)::DECIMAL(18, 2) AS attributed_revenue,
       converted_at::DATE AS converted_date
FROM cents ORDER BY converted_date, conversion_id, model, credited_to;
