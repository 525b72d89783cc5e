-- one row per patient per code-based eFI deficit: the first date any code of its list was recorded
with

gp_events as (
    select * from core.core_gp_events
),

deficit_codes as (
    select * from ref.efi_deficits_snomed
),

final as (
    select
        gp_events.patient_id,
        deficit_codes.slug as deficit_slug,
        min(gp_events.event_date) as first_recorded_date,
    from gp_events
    inner join deficit_codes on gp_events.snomed_code = deficit_codes.code
    group by gp_events.patient_id, deficit_codes.slug
)

select
    patient_id,
    deficit_slug,
    first_recorded_date,
from final
