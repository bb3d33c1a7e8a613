-- Each counted answer is in exactly one wave and one month: the totals per survey agree.
with by_wave as (
    select survey_id, sum(n) as answers from {{ ref('cxops_scores_by_wave') }} group by survey_id
),
by_month as (
    select survey_id, sum(n) as answers from {{ ref('cxops_scores_by_month') }} group by survey_id
),
counted as (
    select survey_id, count(*) as answers from {{ ref('cxops_scored_answers') }} group by survey_id
)

select counted.survey_id
from counted
left join by_wave on by_wave.survey_id = counted.survey_id
left join by_month on by_month.survey_id = counted.survey_id
where by_wave.answers is null or by_month.answers is null
    or by_wave.answers <> counted.answers or by_month.answers <> counted.answers
