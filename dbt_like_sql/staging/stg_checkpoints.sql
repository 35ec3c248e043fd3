{{ config(materialized='view') }}
-- One row per checkpoint. Couriers send local time without a zone, in two formats (v4 with a 'T'
-- between date and time); we parse them all and keep the wall-clock time as written (TIMESTAMP,
-- no zone): there is nothing to convert from.
select
    account,
    tracking_id,
    leg,
    position,
    checkpoint_date as checkpoint_date_as_sent,
    try_strptime(trim(checkpoint_date), ['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%dT%H:%M']) as checkpoint_at,
    lower(trim(checkpoint_status)) as checkpoint_status,
    substatus,
    status_description,
    details,
    item_node,
    loaded_at
from {{ source('raw', 'checkpoints') }}
