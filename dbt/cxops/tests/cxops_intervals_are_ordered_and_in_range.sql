-- Every interval has low <= high, within its metric's range (NPS -100..100, shares 0..100),
-- and top-box answers are at most all answers.
{% for mart in ['cxops_scores_by_wave', 'cxops_scores_by_month'] %}
select '{{ mart }}' as mart, survey_id, segment, n from {{ ref(mart) }}
where nps_ci_low > nps_ci_high
    or nps_ci_low < -100 or nps_ci_high > 100
    or nps < -100 or nps > 100
    or top_box_ci_low > top_box_ci_high
    or top_box_ci_low < 0 or top_box_ci_high > 100
    or top_box > n
    or mean_ci_low > mean_ci_high
    or (n >= 2 and mean_ci_low is null)
    or (kind = 'nps') <> (nps is not null)
{% if not loop.last %}union all{% endif %}
{% endfor %}
