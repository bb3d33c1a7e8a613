-- The keys of several columns (docs/warehouse.md): no key twice.
select 'answers' as source_table, count(*) as rows_with_key
from {{ source('cxops', 'answers') }}
group by response_id, question_id
having count(*) > 1
union all
select 'task_events', count(*)
from {{ source('cxops', 'task_events') }}
group by task_id, seq
having count(*) > 1
union all
select 'surveys', count(*)
from {{ source('cxops', 'surveys') }}
group by survey_id, version
having count(*) > 1
