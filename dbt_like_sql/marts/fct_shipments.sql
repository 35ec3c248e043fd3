{{ config(materialized='incremental', unique_key=['account', 'tracking_id'], incremental_strategy='delete+insert') }}
-- One row per tracking (account, tracking_id): current status joined to its milestones. delivery_days counts only
-- shipments whose current status is delivered, so a later exception after a delivered scan
-- does not produce a delivery time.
select
    trackings.account,
    trackings.tracking_id,
    trackings.carrier_code,
    trackings.status,
    trackings.original_country,
    trackings.destination_country,
    milestones.first_scan_at,
    milestones.delivered_at,
    case
        when trackings.status = 'delivered'
            then (epoch(milestones.delivered_at) - epoch(milestones.first_scan_at)) / 86400.0
    end as delivery_days,
    coalesce(trackings.status in ('exception', 'undelivered', 'expired'), false) as is_exception,
    coalesce(milestones.ever_exception, false) as ever_exception,
    coalesce(milestones.checkpoints > 0, false) as is_scanned,
    coalesce(milestones.checkpoints, 0) as checkpoints,
    milestones.first_out_for_delivery_at,
    milestones.first_exception_at,
    cast(date_trunc('week', milestones.first_scan_at) as date) as week_start,
    trackings.created_at
from {{ ref('stg_trackings') }} as trackings
left join {{ ref('int_shipment_milestones') }} as milestones
    on trackings.account = milestones.account
    and trackings.tracking_id = milestones.tracking_id
{% if is_incremental() %}
where trackings.loaded_at = (select loaded_at from {{ source('raw', 'load_info') }})
{% endif %}
