{#- The report's 95% intervals (cxops/intervals.py), as SQL expressions over doubles.

    Each is the same arithmetic in the same order as the Python function it names, so a
    warehouse with IEEE doubles and a correctly rounded sqrt (all of them) gets the same
    bits: the figures equal `cxops report --json` to every decimal it shows. -#}

{#- z_{0.975}: `statistics.NormalDist().inv_cdf(0.975)` (`cxops.intervals.z_quantile`). -#}
{% macro z_975() -%}
    {{ cxops.double_constant('1.9599639845400536') }}
{%- endmacro %}

{#- Rocks (2016) adjusted-Wald interval of the NPS (`nps_adjusted_wald`), in points:
    ¾ added to promoters and to detractors, 3 to n; clipped to -1..1, then times 100.
    `side`: 'low' or 'high'. -#}
{% macro nps_adjusted_wald(promoters, detractors, n, side) -%}
    {%- set n_adj = cxops.double('(' ~ n ~ ') + 3') -%}
    {%- set pp = '((' ~ cxops.double(promoters) ~ ' + ' ~ cxops.double_constant('0.75') ~ ') / ' ~ n_adj ~ ')' -%}
    {%- set pd = '((' ~ cxops.double(detractors) ~ ' + ' ~ cxops.double_constant('0.75') ~ ') / ' ~ n_adj ~ ')' -%}
    {%- set adjusted = '(' ~ pp ~ ' - ' ~ pd ~ ')' -%}
    {%- set half = '(' ~ cxops.z_975() ~ ' * sqrt((' ~ pp ~ ' + ' ~ pd ~ ' - ' ~ adjusted ~ ' * ' ~ adjusted ~ ') / ' ~ n_adj ~ '))' -%}
    {%- if side == 'low' -%}
    100.0e0 * greatest({{ cxops.double_constant('-1') }}, {{ adjusted }} - {{ half }})
    {%- else -%}
    100.0e0 * least({{ cxops.double_constant('1') }}, {{ adjusted }} + {{ half }})
    {%- endif -%}
{%- endmacro %}

{#- Wilson (1927) score interval of hits/n (`wilson_interval`), in percent: 0 when there
    is no hit, 100 when all are hits. `side`: 'low' or 'high'. -#}
{% macro wilson(hits, n, side) -%}
    {%- set z = cxops.z_975() -%}
    {%- set p = '(' ~ cxops.double(hits) ~ ' / ' ~ cxops.double(n) ~ ')' -%}
    {%- set z2 = '(' ~ z ~ ' * ' ~ z ~ ')' -%}
    {%- set shrink = '(' ~ cxops.double_constant('1') ~ ' + ' ~ z2 ~ ' / ' ~ cxops.double(n) ~ ')' -%}
    {%- set centre = '((' ~ p ~ ' + ' ~ z2 ~ ' / ' ~ cxops.double('2 * (' ~ n ~ ')') ~ ') / ' ~ shrink ~ ')' -%}
    {%- set half = '(' ~ z ~ ' * sqrt(' ~ p ~ ' * (' ~ cxops.double_constant('1') ~ ' - ' ~ p ~ ') / ' ~ cxops.double(n) ~ ' + ' ~ z2 ~ ' / ' ~ cxops.double('4 * (' ~ n ~ ') * (' ~ n ~ ')') ~ ') / ' ~ shrink ~ ')' -%}
    {%- if side == 'low' -%}
    100.0e0 * case when ({{ hits }}) = 0 then {{ cxops.double_constant('0') }}
        else greatest({{ cxops.double_constant('0') }}, {{ centre }} - {{ half }}) end
    {%- else -%}
    100.0e0 * case when ({{ hits }}) = ({{ n }}) then {{ cxops.double_constant('1') }}
        else least({{ cxops.double_constant('1') }}, {{ centre }} + {{ half }}) end
    {%- endif -%}
{%- endmacro %}

{#- Student's t interval of a mean from n, Σx and Σx² (`t_interval`); null below n = 2.
    `t` is t_{0.975, n-1} (`t_975(df)` below). `side`: 'low' or 'high'. -#}
{% macro t_interval(n, total, squares, t, side) -%}
    {%- set mean = '(' ~ cxops.double(total) ~ ' / ' ~ cxops.double(n) ~ ')' -%}
    {%- set variance = 'greatest(' ~ cxops.double_constant('0') ~ ', (' ~ cxops.double(squares) ~ ' - ' ~ cxops.double(n) ~ ' * ' ~ mean ~ ' * ' ~ mean ~ ') / ' ~ cxops.double('(' ~ n ~ ') - 1') ~ ')' -%}
    {%- set half = '(' ~ t ~ ' * sqrt(' ~ variance ~ ' / ' ~ cxops.double(n) ~ '))' -%}
    case when ({{ n }}) < 2 then null
    else {{ mean }} {{ '-' if side == 'low' else '+' }} {{ half }} end
{%- endmacro %}

{#- t_{0.975, df}: the seed `cxops_t_quantiles` (`scripts/dbt_t_quantiles.py`) for df up
    to 300 (its column `t` joined by the caller as `seeded`), above that the Cornish-Fisher
    expansion to df^-4, within about 1e-12 of `cxops.intervals.t_quantile` there. -#}
{% macro t_975(df, seeded) -%}
    {%- set z = cxops.z_975() -%}
    {%- set f = cxops.double(df) -%}
    case when ({{ df }}) <= 300 then {{ seeded }}
    else {{ z }}
        + (power({{ z }}, 3) + {{ z }}) / 4.0e0 / {{ f }}
        + (5.0e0 * power({{ z }}, 5) + 16.0e0 * power({{ z }}, 3) + 3.0e0 * {{ z }}) / 96.0e0 / power({{ f }}, 2)
        + (3.0e0 * power({{ z }}, 7) + 19.0e0 * power({{ z }}, 5) + 17.0e0 * power({{ z }}, 3) - 15.0e0 * {{ z }}) / 384.0e0 / power({{ f }}, 3)
        + (79.0e0 * power({{ z }}, 9) + 776.0e0 * power({{ z }}, 7) + 1482.0e0 * power({{ z }}, 5) - 1920.0e0 * power({{ z }}, 3) - 945.0e0 * {{ z }}) / 92160.0e0 / power({{ f }}, 4)
    end
{%- endmacro %}
