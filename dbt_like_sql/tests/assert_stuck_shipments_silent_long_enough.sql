-- Every shipment on the stuck list is active and silent for at least var('stuck_after_days') days.
{{ config(severity='error') }}
select tracking_id, status, last_checkpoint_at, days_since_last_checkpoint
from {{ ref('stuck_shipments') }}
where status in ('delivered', 'expired')
    or days_since_last_checkpoint is null
    or days_since_last_checkpoint < {{ var('stuck_after_days') }}
