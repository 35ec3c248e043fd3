{{ config(materialized='table') }}
-- One row per calendar date from the earliest tracking creation (UTC date) or checkpoint (as
-- written) to the latest, or to the data's as-of date if that is later: whether it is a working
-- day (Monday to Friday, not one of var('working_day_holidays')), and working_day_number, the
-- working days up to and including it.
-- Business days between two dates are then a difference: working days d with start < d <= end.
with milestone_bounds as (
    -- each tracking's first and last scan bound all its checkpoints
    select cast(min(first_scan_at) as date) as first_date, cast(max(last_scan_at) as date) as last_date
    from {{ ref('int_shipment_milestones') }}
),

tracking_bounds as (
    select
        -- converted after min/max (the UTC wall time keeps the instants' order): once, not per row
        cast(timezone('UTC', min(created_at)) as date) as first_date,
        cast(timezone('UTC', max(created_at)) as date) as last_date,
        -- the as-of date ("now" for the promise of active shipments) may be after every scan
        cast(timezone('UTC', max(updated_at)) as date) as as_of_date
    from {{ ref('stg_trackings') }}
),

touched_dates as (
    -- aggregated per source before the union: a few rows, not two per tracking
    select first_date as calendar_date from milestone_bounds
    union all
    select last_date from milestone_bounds
    union all
    select first_date from tracking_bounds
    union all
    select last_date from tracking_bounds
    union all
    select as_of_date from tracking_bounds
),

bounds as (
    select min(calendar_date) as first_date, max(calendar_date) as last_date
    from touched_dates
),

holidays as (
    select unnest(cast({{ var('working_day_holidays') }} as date[])) as holiday
),

calendar as (
    select cast(days.day as date) as calendar_date
    from bounds, range(bounds.first_date, bounds.last_date + 1, interval 1 day) as days(day)
),

flagged as (
    select
        calendar_date,
        isodow(calendar_date) <= 5 and calendar_date not in (select holiday from holidays) as is_working_day
    from calendar
)

select
    calendar_date,
    is_working_day,
    sum(case when is_working_day then 1 else 0 end) over (order by calendar_date) as working_day_number
from flagged
