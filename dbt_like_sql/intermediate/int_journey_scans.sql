{{ config(materialized='incremental', unique_key=['account', 'tracking_id'], incremental_strategy='delete+insert') }}
-- One row per tracking (account, tracking_id): what its checkpoints say beyond the milestones, for
-- fct_shipment_journeys: when the carrier received it, its newest checkpoint, and what happened
-- between the first out-for-delivery and the delivered scan of a delivered shipment. A model of its
-- own so that an incremental run reads only the changed trackings' checkpoints (docs/models.md).
with shipments as (
    select account, tracking_id, status, first_out_for_delivery_at, delivered_at
    from {{ ref('fct_shipments') }}
    {% if is_incremental() %}
    where (account, tracking_id) in (select (account, tracking_id) from {{ source('raw', 'changed_trackings') }})
    {% endif %}
),

checkpoints as (
    select
        account,
        tracking_id,
        checkpoint_at,
        checkpoint_status,
        lower(trim(substatus)) as substatus,
        item_node
    from {{ ref('stg_checkpoints') }}
    {% if is_incremental() %}
    -- the changed trackings' checkpoints are the rows this load wrote (docs/architecture.md)
    where loaded_at = (select loaded_at from {{ source('raw', 'load_info') }})
    {% endif %}
),

scan_times as (
    select
        account,
        tracking_id,
        min(checkpoint_at) filter (where item_node = 'ItemReceived') as received_at,
        max(checkpoint_at) as last_checkpoint_at
    from checkpoints
    group by account, tracking_id
),

-- What happened between the first out-for-delivery and the delivered scan of delivered shipments.
last_mile_events as (
    select
        shipments.account,
        shipments.tracking_id,
        count(*) filter (where checkpoints.checkpoint_status = 'undelivered') > 0 as had_failed_attempt,
        count(*) filter (where checkpoints.substatus = 'pickup002') > 0 as had_pickup_point_notice,
        count(*) filter (where checkpoints.checkpoint_status = 'exception') > 0 as had_exception
    from shipments
    inner join checkpoints
        on checkpoints.account = shipments.account
        and checkpoints.tracking_id = shipments.tracking_id
        and checkpoints.checkpoint_at >= shipments.first_out_for_delivery_at
        and checkpoints.checkpoint_at < shipments.delivered_at
    where shipments.status = 'delivered'
    group by shipments.account, shipments.tracking_id
)

select
    shipments.account,
    shipments.tracking_id,
    scan_times.received_at,
    scan_times.last_checkpoint_at,
    last_mile_events.had_failed_attempt,
    last_mile_events.had_pickup_point_notice,
    last_mile_events.had_exception
from shipments
left join scan_times
    on scan_times.account = shipments.account and scan_times.tracking_id = shipments.tracking_id
left join last_mile_events
    on last_mile_events.account = shipments.account and last_mile_events.tracking_id = shipments.tracking_id
