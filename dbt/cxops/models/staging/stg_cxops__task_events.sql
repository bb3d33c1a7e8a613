-- What happened to a task, one row per event (`text` left out: it may quote people).
select
    task_id,
    seq,
    kind,
    {{ adapter.quote("at") }} as event_at,
    outcome,
    from_assignee,
    to_assignee,
    {{ adapter.quote("until") }} as snoozed_until
from {{ source('cxops', 'task_events') }}
where {{ cxops.current_row() }}
