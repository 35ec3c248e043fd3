-- Transit and last-mile lead times are >= 0, and business days never exceed the calendar dates crossed.
{{ config(severity='error', meta={'per_row': True}) }}
select tracking_id, created_at_utc, received_at, first_scan_at, first_out_for_delivery_at, delivered_at,
    pickup_business_days, transit_days, transit_business_days, last_mile_days, last_mile_business_days
from {{ ref('int_shipment_journeys') }}
where transit_days < 0
    or last_mile_days < 0
    or transit_business_days < 0
    or last_mile_business_days < 0
    or transit_business_days > date_diff('day', cast(first_scan_at as date), cast(delivered_at as date))
    or last_mile_business_days
        > date_diff('day', cast(first_out_for_delivery_at as date), cast(delivered_at as date))
    -- pickup may run backwards (tracking created after the acceptance scan): compare magnitudes
    or abs(pickup_business_days) > abs(date_diff('day', cast(created_at_utc as date), cast(received_at as date)))
