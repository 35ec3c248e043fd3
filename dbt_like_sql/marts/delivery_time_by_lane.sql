{{ config(materialized='table', tags=['full_history']) }}
-- Delivery time per lane (origin -> destination country); a missing country is its own NULL group.
-- Each column's quantiles come from one quantile_cont(x, [..]) call: one sort of the group's values
-- instead of one per quantile.
select
    account,
    original_country,
    destination_country,
    count(*) as shipments,
    count(delivery_days) as delivered,
    -- an exact sum (decimal), so the mean is the same bit for bit whatever order rows add in
    avg(cast(delivery_days as decimal(38, 15))) as mean_delivery_days,
    quantile_cont(delivery_days, [0.5, 0.9, 0.95])[1] as p50_delivery_days,
    quantile_cont(delivery_days, [0.5, 0.9, 0.95])[2] as p90_delivery_days,
    quantile_cont(delivery_days, [0.5, 0.9, 0.95])[3] as p95_delivery_days
from {{ ref('fct_shipments') }}
group by account, original_country, destination_country
