-- stuck_share_by_carrier_status: one row per carrier and status, no more stuck than active shipments.
{{ config(severity='error') }}
with grain as (
    select count(*) over (partition by account, carrier_code, status) as occurrences, *
    from {{ ref('stuck_share_by_carrier_status') }}
)
select account, carrier_code, status, occurrences, active_shipments, stuck_shipments, stuck_share
from grain
where occurrences > 1
    or stuck_shipments > active_shipments
    or stuck_share not between 0 and 1
