{{ config(materialized='table') }}
-- Delivery time per carrier; shipments counts every tracking of the carrier, delivered only
-- those with a delivery time, and the statistics are over delivery_days (NULLs ignored).
select
    account,
    carrier_code,
    count(*) as shipments,
    count(delivery_days) as delivered,
    -- an exact sum (decimal), so the mean is the same bit for bit whatever order rows add in
    avg(cast(delivery_days as decimal(38, 15))) as mean_delivery_days,
    quantile_cont(delivery_days, 0.5) as p50_delivery_days,
    quantile_cont(delivery_days, 0.9) as p90_delivery_days,
    quantile_cont(delivery_days, 0.95) as p95_delivery_days
from {{ ref('fct_shipments') }}
group by account, carrier_code
