-- one row per issued prescription (latest snapshot; accepted rows only, typed and normalised)
with

file_loads as (
    select load_id
    from audit.loads
    where snapshot_id = $snapshot_id and file = 'gp_medications'
),

landed as (
    select *
    from raw.gp_medications
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
        raw.parse_date(accepted.issue_date) as issue_date,
        raw.blank_to_null(accepted.dmd_code) as dmd_code,
        upper(trim(accepted.bnf_code)) as bnf_code,
        left(upper(trim(accepted.bnf_code)), 9) as bnf_chemical_substance,
        raw.blank_to_null(accepted.description) as description,
    from accepted
    inner join pseudonyms
        on raw.nhs_digits(accepted.nhs_number) = pseudonyms.nhs_number
)

select
    patient_id,
    issue_date,
    dmd_code,
    bnf_code,
    bnf_chemical_substance,
    description,
from final
