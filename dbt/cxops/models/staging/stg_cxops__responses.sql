-- One row per answered invitation, with its main score.
select
    response_id,
    send_id,
    survey_id,
    wave_id,
    contact_key,
    segment,
    locale,
    status,
    score,
    suspect,
    confirmed,
    first_answered_at,
    submitted_at,
    updated_at,
    revision
from {{ source('cxops', 'responses') }}
where {{ cxops.current_row() }}
