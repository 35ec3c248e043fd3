{{ config(materialized='table') }}
-- API health per UTC day and endpoint, one row each; calls_by_code is a MAP response_code -> calls
-- so a new code never changes the table's shape. error_share counts every call that was neither
-- ok nor an empty result (4031), retried or not.
select
    account,
    requested_on as day,
    endpoint,
    count(*) as calls,
    count(*) filter (where outcome = 'ok') as ok_calls,
    histogram(response_code) as calls_by_code,
    count(*) filter (where outcome = 'rate_limited') as served_429,
    count(*) filter (where is_retry) as retries,
    cast(count(*) filter (where outcome not in ('ok', 'empty')) as double) / count(*) as error_share
from {{ ref('stg_api_calls') }}
group by account, requested_on, endpoint
