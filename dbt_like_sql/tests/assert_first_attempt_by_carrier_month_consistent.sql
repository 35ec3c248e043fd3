-- first_attempt_by_carrier_month: one row per carrier and month, outcomes adding up to the delivered shipments.
{{ config(severity='error') }}
with grain as (
    select carrier_code, delivered_month, count(*) over (partition by account, carrier_code, delivered_month) as occurrences, *
    from {{ ref('first_attempt_by_carrier_month') }}
)
select account, carrier_code, delivered_month, occurrences, delivered_shipments, first_attempt_rate
from grain
where occurrences > 1
    or first_attempt_deliveries + after_failed_attempt + after_pickup_point_notice + after_exception
        != delivered_shipments
    or first_attempt_rate not between 0 and 1
