-- One row per social account: who it belongs to, how big it is and how well it engages, against the 3-5 % target.
CREATE OR REPLACE VIEW marts.account_scorecard AS
SELECT
    a.account_id,
    a.platform,
    a.handle,
    i.full_name AS influencer_name,
    a.niche,
    a.tier,
    a.followers,
    a.er_30d_mean,
    a.er_benchmark
FROM marts.dim_account AS a
LEFT JOIN marts.dim_influencer AS i ON i.influencer_id = a.influencer_id
