-- one row per caseload episode (latest snapshot; accepted rows only, typed and normalised)
with

accepted as (
    select * from raw.accepted_patient_rows('caseload')
),

final as (
    select
        patient_id,
        raw.blank_to_null(team) as team,
        start_date__date as start_date,
        end_date__date as end_date,
    from accepted
)

select
    patient_id,
    team,
    start_date,
    end_date,
from final
