-- Carriers whose stuck share is above var('stuck_share_warn_above'), each with its stuck shipments.
-- The share is over all the carrier's active scanned shipments (statuses together); the stuck
-- tracking numbers come longest silence first, so the WARN's sample rows are the morning's list.
{{ config(severity='warn') }}
with shares as (
    select
        account,
        carrier_code,
        sum(active_shipments) as active_shipments,
        sum(stuck_shipments) as stuck_shipments,
        cast(sum(stuck_shipments) as double) / sum(active_shipments) as stuck_share
    from {{ ref('stuck_share_by_carrier_status') }}
    group by account, carrier_code
)

select
    shares.account,
    shares.carrier_code,
    shares.active_shipments,
    shares.stuck_shipments,
    shares.stuck_share,
    {{ var('stuck_share_warn_above') }} as warn_above,
    (
        select string_agg(stuck.tracking_number, ', ' order by stuck.days_since_last_checkpoint desc, stuck.tracking_id)
        from {{ ref('stuck_shipments') }} as stuck
        where stuck.account = shares.account and stuck.carrier_code = shares.carrier_code
    ) as stuck_tracking_numbers
from shares
where shares.stuck_share > {{ var('stuck_share_warn_above') }}
