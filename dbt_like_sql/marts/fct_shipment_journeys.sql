{{ config(materialized='view') }}
-- One row per tracking (account, tracking_id): its milestones, the lead times between them (calendar and business
-- days), how its delivery went (first attempt or not, against its promise) and how long it has
-- gone without news.
-- A view: the columns that move with the data's clock (an active shipment's promise left, its
-- silence, whether it is stuck) are computed from int_journey_clock when read, so a run rebuilds
-- neither them nor the rest of the journey; int_shipment_journeys merges only the changed trackings.
-- Checkpoint times are courier-local wall times without a zone and are compared as written;
-- created_at and the as-of time are UTC instants written as UTC wall times (docs/models.md).
with clocked as (
    select
        journeys.*,
        clock.data_as_of as clock_as_of,
        -- an active shipment's promise is counted from the same start as a delivered one's
        -- verdict (its first scan) to the as-of time, the data's "now"
        case when journeys.is_active
            then journeys.promised_business_days
                - (clock.data_as_of_working_day - first_scan_day.working_day_number)
        end as promise_business_days_left
    from {{ ref('int_shipment_journeys') }} as journeys
    inner join {{ ref('int_journey_clock') }} as clock on clock.account = journeys.account
    left join {{ ref('int_working_days') }} as first_scan_day
        on first_scan_day.calendar_date = cast(journeys.first_scan_at as date)
)

select
    account,
    tracking_id,
    tracking_number,
    carrier_code,
    status,
    original_country,
    destination_country,
    created_at_utc,
    received_at,
    first_scan_at,
    first_out_for_delivery_at,
    delivered_at,
    last_checkpoint_at,
    pickup_days,
    pickup_business_days,
    transit_days,
    transit_business_days,
    last_mile_days,
    last_mile_business_days,
    delivery_attempt,
    delivered_month,
    promised_business_days,
    delivery_promise_status,
    promise_business_days_left,
    case
        when promise_business_days_left is null then null
        when promise_business_days_left < 0 then 'overdue'
        when promise_business_days_left <= {{ var('promise_at_risk_within_business_days') }} then 'at_risk'
        else 'on_track'
    end as active_promise_status,
    is_active,
    case when is_active
        then (epoch(clock_as_of) - epoch(last_checkpoint_at)) / 86400.0
    end as days_since_last_checkpoint,
    coalesce(
        is_active and last_checkpoint_at <= clock_as_of - to_days({{ var('stuck_after_days') }}),
        false
    ) as is_stuck,
    is_never_scanned,
    -- only active rows depend on the clock; a finished one keeps no as-of time
    case when is_active then clock_as_of end as data_as_of
from clocked
