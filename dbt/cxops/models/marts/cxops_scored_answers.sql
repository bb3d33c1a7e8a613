-- Every answer the report counts: a confirmed response, not suspect, whose main score is
-- a whole number on the survey's scale (nps 0-10, csat 1-5, ces 1-7), with the survey's
-- kind as its current version says.
with kinds as (
    select survey_id, kind
    from {{ ref('stg_cxops__surveys') }}
    where is_current and kind in ('nps', 'csat', 'ces')
)

select
    responses.response_id,
    responses.survey_id,
    kinds.kind,
    responses.wave_id,
    responses.segment,
    {{ cxops.utc_month('responses.first_answered_at') }} as answered_month,
    cast(responses.score as integer) as score,
    case kinds.kind
        when 'csat' then responses.score >= 4
        when 'ces' then responses.score >= 5
        else false
    end as is_top_box
from {{ ref('stg_cxops__responses') }} as responses
inner join kinds on kinds.survey_id = responses.survey_id
where responses.confirmed
    and not responses.suspect
    and responses.score is not null
    and responses.score = floor(responses.score)
    and responses.score >= case kinds.kind when 'nps' then 0 else 1 end
    and responses.score <= case kinds.kind when 'nps' then 10 when 'csat' then 5 else 7 end
