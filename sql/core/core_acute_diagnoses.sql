-- one row per spell per recorded diagnosis position (latest snapshot; accepted rows only, typed and normalised)
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

spells as (
    select
        trim(accepted.spell_id) as spell_id,
        pseudonyms.patient_id,
        raw.parse_date(accepted.admission_date) as admission_date,
        raw.icd10_normalise(accepted.diag_01) as diag_01,
        raw.icd10_normalise(accepted.diag_02) as diag_02,
        raw.icd10_normalise(accepted.diag_03) as diag_03,
        raw.icd10_normalise(accepted.diag_04) as diag_04,
        raw.icd10_normalise(accepted.diag_05) as diag_05,
        raw.icd10_normalise(accepted.diag_06) as diag_06,
        raw.icd10_normalise(accepted.diag_07) as diag_07,
        raw.icd10_normalise(accepted.diag_08) as diag_08,
        raw.icd10_normalise(accepted.diag_09) as diag_09,
        raw.icd10_normalise(accepted.diag_10) as diag_10,
        raw.icd10_normalise(accepted.diag_11) as diag_11,
        raw.icd10_normalise(accepted.diag_12) as diag_12,
        raw.icd10_normalise(accepted.diag_13) as diag_13,
        raw.icd10_normalise(accepted.diag_14) as diag_14,
        raw.icd10_normalise(accepted.diag_15) as diag_15,
        raw.icd10_normalise(accepted.diag_16) as diag_16,
        raw.icd10_normalise(accepted.diag_17) as diag_17,
        raw.icd10_normalise(accepted.diag_18) as diag_18,
        raw.icd10_normalise(accepted.diag_19) as diag_19,
        raw.icd10_normalise(accepted.diag_20) as diag_20,
    from accepted
    inner join pseudonyms
        on raw.nhs_digits(accepted.nhs_number) = pseudonyms.nhs_number
),

long_form as (
    unpivot spells
    on
        diag_01,
        diag_02,
        diag_03,
        diag_04,
        diag_05,
        diag_06,
        diag_07,
        diag_08,
        diag_09,
        diag_10,
        diag_11,
        diag_12,
        diag_13,
        diag_14,
        diag_15,
        diag_16,
        diag_17,
        diag_18,
        diag_19,
        diag_20
    into
        name position_name
        value icd10_code
),

final as (
    select
        spell_id,
        patient_id,
        admission_date,
        cast(right(position_name, 2) as integer) as diagnosis_position,
        icd10_code,
        left(icd10_code, 3) as icd10_3char,
    from long_form
)

select
    spell_id,
    patient_id,
    admission_date,
    diagnosis_position,
    icd10_code,
    icd10_3char,
from final
