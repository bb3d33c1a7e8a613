-- One row per answered question (long format).
select
    response_id,
    question_id,
    survey_id,
    contact_key,
    question_type,
    value_number,
    value_text,
    value_json
from {{ source('cxops', 'answers') }}
where {{ cxops.current_row() }}
