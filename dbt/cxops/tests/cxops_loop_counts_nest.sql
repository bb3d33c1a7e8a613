-- Closed on time is part of closed; closed, withdrawn and open are every task created.
select survey_id, assignee, created_month
from {{ ref('cxops_loop_by_assignee') }}
where tasks_closed_on_time > tasks_closed
    or tasks_closed + tasks_withdrawn + tasks_open <> tasks_created
    or (tasks_closed > 0) <> (median_hours_to_close is not null)
    or median_hours_to_close < 0
