{{ config(materialized='table', tags=['full_history']) }}
-- One row per carrier and creation month (UTC month of created_at): the cohort of trackings
-- created that month, and everything the other journey marts say about it as of data_as_of.
-- Rates whose denominator is zero are NULL.
-- Means of fractional days sum them as decimal(38, 15): a float sum depends on the order it adds
-- in, an exact one does not, so every build (threads, dbt or the runner, merged or whole) agrees
-- to the bit, without the sort an ordered aggregate costs.
-- Each column's quantiles come from one quantile_cont(x, [..]) call: one sort of the group's values
-- instead of one per quantile.
select
    account,
    carrier_code,
    cast(date_trunc('month', created_at_utc) as date) as created_month,
    count(*) as shipments,
    count(transit_days) as delivered,
    avg(cast(transit_days as decimal(38, 15))) as mean_transit_days,
    quantile_cont(transit_business_days, [0.5, 0.9])[1] as p50_transit_business_days,
    quantile_cont(transit_business_days, [0.5, 0.9])[2] as p90_transit_business_days,
    avg(cast(last_mile_days as decimal(38, 15))) as mean_last_mile_days,
    cast(count(*) filter (where delivery_attempt = 'first_attempt') as double)
        / nullif(count(delivery_attempt), 0) as first_attempt_rate,
    cast(count(*) filter (where delivery_promise_status in ('early', 'on_time')) as double)
        / nullif(count(delivery_promise_status), 0) as on_time_rate,
    count(*) filter (where delivery_promise_status = 'late') as late,
    count(*) filter (where is_stuck) as stuck,
    cast(count(*) filter (where is_stuck) as double)
        / nullif(count(*) filter (where is_active and not is_never_scanned), 0) as stuck_share,
    cast(count(*) filter (where is_never_scanned) as double) / count(*) as never_scanned_rate,
    cast(count(*) filter (where status = 'expired') as double) / count(*) as expired_rate
from {{ ref('fct_shipment_journeys') }}
group by account, carrier_code, created_month
