{{ config(materialized='view') }}
-- One row per HTTP attempt. response_code is the meta.code when an envelope came back, else the
-- HTTP status, else 'no_response' (timeout, reset, truncated body). outcome is the code's category
-- from the seed table raw.status_codes of the call's API version (ledger rows written before the
-- version was recorded are v2), the same table the extractor acts on; its words are
-- tm_pipeline/contracts/outcomes.py (a test reads this file and fails on any other word).
select
    calls.account,
    calls.run_id,
    calls.extraction_id,
    calls.window_key,
    calls.call_seq,
    calls.requested_at,
    cast(timezone('UTC', calls.requested_at) as date) as requested_on,
    calls.endpoint,
    coalesce(calls.api_version, 'v2') as api_version,
    calls.page,
    calls.params_json,
    calls.http_status,
    calls.meta_code,
    calls.meta_type,
    calls.meta_message,
    calls.failure,
    coalesce(
        cast(calls.meta_code as varchar), 'http_' || cast(calls.http_status as varchar), 'no_response'
    ) as response_code,
    case
        when calls.meta_code is null and calls.http_status = 429 then 'rate_limited'
        when calls.meta_code is null and calls.http_status between 500 and 599 then 'transient'
        when calls.meta_code is null then 'no_envelope'
        when codes.category is not null then codes.category
        when calls.meta_code between 500 and 599 then 'transient'
        else 'request_error'
    end as outcome,
    calls.attempt,
    calls.attempt > 1 as is_retry,
    calls.wait_before_s,
    calls.latency_ms,
    calls.response_bytes,
    calls.rows as rows_returned,
    calls.total_reported
from {{ source('raw', 'api_calls') }} as calls
left join {{ source('raw', 'status_codes') }} as codes
    on codes.code = calls.meta_code and codes.api_version = coalesce(calls.api_version, 'v2')
