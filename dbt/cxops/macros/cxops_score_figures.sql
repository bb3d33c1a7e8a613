{#- The report's figures of one group of counted answers (cxops/analysis/metrics.py):
    `grouped` has the columns of `group_columns`, `kind`, `n`, `promoters`, `detractors`,
    `top_box`, `score_sum` and `score_squares`. Values as the report keeps them before it
    rounds: NPS in points, shares in percent, means in the scale's units. -#}
{#- Written after a `with grouped as (...),` of the model. -#}
{% macro score_figures(grouped, group_columns) -%}
seeded as (
    select
        grouped.*,
        {{ cxops.double('quantiles.t_975') }} as seeded_t
    from {{ grouped }} as grouped
    left join {{ ref('cxops_t_quantiles') }} as quantiles
        on quantiles.df = grouped.n - 1
)

select
    {% for column in group_columns -%}
    {{ column }},
    {% endfor -%}
    kind,
    case kind when 'nps' then 'nps' when 'csat' then 'satisfied' else 'easy' end as headline,
    n,
    n < {{ var('cxops_min_n', 5) }} as suppressed,
    promoters,
    case when kind = 'nps' then n - promoters - detractors end as passives,
    detractors,
    case when kind = 'nps' then
        100.0e0 * {{ cxops.double('promoters - detractors') }} / {{ cxops.double('n') }}
    end as nps,
    case when kind = 'nps' then {{ cxops.nps_adjusted_wald('promoters', 'detractors', 'n', 'low') }} end as nps_ci_low,
    case when kind = 'nps' then {{ cxops.nps_adjusted_wald('promoters', 'detractors', 'n', 'high') }} end as nps_ci_high,
    top_box,
    case when kind <> 'nps' then
        100.0e0 * {{ cxops.double('top_box') }} / {{ cxops.double('n') }}
    end as top_box_pct,
    case when kind <> 'nps' then {{ cxops.wilson('top_box', 'n', 'low') }} end as top_box_ci_low,
    case when kind <> 'nps' then {{ cxops.wilson('top_box', 'n', 'high') }} end as top_box_ci_high,
    {{ cxops.double('score_sum') }} / {{ cxops.double('n') }} as mean,
    {{ cxops.t_interval('n', 'score_sum', 'score_squares', cxops.t_975('n - 1', 'seeded_t'), 'low') }} as mean_ci_low,
    {{ cxops.t_interval('n', 'score_sum', 'score_squares', cxops.t_975('n - 1', 'seeded_t'), 'high') }} as mean_ci_high
from seeded
{%- endmacro %}

{#- Counted answers (`cxops_scored_answers`) tallied by `group_columns`. -#}
{% macro score_tally(group_columns) -%}
select
    {% for column in group_columns -%}
    {{ column }},
    {% endfor -%}
    kind,
    count(*) as n,
    case when kind = 'nps' then sum(case when score >= 9 then 1 else 0 end) end as promoters,
    case when kind = 'nps' then sum(case when score <= 6 then 1 else 0 end) end as detractors,
    case when kind <> 'nps' then sum(case when is_top_box then 1 else 0 end) end as top_box,
    sum(score) as score_sum,
    sum(score * score) as score_squares
from {{ ref('cxops_scored_answers') }}
group by {% for column in group_columns %}{{ column }}, {% endfor %}kind
{%- endmacro %}
