-- one row per registered patient: the only table with identifiers (latest snapshot; accepted rows only, typed and normalised)
with

accepted as (
    select * from raw.accepted_patient_rows('gp_patients')
),

final as (
    select
        patient_id,
        nhs_number_digits as nhs_number,
        raw.blank_to_null(given_name) as given_name,
        raw.blank_to_null(family_name) as family_name,
        date_of_birth__date as date_of_birth,
    from accepted
)

select
    patient_id,
    nhs_number,
    given_name,
    family_name,
    date_of_birth,
from final
