{{ config(materialized='table', tags=['full_history']) }}
-- Exception rates per ISO week (Monday) of the first scan, over scanned shipments whose
-- checkpoint times could be read (a week needs a first_scan_at).
select
    account,
    week_start,
    count(*) as scanned_shipments,
    count(*) filter (where is_exception) as exception_shipments,
    cast(count(*) filter (where is_exception) as double) / count(*) as exception_rate,
    count(*) filter (where ever_exception) as ever_exception_shipments,
    cast(count(*) filter (where ever_exception) as double) / count(*) as ever_exception_rate
from {{ ref('fct_shipments') }}
where is_scanned and first_scan_at is not null
group by account, week_start
