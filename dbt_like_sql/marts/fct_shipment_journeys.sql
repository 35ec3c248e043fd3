{{ config(materialized='table') }}
-- One row per tracking: its milestones, the lead times between them (calendar and business
-- days), how its delivery went (first attempt or not, against its promise) and how long it has
-- gone without news.
-- Checkpoint times are courier-local wall times without a zone and are compared as written;
-- created_at and the as-of time are UTC instants written as UTC wall times (docs/models.md).
with checkpoints as (
    select
        account,
        tracking_id,
        checkpoint_at,
        checkpoint_status,
        lower(trim(substatus)) as substatus,
        item_node
    from {{ ref('stg_checkpoints') }}
),

shipments as (
    select
        shipments.*,
        trackings.tracking_number,
        timezone('UTC', trackings.created_at) as created_at_utc
    from {{ ref('fct_shipments') }} as shipments
    inner join {{ ref('stg_trackings') }} as trackings
        on trackings.account = shipments.account and trackings.tracking_id = shipments.tracking_id
),

as_of as (
    -- The data's own clock: the newest refresh TrackingMore reported, not the wall clock (per account).
    select account, timezone('UTC', max(updated_at)) as data_as_of from {{ ref('stg_trackings') }} group by account
),

promises as (
    -- var('delivery_promises'): a list of {carrier_code, destination_country, business_days}
    select rule.carrier_code, rule.destination_country, rule.business_days
    from (select unnest({{ var('delivery_promises') }}) as rule)
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
),

journeys as (
    select
        shipments.account,
        shipments.tracking_id,
        shipments.tracking_number,
        shipments.carrier_code,
        shipments.status,
        shipments.original_country,
        shipments.destination_country,
        shipments.created_at_utc,
        scan_times.received_at,
        shipments.first_scan_at,
        shipments.first_out_for_delivery_at,
        shipments.delivered_at,
        scan_times.last_checkpoint_at,
        shipments.status = 'delivered' as is_delivered,
        shipments.status not in ('delivered', 'expired') as is_active,
        shipments.is_scanned,
        last_mile_events.had_failed_attempt,
        last_mile_events.had_pickup_point_notice,
        last_mile_events.had_exception,
        -- the carrier's rule for this destination, else its rule for any destination ("*")
        coalesce(exact_promise.business_days, any_destination_promise.business_days) as promised_business_days,
        as_of.data_as_of
    from shipments
    inner join as_of on as_of.account = shipments.account
    left join scan_times
        on scan_times.account = shipments.account and scan_times.tracking_id = shipments.tracking_id
    left join last_mile_events
        on last_mile_events.account = shipments.account and last_mile_events.tracking_id = shipments.tracking_id
    left join promises as exact_promise
        on exact_promise.carrier_code = shipments.carrier_code
        and exact_promise.destination_country = shipments.destination_country
    left join promises as any_destination_promise
        on any_destination_promise.carrier_code = shipments.carrier_code
        and any_destination_promise.destination_country = '*'
),

journey_days as (
    select
        journeys.*,
        received_day.working_day_number - created_day.working_day_number as pickup_business_days,
        case when journeys.is_delivered
            then delivered_day.working_day_number - first_scan_day.working_day_number
        end as transit_business_days,
        case when journeys.is_delivered
            then delivered_day.working_day_number - out_for_delivery_day.working_day_number
        end as last_mile_business_days,
        -- an active shipment's promise is counted from the same start as a delivered one's
        -- verdict (its first scan) to the as-of time, the data's "now"
        case when journeys.is_active
            then journeys.promised_business_days
                - (as_of_day.working_day_number - first_scan_day.working_day_number)
        end as promise_business_days_left
    from journeys
    left join {{ ref('int_working_days') }} as created_day
        on created_day.calendar_date = cast(journeys.created_at_utc as date)
    left join {{ ref('int_working_days') }} as received_day
        on received_day.calendar_date = cast(journeys.received_at as date)
    left join {{ ref('int_working_days') }} as first_scan_day
        on first_scan_day.calendar_date = cast(journeys.first_scan_at as date)
    left join {{ ref('int_working_days') }} as out_for_delivery_day
        on out_for_delivery_day.calendar_date = cast(journeys.first_out_for_delivery_at as date)
    left join {{ ref('int_working_days') }} as delivered_day
        on delivered_day.calendar_date = cast(journeys.delivered_at as date)
    left join {{ ref('int_working_days') }} as as_of_day
        on as_of_day.calendar_date = cast(journeys.data_as_of as date)
)

select
    journeys.account,
    journeys.tracking_id,
    journeys.tracking_number,
    journeys.carrier_code,
    journeys.status,
    journeys.original_country,
    journeys.destination_country,
    journeys.created_at_utc,
    journeys.received_at,
    journeys.first_scan_at,
    journeys.first_out_for_delivery_at,
    journeys.delivered_at,
    journeys.last_checkpoint_at,
    (epoch(journeys.received_at) - epoch(journeys.created_at_utc)) / 86400.0 as pickup_days,
    journeys.pickup_business_days,
    case when journeys.is_delivered
        then (epoch(journeys.delivered_at) - epoch(journeys.first_scan_at)) / 86400.0
    end as transit_days,
    journeys.transit_business_days,
    case when journeys.is_delivered
        then (epoch(journeys.delivered_at) - epoch(journeys.first_out_for_delivery_at)) / 86400.0
    end as last_mile_days,
    journeys.last_mile_business_days,
    case
        when not journeys.is_delivered then null
        when journeys.had_failed_attempt then 'after_failed_attempt'
        when journeys.had_pickup_point_notice then 'after_pickup_point_notice'
        when journeys.had_exception then 'after_exception'
        else 'first_attempt'
    end as delivery_attempt,
    case when journeys.is_delivered
        then cast(date_trunc('month', journeys.delivered_at) as date)
    end as delivered_month,
    journeys.promised_business_days,
    case
        when not journeys.is_delivered or journeys.promised_business_days is null
            or journeys.transit_business_days is null then null
        when journeys.transit_business_days < journeys.promised_business_days then 'early'
        when journeys.transit_business_days = journeys.promised_business_days then 'on_time'
        else 'late'
    end as delivery_promise_status,
    journeys.promise_business_days_left,
    case
        when journeys.promise_business_days_left is null then null
        when journeys.promise_business_days_left < 0 then 'overdue'
        when journeys.promise_business_days_left <= {{ var('promise_at_risk_within_business_days') }} then 'at_risk'
        else 'on_track'
    end as active_promise_status,
    journeys.is_active,
    case when journeys.is_active
        then (epoch(journeys.data_as_of) - epoch(journeys.last_checkpoint_at)) / 86400.0
    end as days_since_last_checkpoint,
    coalesce(
        journeys.is_active
        and journeys.last_checkpoint_at <= journeys.data_as_of - to_days({{ var('stuck_after_days') }}),
        false
    ) as is_stuck,
    not journeys.is_scanned as is_never_scanned,
    journeys.data_as_of
from journey_days as journeys
