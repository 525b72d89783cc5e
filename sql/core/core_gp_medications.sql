-- one row per issued prescription (latest snapshot; accepted rows only, typed and normalised)
with

accepted as (
    select * from raw.accepted_patient_rows('gp_medications')
),

final as (
    select
        patient_id,
        issue_date__date as issue_date,
        raw.blank_to_null(dmd_code) as dmd_code,
        upper(raw.trimmed(bnf_code)) as bnf_code,
        left(upper(raw.trimmed(bnf_code)), 9) as bnf_chemical_substance,
        raw.blank_to_null(description) as description,
    from accepted
)

select
    patient_id,
    issue_date,
    dmd_code,
    bnf_code,
    bnf_chemical_substance,
    description,
from final
