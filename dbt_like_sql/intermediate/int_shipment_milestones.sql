{{ config(materialized='table') }}
-- One row per tracking that has at least one checkpoint: the first time each milestone was seen,
-- over both legs. "First" is the earliest courier-local time, not the position in the list.
select
    account,
    tracking_id,
    count(*) as checkpoints,
    min(checkpoint_at) as first_scan_at,
    max(checkpoint_at) as last_scan_at,
    min(checkpoint_at) filter (where checkpoint_status = 'delivered') as delivered_at,
    min(checkpoint_at) filter (where checkpoint_status = 'pickup') as first_out_for_delivery_at,
    min(checkpoint_at) filter (where checkpoint_status = 'exception') as first_exception_at,
    count(*) filter (where checkpoint_status = 'exception') > 0 as ever_exception
from {{ ref('stg_checkpoints') }}
group by account, tracking_id
