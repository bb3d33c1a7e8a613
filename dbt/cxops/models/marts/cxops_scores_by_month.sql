-- NPS, CSAT and CES of each survey × segment × month (the UTC month of the first answer).
with grouped as (
    {{ cxops.score_tally(['survey_id', 'segment', 'answered_month']) }}
),

{{ cxops.score_figures('grouped', ['survey_id', 'segment', 'answered_month']) }}
