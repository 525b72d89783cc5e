-- one row per hospital spell (latest snapshot; accepted rows only, typed and normalised)
with

file_loads as (
    select load_id
    from audit.loads
    where snapshot_id = $snapshot_id and file = 'acute_spells'
),

landed as (
    select *
    from raw.acute_spells
    where _load_id in (select load_id from file_loads)
),

excluded as (
    select load_id, row_number
    from quarantine.rejected_rows
    where load_id in (select load_id from file_loads)
    union all
    select load_id, row_number
    from quarantine.duplicate_rows
    where load_id in (select load_id from file_loads)
),

accepted as (
    select landed.*
    from landed
    anti join excluded
        on landed._load_id = excluded.load_id and landed._row_number = excluded.row_number
),

pseudonyms as (
    select
        nhs_number,
        patient_id(nhs_number) as patient_id,
    from (select distinct raw.nhs_digits(nhs_number) as nhs_number from accepted)
),

final as (
    select
        trim(accepted.spell_id) as spell_id,
        pseudonyms.patient_id,
        upper(raw.blank_to_null(accepted.provider_code)) as provider_code,
        raw.parse_date(accepted.admission_date) as admission_date,
        raw.parse_date(accepted.discharge_date) as discharge_date,
        trim(accepted.admission_method) as admission_method,
        list_contains($emergency_admission_methods, trim(accepted.admission_method))
            as is_emergency,
        list_contains($elective_admission_methods, trim(accepted.admission_method))
            as is_elective,
        raw.blank_to_null(accepted.discharge_destination) as discharge_destination,
        raw.icd10_normalise(accepted.diag_01) as primary_diagnosis,
    from accepted
    inner join pseudonyms
        on raw.nhs_digits(accepted.nhs_number) = pseudonyms.nhs_number
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
