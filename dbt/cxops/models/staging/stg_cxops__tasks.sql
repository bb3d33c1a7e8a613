-- One row per follow-up task.
select
    task_id,
    response_id,
    survey_id,
    wave_id,
    contact_key,
    segment,
    rule_id,
    rule_version,
    assignee,
    priority,
    status,
    outcome,
    created_at,
    due_at,
    first_action_at,
    closed_at,
    snoozed_until,
    escalation_step
from {{ source('cxops', 'tasks') }}
where {{ cxops.current_row() }}
