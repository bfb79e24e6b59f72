-- One row per campaign × influencer: what the deal cost and what it brought in, with revenue and ROAS under the
-- affiliate-code view (what commission is paid on) and the last-touch view (what web analytics shows) side by side.
CREATE OR REPLACE VIEW marts.campaign_scorecard AS
SELECT
    p.campaign_id,
    p.campaign_name,
    p.brand,
    p.influencer_id,
    i.full_name AS influencer_name,
    i.main_platform,
    p.start_date,
    p.end_date,
    p.cost,
    p.posts,
    p.engagements,
    p.emv,
    p.visits,
    p.cpe,
    p.cpv,
    p.net_revenue AS revenue_last_touch,
    p.orders AS orders_last_touch,
    p.roas AS roas_last_touch,
    c.net_revenue AS revenue_code,
    c.orders AS orders_code,
    c.roas AS roas_code,
    p.as_of_date
FROM marts.mart_campaign_performance AS p
JOIN marts.mart_campaign_performance AS c
  ON c.campaign_id = p.campaign_id AND c.influencer_id = p.influencer_id AND c.model = 'code'
LEFT JOIN marts.dim_influencer AS i ON i.influencer_id = p.influencer_id
WHERE p.model = 'last_touch'
