-- Each version of each survey, with `is_current`: the version the latest sync saw.
with versions as (
    select
        survey_id,
        version,
        kind,
        name,
        questions,
        {{ adapter.quote('commit') }} as commit_sha,
        _cxops_synced_at as synced_at
    from {{ source('cxops', 'surveys') }}
    where {{ cxops.current_row() }}
)

select
    versions.*,
    row_number() over (
        partition by survey_id order by synced_at desc, version desc
    ) = 1 as is_current
from versions
