-- Checkpoint times are not in the future. They are courier-local without zone, so "now" is UTC
-- plus 14 hours, the furthest-ahead zone on Earth; anything later is a courier or parsing error.
{{ config(severity='warn', meta={'per_row': True}) }}
select tracking_id, leg, position, checkpoint_date_as_sent, checkpoint_at
from {{ ref('stg_checkpoints') }}
where checkpoint_at > timezone('UTC', now()) + interval '14 hours'
