{{ config(materialized='incremental', unique_key=['account', 'tracking_id'], incremental_strategy='delete+insert') }}
-- One row per tracking (account, tracking_id): its milestones, the lead times between them (calendar and business
-- days) and how its delivery went (first attempt or not, against its promise): everything about a
-- journey that does not move with the data's clock, so an incremental run merges only the changed
-- trackings. fct_shipment_journeys adds the clock-dependent columns when it is read.
-- Checkpoint times are courier-local wall times without a zone and are compared as written;
-- created_at and the as-of time are UTC instants written as UTC wall times (docs/models.md).
with shipments as (
    select
        shipments.*,
        trackings.tracking_number,
        timezone('UTC', trackings.created_at) as created_at_utc
    from {{ ref('fct_shipments') }} as shipments
    inner join {{ ref('stg_trackings') }} as trackings
        on trackings.account = shipments.account and trackings.tracking_id = shipments.tracking_id
    {% if is_incremental() %}
    where trackings.loaded_at = (select loaded_at from {{ source('raw', 'load_info') }})
    {% endif %}
),

promises as (
    -- var('delivery_promises'): a list of {carrier_code, destination_country, business_days}
    select rule.carrier_code, rule.destination_country, rule.business_days
    from (select unnest({{ var('delivery_promises') }}) as rule)
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
        scans.received_at,
        shipments.first_scan_at,
        shipments.first_out_for_delivery_at,
        shipments.delivered_at,
        scans.last_checkpoint_at,
        shipments.status = 'delivered' as is_delivered,
        shipments.status not in ('delivered', 'expired') as is_active,
        shipments.is_scanned,
        scans.had_failed_attempt,
        scans.had_pickup_point_notice,
        scans.had_exception,
        -- the carrier's rule for this destination, else its rule for any destination ("*")
        coalesce(exact_promise.business_days, any_destination_promise.business_days) as promised_business_days
    from shipments
    left join {{ ref('int_journey_scans') }} as scans
        on scans.account = shipments.account and scans.tracking_id = shipments.tracking_id
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
        end as last_mile_business_days
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
    journeys.is_active,
    not journeys.is_scanned as is_never_scanned
from journey_days as journeys
