{{ config(materialized='table', tags=['full_history']) }}
-- Delivery time per carrier; shipments counts every tracking of the carrier, delivered only
-- those with a delivery time, and the statistics are over delivery_days (NULLs ignored).
-- Each column's quantiles come from one quantile_cont(x, [..]) call: one sort of the group's values
-- instead of one per quantile.
select
    account,
    carrier_code,
    count(*) as shipments,
    count(delivery_days) as delivered,
    -- an exact sum (decimal), so the mean is the same bit for bit whatever order rows add in
    avg(cast(delivery_days as decimal(38, 15))) as mean_delivery_days,
    quantile_cont(delivery_days, [0.5, 0.9, 0.95])[1] as p50_delivery_days,
    quantile_cont(delivery_days, [0.5, 0.9, 0.95])[2] as p90_delivery_days,
    quantile_cont(delivery_days, [0.5, 0.9, 0.95])[3] as p95_delivery_days
from {{ ref('fct_shipments') }}
group by account, carrier_code
