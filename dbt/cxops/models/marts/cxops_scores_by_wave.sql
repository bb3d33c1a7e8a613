-- NPS, CSAT and CES of each survey × wave × segment: `cxops report --wave W --json`'s
-- `by_segment` figures of the main question, unrounded.
with grouped as (
    {{ cxops.score_tally(['survey_id', 'wave_id', 'segment']) }}
),

{{ cxops.score_figures('grouped', ['survey_id', 'wave_id', 'segment']) }}
