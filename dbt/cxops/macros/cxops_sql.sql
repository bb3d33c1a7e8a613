{#- Small SQL pieces that differ between warehouses (dispatched: `cxops__NAME` per adapter). -#}

{#- A row that is current: databases delete gone keys; Parquet keeps tombstones. -#}
{% macro current_row() -%}
    coalesce(_cxops_deleted, false) = false
{%- endmacro %}

{#- `expression` as an IEEE double. -#}
{% macro double(expression) -%}
    {{ return(adapter.dispatch('double', 'cxops')(expression)) }}
{%- endmacro %}
{% macro default__double(expression) -%} cast({{ expression }} as double precision) {%- endmacro %}
{% macro duckdb__double(expression) -%} cast({{ expression }} as double) {%- endmacro %}

{#- A decimal constant written as text and read as the double nearest to it (a numeric
    literal may pass through a decimal type first, off by one unit in the last place). -#}
{% macro double_constant(text) -%}
    {{ cxops.double("'" ~ text ~ "'") }}
{%- endmacro %}

{#- The first day of the UTC month of a timestamp with time zone, as a date. -#}
{% macro utc_month(column) -%}
    {{ return(adapter.dispatch('utc_month', 'cxops')(column)) }}
{%- endmacro %}
{% macro default__utc_month(column) -%}
    cast(date_trunc('month', {{ column }} at time zone 'UTC') as date)
{%- endmacro %}
{% macro duckdb__utc_month(column) -%}
    cast(date_trunc('month', timezone('UTC', {{ column }})) as date)
{%- endmacro %}
{% macro snowflake__utc_month(column) -%}
    cast(date_trunc('month', convert_timezone('UTC', {{ column }})) as date)
{%- endmacro %}

{#- Hours from `start` to `end` (timestamps with time zone), as a double. -#}
{% macro hours_between(start, end) -%}
    {{ return(adapter.dispatch('hours_between', 'cxops')(start, end)) }}
{%- endmacro %}
{% macro default__hours_between(start, end) -%}
    extract(epoch from ({{ end }} - {{ start }})) / 3600.0
{%- endmacro %}
{% macro duckdb__hours_between(start, end) -%}
    (epoch({{ end }}) - epoch({{ start }})) / 3600.0
{%- endmacro %}
{% macro snowflake__hours_between(start, end) -%}
    datediff('second', {{ start }}, {{ end }}) / 3600.0
{%- endmacro %}

{#- The median of `expression` in an aggregate. -#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median', 'cxops')(expression)) }}
{%- endmacro %}
{% macro default__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}
{% macro duckdb__median(expression) -%} median({{ expression }}) {%- endmacro %}
{% macro snowflake__median(expression) -%} median({{ expression }}) {%- endmacro %}
