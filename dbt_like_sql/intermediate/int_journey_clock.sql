{{ config(materialized='table') }}
-- One row per account: the data's own clock, the newest refresh TrackingMore reported (not the
-- wall clock), as a UTC wall time, and the working-day number of its date. A table of its own, so
-- fct_shipment_journeys (a view) reads one row per account instead of every tracking's updated_at.
with as_of as (
    select account, timezone('UTC', max(updated_at)) as data_as_of
    from {{ ref('stg_trackings') }}
    group by account
)

select
    as_of.account,
    as_of.data_as_of,
    as_of_day.working_day_number as data_as_of_working_day
from as_of
left join {{ ref('int_working_days') }} as as_of_day
    on as_of_day.calendar_date = cast(as_of.data_as_of as date)
