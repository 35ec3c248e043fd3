-- scan_coverage_by_carrier: never-scanned and expired rates are shares between 0 and 1.
{{ config(severity='error') }}
select carrier_code, shipments, never_scanned, never_scanned_rate, expired, expired_rate
from {{ ref('scan_coverage_by_carrier') }}
where never_scanned_rate not between 0 and 1 or expired_rate not between 0 and 1
