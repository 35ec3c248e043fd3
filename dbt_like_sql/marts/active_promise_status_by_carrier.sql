{{ config(materialized='table') }}
-- Where the active shipments stand against their promise, per carrier: how many are on track, at
-- risk (at most var('promise_at_risk_within_business_days') business days left) or overdue at the
-- data's as-of time. Active shipments without a promise rule or without a scan are not counted.
with judged as (
    select account, carrier_code, active_promise_status
    from {{ ref('fct_shipment_journeys') }}
    where active_promise_status is not null
)

select
    account,
    carrier_code,
    active_promise_status,
    count(*) as active_shipments,
    cast(count(*) as double) / sum(count(*)) over (partition by account, carrier_code) as share_of_carrier
from judged
group by account, carrier_code, active_promise_status
