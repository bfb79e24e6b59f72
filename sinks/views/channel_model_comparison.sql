-- One row per month × channel: conversions credited by each attribution model side by side, so the models'
-- disagreement is visible at a glance.
CREATE OR REPLACE VIEW marts.channel_model_comparison AS
SELECT
    month_start_date,
    credited_to AS channel,
    sum(CASE WHEN model = 'last_touch' THEN conversions END) AS last_touch,
    sum(CASE WHEN model = 'first_touch' THEN conversions END) AS first_touch,
    sum(CASE WHEN model = 'linear' THEN conversions END) AS linear,
    sum(CASE WHEN model = 'position_based' THEN conversions END) AS position_based,
    sum(CASE WHEN model = 'time_decay' THEN conversions END) AS time_decay,
    sum(CASE WHEN model = 'markov' THEN conversions END) AS markov,
    sum(CASE WHEN model = 'shapley' THEN conversions END) AS shapley,
    sum(CASE WHEN model = 'markov' THEN removal_effect END) AS markov_removal_effect
FROM marts.mart_channel_attribution
WHERE level = 'channel'
GROUP BY month_start_date, credited_to
