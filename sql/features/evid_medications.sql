-- one row per prescription issued in the 12 months up to $as_of, for the patients in $patient_ids
with

patients as (
    select distinct unnest(cast($patient_ids as varchar[])) as patient_id
),

medications as (
    select * from core.core_gp_medications
),

final as (
    select
        medications.patient_id,
        'n_distinct_medicines_12m' as feature,
        'gp_medications' as source,
        medications.issue_date as event_date,
        medications.bnf_code as code,
        coalesce(medications.description, 'BNF ' || medications.bnf_chemical_substance) as term,
    from medications
    inner join patients on medications.patient_id = patients.patient_id
    where medications.issue_date > cast($as_of - interval 12 month as date)
        and medications.issue_date <= $as_of
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
