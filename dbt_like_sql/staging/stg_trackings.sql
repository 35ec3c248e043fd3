{{ config(materialized='view') }}
-- One row per tracking as last loaded. Status is normalised here (lower, trimmed) because the API
-- sends mixed case; an empty destination means "unknown" and becomes NULL so lanes group cleanly.
select
    account,
    tracking_id,
    tracking_number,
    carrier_code,
    lower(trim(status)) as status,
    substatus,
    nullif(original_country, '') as original_country,
    nullif(destination_country, '') as destination_country,
    created_at,
    updated_at,
    archived,
    order_id,
    extraction_id,
    page,
    fetched_at,
    loaded_at
from {{ source('raw', 'trackings') }}
