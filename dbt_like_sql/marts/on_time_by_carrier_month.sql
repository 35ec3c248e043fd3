{{ config(materialized='table', tags=['full_history']) }}
-- Delivered shipments against their promise (var('delivery_promises')) per carrier and month of
-- delivery: early, on time or late by transit business days. Shipments without a promise rule
-- are counted in delivered_shipments only; on_time_rate = (early + on_time) / promised_shipments.
select
    account,
    carrier_code,
    delivered_month,
    count(*) as delivered_shipments,
    count(delivery_promise_status) as promised_shipments,
    count(*) filter (where delivery_promise_status = 'early') as early,
    count(*) filter (where delivery_promise_status = 'on_time') as on_time,
    count(*) filter (where delivery_promise_status = 'late') as late,
    cast(count(*) filter (where delivery_promise_status in ('early', 'on_time')) as double)
        / nullif(count(delivery_promise_status), 0) as on_time_rate
from {{ ref('fct_shipment_journeys') }}
where delivered_month is not null
group by account, carrier_code, delivered_month
