{{ config(materialized='table', tags=['full_history']) }}
-- Numbers that never got a scan (often the wrong carrier picked) and numbers TrackingMore gave up
-- on (status expired), per carrier, over every tracking of the carrier.
select
    account,
    carrier_code,
    count(*) as shipments,
    count(*) filter (where is_never_scanned) as never_scanned,
    cast(count(*) filter (where is_never_scanned) as double) / count(*) as never_scanned_rate,
    count(*) filter (where status = 'expired') as expired,
    cast(count(*) filter (where status = 'expired') as double) / count(*) as expired_rate
from {{ ref('fct_shipment_journeys') }}
group by account, carrier_code
