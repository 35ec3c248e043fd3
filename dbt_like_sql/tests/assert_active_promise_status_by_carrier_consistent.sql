-- active_promise_status_by_carrier: every group has shipments and each carrier's shares add up to 1.
{{ config(severity='error') }}
select account, carrier_code, count(*) as statuses, min(active_shipments) as fewest, sum(share_of_carrier) as total_share
from {{ ref('active_promise_status_by_carrier') }}
group by account, carrier_code
having abs(sum(share_of_carrier) - 1) > 1e-9 or min(active_shipments) < 1
