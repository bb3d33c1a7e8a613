-- One row per message of the send ledger (step 0 the invitation, k reminder k).
select
    send_id,
    survey_id,
    wave_id,
    step,
    contact_key,
    segment,
    locale,
    status,
    channel,
    created_at,
    sent_at,
    delivered_at,
    opened_at,
    clicked_at
from {{ source('cxops', 'invitations') }}
where {{ cxops.current_row() }}
