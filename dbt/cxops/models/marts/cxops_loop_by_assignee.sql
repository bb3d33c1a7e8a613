-- Closing the loop, per survey × assignee × month the tasks were created (UTC): how many
-- tasks, how many closed, closed by their due time, withdrawn, still open, and the median
-- hours from creation to closing. The assignee is the task's current one.
with tasks as (
    select
        survey_id,
        assignee,
        {{ cxops.utc_month('created_at') }} as created_month,
        status,
        closed_at,
        due_at,
        case when status = 'closed' then {{ cxops.hours_between('created_at', 'closed_at') }} end
            as hours_to_close
    from {{ ref('stg_cxops__tasks') }}
)

select
    survey_id,
    assignee,
    created_month,
    count(*) as tasks_created,
    sum(case when status = 'closed' then 1 else 0 end) as tasks_closed,
    sum(case when status = 'closed' and closed_at <= due_at then 1 else 0 end)
        as tasks_closed_on_time,
    sum(case when status = 'withdrawn' then 1 else 0 end) as tasks_withdrawn,
    sum(case when status = 'open' then 1 else 0 end) as tasks_open,
    {{ cxops.median('hours_to_close') }} as median_hours_to_close
from tasks
group by survey_id, assignee, created_month
