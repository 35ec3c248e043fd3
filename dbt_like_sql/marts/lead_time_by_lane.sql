{{ config(materialized='table', tags=['full_history']) }}
-- Milestone lead times per carrier and lane (origin -> destination country; a missing country is
-- its own NULL group): pickup (tracking created -> acceptance scan), transit (first scan ->
-- delivered) and last mile (first out-for-delivery -> delivered), in calendar days and in
-- business days; each statistic is over the shipments where that lead time exists (NULLs ignored).
-- Means of fractional days sum them as decimal(38, 15): a float sum depends on the order it adds
-- in, an exact one does not, so every build (threads, dbt or the runner, merged or whole) agrees
-- to the bit, without the sort an ordered aggregate costs.
-- Each column's quantiles come from one quantile_cont(x, [..]) call: one sort of the group's values
-- instead of one per quantile.
select
    account,
    carrier_code,
    original_country,
    destination_country,
    count(*) as shipments,
    count(pickup_days) as pickup_measured,
    avg(cast(pickup_days as decimal(38, 15))) as mean_pickup_days,
    quantile_cont(pickup_days, [0.5, 0.9])[1] as p50_pickup_days,
    quantile_cont(pickup_days, [0.5, 0.9])[2] as p90_pickup_days,
    avg(pickup_business_days) as mean_pickup_business_days,
    quantile_cont(pickup_business_days, [0.5, 0.9])[1] as p50_pickup_business_days,
    quantile_cont(pickup_business_days, [0.5, 0.9])[2] as p90_pickup_business_days,
    count(transit_days) as transit_measured,
    avg(cast(transit_days as decimal(38, 15))) as mean_transit_days,
    quantile_cont(transit_days, [0.5, 0.9])[1] as p50_transit_days,
    quantile_cont(transit_days, [0.5, 0.9])[2] as p90_transit_days,
    avg(transit_business_days) as mean_transit_business_days,
    quantile_cont(transit_business_days, [0.5, 0.9])[1] as p50_transit_business_days,
    quantile_cont(transit_business_days, [0.5, 0.9])[2] as p90_transit_business_days,
    count(last_mile_days) as last_mile_measured,
    avg(cast(last_mile_days as decimal(38, 15))) as mean_last_mile_days,
    quantile_cont(last_mile_days, [0.5, 0.9])[1] as p50_last_mile_days,
    quantile_cont(last_mile_days, [0.5, 0.9])[2] as p90_last_mile_days,
    avg(last_mile_business_days) as mean_last_mile_business_days,
    quantile_cont(last_mile_business_days, [0.5, 0.9])[1] as p50_last_mile_business_days,
    quantile_cont(last_mile_business_days, [0.5, 0.9])[2] as p90_last_mile_business_days
from {{ ref('fct_shipment_journeys') }}
group by account, carrier_code, original_country, destination_country
