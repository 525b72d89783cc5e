-- one row per HFRS diagnosis of a spell admitted in the 2 years up to $as_of, for the patients in $patient_ids
with

patients as (
    select distinct unnest(cast($patient_ids as varchar[])) as patient_id
),

diagnoses as (
    select * from core.core_acute_diagnoses
),

hfrs_weights as (
    select * from ref.hfrs_icd10_weights
),

final as (
    select distinct
        diagnoses.patient_id,
        'hfrs' as feature,
        'acute_spells' as source,
        diagnoses.admission_date as event_date,
        diagnoses.icd10_code as code,
        hfrs_weights.description || ' (HFRS ' || cast(hfrs_weights.weight as varchar) || ')' as term,
    from diagnoses
    inner join patients on diagnoses.patient_id = patients.patient_id
    inner join hfrs_weights on diagnoses.icd10_3char = hfrs_weights.icd10_3char
    where diagnoses.admission_date > cast($as_of - interval 2 year as date)
        and diagnoses.admission_date <= $as_of
)

select
    patient_id,
    cast($as_of as date) as index_date,
    feature,
    source,
    event_date,
    code,
    term,
from final
