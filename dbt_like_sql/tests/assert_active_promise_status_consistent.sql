-- active_promise_status agrees with promise_business_days_left, which only active shipments have.
{{ config(severity='error') }}
select tracking_id, is_active, active_promise_status, promise_business_days_left
from {{ ref('fct_shipment_journeys') }}
where (active_promise_status is null) <> (promise_business_days_left is null)
    or (active_promise_status = 'overdue') <> (promise_business_days_left < 0)
    or (active_promise_status = 'on_track')
        <> (promise_business_days_left > {{ var('promise_at_risk_within_business_days') }})
    or (promise_business_days_left is not null and not is_active)
