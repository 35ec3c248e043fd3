{{ config(materialized='table') }}
-- Delivery time per ISO week (Monday) of the first scan; shipments never scanned have no week.
select
    account,
    week_start,
    count(*) as shipments,
    count(delivery_days) as delivered,
    -- an exact sum (decimal), so the mean is the same bit for bit whatever order rows add in
    avg(cast(delivery_days as decimal(38, 15))) as mean_delivery_days,
    quantile_cont(delivery_days, 0.5) as p50_delivery_days,
    quantile_cont(delivery_days, 0.9) as p90_delivery_days,
    quantile_cont(delivery_days, 0.95) as p95_delivery_days
from {{ ref('fct_shipments') }}
where first_scan_at is not null
group by account, week_start
