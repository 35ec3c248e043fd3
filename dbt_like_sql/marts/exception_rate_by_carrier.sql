{{ config(materialized='table', tags=['full_history']) }}
-- Exception rates per carrier over scanned shipments (>= 1 checkpoint): is_exception is the
-- current status, ever_exception any exception checkpoint. Carriers with no scans do not appear.
select
    account,
    carrier_code,
    count(*) as scanned_shipments,
    count(*) filter (where is_exception) as exception_shipments,
    cast(count(*) filter (where is_exception) as double) / count(*) as exception_rate,
    count(*) filter (where ever_exception) as ever_exception_shipments,
    cast(count(*) filter (where ever_exception) as double) / count(*) as ever_exception_rate
from {{ ref('fct_shipments') }}
where is_scanned
group by account, carrier_code
