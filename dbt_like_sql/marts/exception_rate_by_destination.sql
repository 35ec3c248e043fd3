{{ config(materialized='table', tags=['full_history']) }}
-- Exception rates per destination country over scanned shipments; missing destination is NULL.
select
    account,
    destination_country,
    count(*) as scanned_shipments,
    count(*) filter (where is_exception) as exception_shipments,
    cast(count(*) filter (where is_exception) as double) / count(*) as exception_rate,
    count(*) filter (where ever_exception) as ever_exception_shipments,
    cast(count(*) filter (where ever_exception) as double) / count(*) as ever_exception_rate
from {{ ref('fct_shipments') }}
where is_scanned
group by account, destination_country
