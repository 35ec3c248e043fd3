{{ config(materialized='incremental', unique_key=['account', 'tracking_id'], incremental_strategy='delete+insert') }}
-- One row per tracking (account, tracking_id): the first time each milestone was seen, over both
-- legs. "First" is the earliest courier-local time, not the position in the list. A tracking
-- without checkpoints has a row too (checkpoints 0, no times), so an incremental run replaces the
-- row of a tracking whose new version lost its checkpoints instead of keeping the old one.
with milestones as (
    select
        account,
        tracking_id,
        count(*) as checkpoints,
        min(checkpoint_at) as first_scan_at,
        max(checkpoint_at) as last_scan_at,
        min(checkpoint_at) filter (where checkpoint_status = 'delivered') as delivered_at,
        min(checkpoint_at) filter (where checkpoint_status = 'pickup') as first_out_for_delivery_at,
        min(checkpoint_at) filter (where checkpoint_status = 'exception') as first_exception_at,
        count(*) filter (where checkpoint_status = 'exception') > 0 as ever_exception
    from {{ ref('stg_checkpoints') }}
    {% if is_incremental() %}
    -- the changed trackings' checkpoints are the rows this load wrote (docs/architecture.md)
    where loaded_at = (select loaded_at from {{ source('raw', 'load_info') }})
    {% endif %}
    group by account, tracking_id
)

select
    trackings.account,
    trackings.tracking_id,
    coalesce(milestones.checkpoints, 0) as checkpoints,
    milestones.first_scan_at,
    milestones.last_scan_at,
    milestones.delivered_at,
    milestones.first_out_for_delivery_at,
    milestones.first_exception_at,
    coalesce(milestones.ever_exception, false) as ever_exception
from {{ ref('stg_trackings') }} as trackings
left join milestones
    on milestones.account = trackings.account and milestones.tracking_id = trackings.tracking_id
{% if is_incremental() %}
where trackings.loaded_at = (select loaded_at from {{ source('raw', 'load_info') }})
{% endif %}
