{{ config(materialized='table') }}
-- The list an operations team works through: active shipments (status neither delivered nor
-- expired) whose newest checkpoint is at least var('stuck_after_days') days older than the data's
-- as-of time (the newest updated_at TrackingMore reported), longest silence first.
select
    account,
    tracking_id,
    tracking_number,
    carrier_code,
    status,
    original_country,
    destination_country,
    last_checkpoint_at,
    days_since_last_checkpoint,
    data_as_of
from {{ ref('fct_shipment_journeys') }}
-- is_stuck implies is_active; saying so lets the filter reach the journeys table's scan, so the
-- view computes its clock columns for the active shipments only
where is_active and is_stuck
order by days_since_last_checkpoint desc, account, tracking_id
