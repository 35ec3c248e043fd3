{{ config(materialized='table', tags=['full_history']) }}
-- First-attempt delivery per carrier and month of delivery (courier-local date of the delivered
-- scan), over shipments whose current status is delivered. A delivery is first-attempt unless a
-- failed attempt, a pickup-point notice or an exception was scanned after the first
-- out-for-delivery and before the delivered scan (fct_shipment_journeys.delivery_attempt).
select
    account,
    carrier_code,
    delivered_month,
    count(*) as delivered_shipments,
    count(*) filter (where delivery_attempt = 'first_attempt') as first_attempt_deliveries,
    count(*) filter (where delivery_attempt = 'after_failed_attempt') as after_failed_attempt,
    count(*) filter (where delivery_attempt = 'after_pickup_point_notice') as after_pickup_point_notice,
    count(*) filter (where delivery_attempt = 'after_exception') as after_exception,
    cast(count(*) filter (where delivery_attempt = 'first_attempt') as double) / count(*) as first_attempt_rate
from {{ ref('fct_shipment_journeys') }}
where delivered_month is not null
group by account, carrier_code, delivered_month
