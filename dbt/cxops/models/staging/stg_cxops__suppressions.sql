-- Addresses never to be contacted (the address itself left out).
select
    suppression_id,
    contact_key,
    reason,
    source,
    created_at
from {{ source('cxops', 'suppressions') }}
where {{ cxops.current_row() }}
