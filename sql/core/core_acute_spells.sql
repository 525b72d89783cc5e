-- one row per hospital spell (latest snapshot; accepted rows only, typed and normalised)
with

accepted as (
    select * from raw.accepted_patient_rows('acute_spells')
),

final as (
    select
        raw.trimmed(spell_id) as spell_id,
        patient_id,
        upper(raw.blank_to_null(provider_code)) as provider_code,
        admission_date__date as admission_date,
        discharge_date__date as discharge_date,
        raw.trimmed(admission_method) as admission_method,
        list_contains($emergency_admission_methods, raw.trimmed(admission_method)) as is_emergency,
        list_contains($elective_admission_methods, raw.trimmed(admission_method)) as is_elective,
        raw.blank_to_null(discharge_destination) as discharge_destination,
        diag_01__icd10 as primary_diagnosis,
    from accepted
)

select
    spell_id,
    patient_id,
    provider_code,
    admission_date,
    discharge_date,
    admission_method,
    is_emergency,
    is_elective,
    discharge_destination,
    primary_diagnosis,
from final
