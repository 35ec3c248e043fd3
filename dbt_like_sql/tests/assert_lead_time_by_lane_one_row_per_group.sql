-- lead_time_by_lane has one row per carrier and lane (a missing country counts as one value).
{{ config(severity='error') }}
select carrier_code, original_country, destination_country, count(*) as occurrences
from {{ ref('lead_time_by_lane') }}
group by carrier_code, original_country, destination_country
having count(*) > 1
