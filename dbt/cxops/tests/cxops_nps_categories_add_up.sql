-- Promoters, passives and detractors are every counted NPS answer, in both marts.
select 'by_wave' as mart, survey_id, segment, n from {{ ref('cxops_scores_by_wave') }}
where kind = 'nps' and (promoters + passives + detractors <> n or passives < 0)
union all
select 'by_month' as mart, survey_id, segment, n from {{ ref('cxops_scores_by_month') }}
where kind = 'nps' and (promoters + passives + detractors <> n or passives < 0)
