-- Delivered shipments have delivery_days >= 0 (a negative value means the milestone logic broke).
{{ config(severity='error') }}
select tracking_id, first_scan_at, delivered_at, delivery_days
from {{ ref('fct_shipments') }}
where delivery_days < 0
