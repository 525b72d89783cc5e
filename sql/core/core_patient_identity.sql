-- one row per registered patient: the only table with identifiers (latest snapshot; accepted rows only, typed and normalised)
with

file_loads as (
    select load_id
    from audit.loads
    where snapshot_id = $snapshot_id and file = 'gp_patients'
),

landed as (
    select *
    from raw.gp_patients
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
        pseudonyms.patient_id,
        pseudonyms.nhs_number,
        raw.blank_to_null(accepted.given_name) as given_name,
        raw.blank_to_null(accepted.family_name) as family_name,
        raw.parse_date(accepted.date_of_birth) as date_of_birth,
    from accepted
    inner join pseudonyms
        on raw.nhs_digits(accepted.nhs_number) = pseudonyms.nhs_number
)

select
    patient_id,
    nhs_number,
    given_name,
    family_name,
    date_of_birth,
from final
