{{ config(materialized='table') }}
-- Stuck shipments per carrier and current status, over active shipments that have at least one
-- checkpoint (never-scanned numbers are counted in scan_coverage_by_carrier instead).
select
    account,
    carrier_code,
    status,
    count(*) as active_shipments,
    count(*) filter (where is_stuck) as stuck_shipments,
    cast(count(*) filter (where is_stuck) as double) / count(*) as stuck_share,
    max(days_since_last_checkpoint) as max_days_since_last_checkpoint
from {{ ref('fct_shipment_journeys') }}
where is_active and not is_never_scanned
group by account, carrier_code, status
