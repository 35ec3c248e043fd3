-- on_time_by_carrier_month: one row per carrier and month, early + on time + late = promised <= delivered.
{{ config(severity='error') }}
with grain as (
    select count(*) over (partition by account, carrier_code, delivered_month) as occurrences, *
    from {{ ref('on_time_by_carrier_month') }}
)
select account, carrier_code, delivered_month, occurrences, delivered_shipments, promised_shipments, on_time_rate
from grain
where occurrences > 1
    or early + on_time + late != promised_shipments
    or promised_shipments > delivered_shipments
    or on_time_rate not between 0 and 1
