{{ config(materialized='table') }}
-- How fresh the warehouse is, in one row, for the header of every dashboard: when the newest page
-- was fetched, the newest update TrackingMore reported, and when these tables were built.
select
    max(fetched_at) as data_as_of,
    max(updated_at) as newest_update_at,
    count(*) as trackings,
    current_timestamp as built_at
from {{ ref('stg_trackings') }}
