-- one row per spell per recorded diagnosis position (latest snapshot; accepted rows only, typed and normalised)
with

accepted as (
    select * from raw.accepted_patient_rows('acute_spells')
),

spells as (
    select
        raw.trimmed(spell_id) as spell_id,
        patient_id,
        admission_date__date as admission_date,
        columns('^diag_[0-9]{2}$'),
    from accepted
),

-- one row per recorded position (diag_01 ... diag_20); unpivot drops the null ones, and text
-- that is not an ICD-10 code once normalised (blank, dots, a secondary diagnosis quarantined
-- on its own in quarantine.rejected_diagnoses) is dropped in final
long_form as (
    unpivot spells
    on columns('^diag_[0-9]{2}$')
    into
        name position_name
        value recorded_code
),

-- each distinct recorded text normalised once (a few thousand, not millions of rows);
-- materialized, or the optimizer pushes `icd10_code is not null` below the distinct and
-- normalises every row
codes as materialized (
    select
        recorded_code,
        raw.icd10_normalise(recorded_code) as icd10_code,
        coalesce(raw.icd10_shape_ok(raw.icd10_normalise(recorded_code)), false) as is_icd10,
    from (select distinct recorded_code from long_form)
),

final as (
    select
        long_form.spell_id,
        long_form.patient_id,
        long_form.admission_date,
        cast(right(long_form.position_name, 2) as integer) as diagnosis_position,
        codes.icd10_code,
        left(codes.icd10_code, 3) as icd10_3char,
    from long_form
    inner join codes
        on long_form.recorded_code = codes.recorded_code
    where codes.is_icd10
)

select
    spell_id,
    patient_id,
    admission_date,
    diagnosis_position,
    icd10_code,
    icd10_3char,
from final
