-- one row per patient per index date in the training cohort: aged 65+ or housebound, alive and
-- registered at the index date, not opted out of model training ($opt_out_types), with the outcome,
-- the fairness columns used only for evaluation (sex, ethnic category, IMD decile) and the period
-- ('development' up to $holdout_after, 'holdout' after it). Feature columns are every column of
-- features.feat_training_patients (the feature dictionary decides them), so they are selected with `*`.
-- features.feat_training_patients is feat_patients.sql built at the training index dates
-- (features.build.TRAINING_FEATURES), so training never overwrites the feat_patients scores read.
-- `person_key` stands for the person in training (folds, sample, row order): a hash of all their
-- rows without the pseudonym, so the same extracts train the same model whatever the key. The
-- lists' attributes (practice_name, caseload_team) are left out too: they are no model input, and
-- a list column added must not reshuffle the training rows.
with

patients as (
    select * from features.feat_training_patients
),

outcomes as (
    select
        patient_id,
        index_date,
        outcome,
        outcome_date,
        outcome_type,
    from features.feat_outcomes
),

core_patients as (
    select
        patient_id,
        sex,
        ethnic_category,
        lsoa_code,
        registration_start_date,
        registration_end_date,
        date_of_death,
    from core.core_patients
),

lsoa_imd as (
    select
        lsoa_code,
        imd_decile,
    from core.core_lsoa_imd
),

opted_out as (
    select distinct
        patient_id,
    from core.core_opt_outs
    where list_contains(cast($opt_out_types as varchar[]), opt_out_type)
        and (recorded_date is null or recorded_date <= $as_of)
),

cohort as (
    select
        patients.*,
        outcomes.outcome,
        outcomes.outcome_date,
        outcomes.outcome_type,
        core_patients.sex as sex_code,
        core_patients.ethnic_category as ethnic_category_code,
        lsoa_imd.imd_decile as imd_decile_code,
        patients.patient_id in (select patient_id from opted_out) as is_opted_out,
    from patients
    inner join outcomes
        on outcomes.patient_id = patients.patient_id
        and outcomes.index_date = patients.index_date
    inner join core_patients
        on core_patients.patient_id = patients.patient_id
    left join lsoa_imd
        on lsoa_imd.lsoa_code = core_patients.lsoa_code
    where (patients.age >= 65 or patients.housebound)
        -- alive and registered at the index date (feat_patients.sql promises it; kept as a guard)
        and (core_patients.date_of_death is null or core_patients.date_of_death > patients.index_date)
        and core_patients.registration_start_date <= patients.index_date
        and (core_patients.registration_end_date is null
            or core_patients.registration_end_date > patients.index_date)
),

sample as (
    select
        cohort.* exclude (is_opted_out),
        case when index_date > $holdout_after then 'holdout' else 'development' end as period,
    from cohort
    where not is_opted_out
),

final as (
    select
        *,
        cast(
            bit_xor(
                hash(*columns(* exclude (patient_id, practice_name, caseload_team)))
            ) over (partition by patient_id)
            as varchar
        ) as person_key,
    from sample
)

select * from final
order by index_date, person_key, patient_id
