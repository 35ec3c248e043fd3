-- carrier_scorecard_monthly: one row per carrier and month, counts within the cohort, rates between 0 and 1.
{{ config(severity='error') }}
with grain as (
    select count(*) over (partition by account, carrier_code, created_month) as occurrences, *
    from {{ ref('carrier_scorecard_monthly') }}
)
select account, carrier_code, created_month, occurrences, shipments, delivered, stuck
from grain
where occurrences > 1
    or delivered > shipments
    or stuck > shipments
    or late > delivered
    or first_attempt_rate not between 0 and 1
    or on_time_rate not between 0 and 1
    or stuck_share not between 0 and 1
    or never_scanned_rate not between 0 and 1
    or expired_rate not between 0 and 1
