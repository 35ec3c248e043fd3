{{ config(materialized='view') }}
-- One row per HTTP attempt. response_code is the v2 meta.code when an envelope came back, else the
-- HTTP status, else 'no_response' (timeout, reset, truncated body); outcome groups codes the way the checks judge
-- them (same categories as tm_pipeline/api/status_codes.py).
select
    run_id,
    call_seq,
    requested_at,
    cast(timezone('UTC', requested_at) as date) as requested_on,
    endpoint,
    page,
    params_json,
    http_status,
    meta_code,
    meta_type,
    meta_message,
    coalesce(cast(meta_code as varchar), 'http_' || cast(http_status as varchar), 'no_response') as response_code,
    case
        when meta_code in (200, 201) then 'ok'
        when meta_code = 4031 then 'empty'
        when meta_code = 4032 then 'detection'
        when meta_code = 429 or (meta_code is null and http_status = 429) then 'rate_limited'
        when meta_code in (401, 403, 4001, 4002) then 'auth'
        when meta_code in (402, 4019, 4021) then 'billing'
        when meta_code = 409 or meta_code between 500 and 599 then 'transient'
        when meta_code is null and http_status between 500 and 599 then 'transient'
        when meta_code is null then 'no_envelope'
        else 'request_error'
    end as outcome,
    attempt,
    attempt > 1 as is_retry,
    wait_before_s,
    latency_ms,
    response_bytes,
    rows as rows_returned,
    total_reported
from {{ source('raw', 'api_calls') }}
