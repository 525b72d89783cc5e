-- one row per patient per index date (keyed by int_cohort.cohort_id): electronic Frailty Index (Clegg 2016), deficit count, category and one 0/1 column per deficit
with

cohort as (
    select cohort_id, patient_id, index_date from features.int_cohort
),

first_code_dates as (
    select * from features.int_efi_first_codes
),

value_deficits as (
    select * from features.int_efi_value_deficits
),

medicines as (
    select * from features.int_medicines
),

deficits as (
    select * from ref.efi_deficits
),

-- code-based deficits: one row per patient, the first recorded date of each deficit
first_codes as (
    select
        patient_id,
        min(first_recorded_date) filter (where deficit_slug = 'activity-limitation') as efi_activity_limitation,
        min(first_recorded_date) filter (where deficit_slug = 'anaemia') as efi_anaemia,
        min(first_recorded_date) filter (where deficit_slug = 'arthritis') as efi_arthritis,
        min(first_recorded_date) filter (where deficit_slug = 'atrial-fibrillation') as efi_atrial_fibrillation,
        min(first_recorded_date) filter (where deficit_slug = 'stroke-tia') as efi_stroke_tia,
        min(first_recorded_date) filter (where deficit_slug = 'ckd') as efi_ckd,
        min(first_recorded_date) filter (where deficit_slug = 'diabetes') as efi_diabetes,
        min(first_recorded_date) filter (where deficit_slug = 'dizziness') as efi_dizziness,
        min(first_recorded_date) filter (where deficit_slug = 'dyspnoea') as efi_dyspnoea,
        min(first_recorded_date) filter (where deficit_slug = 'falls') as efi_falls,
        min(first_recorded_date) filter (where deficit_slug = 'foot-problems') as efi_foot_problems,
        min(first_recorded_date) filter (where deficit_slug = 'fragility-fracture') as efi_fragility_fracture,
        min(first_recorded_date) filter (where deficit_slug = 'hearing-loss') as efi_hearing_loss,
        min(first_recorded_date) filter (where deficit_slug = 'heart-failure') as efi_heart_failure,
        min(first_recorded_date) filter (where deficit_slug = 'heart-valve-disease') as efi_heart_valve_disease,
        min(first_recorded_date) filter (where deficit_slug = 'housebound') as efi_housebound,
        min(first_recorded_date) filter (where deficit_slug = 'hypertension') as efi_hypertension,
        min(first_recorded_date) filter (where deficit_slug = 'hypotension') as efi_hypotension,
        min(first_recorded_date) filter (where deficit_slug = 'chd') as efi_chd,
        min(first_recorded_date) filter (where deficit_slug = 'cognitive-problems') as efi_cognitive_problems,
        min(first_recorded_date) filter (where deficit_slug = 'mobility-problems') as efi_mobility_problems,
        min(first_recorded_date) filter (where deficit_slug = 'osteoporosis') as efi_osteoporosis,
        min(first_recorded_date) filter (where deficit_slug = 'parkinsons') as efi_parkinsons,
        min(first_recorded_date) filter (where deficit_slug = 'peptic-ulcer') as efi_peptic_ulcer,
        min(first_recorded_date) filter (where deficit_slug = 'pvd') as efi_pvd,
        min(first_recorded_date) filter (where deficit_slug = 'care-requirement') as efi_care_requirement,
        min(first_recorded_date) filter (where deficit_slug = 'respiratory-disease') as efi_respiratory_disease,
        min(first_recorded_date) filter (where deficit_slug = 'skin-ulcer') as efi_skin_ulcer,
        min(first_recorded_date) filter (where deficit_slug = 'sleep-disturbance') as efi_sleep_disturbance,
        min(first_recorded_date) filter (where deficit_slug = 'social-vulnerability') as efi_social_vulnerability,
        min(first_recorded_date) filter (where deficit_slug = 'thyroid-disorders') as efi_thyroid_disorders,
        min(first_recorded_date) filter (where deficit_slug = 'urinary-incontinence') as efi_urinary_incontinence,
        min(first_recorded_date) filter (where deficit_slug = 'urinary-system-disease') as efi_urinary_system_disease,
        min(first_recorded_date) filter (where deficit_slug = 'vision-problems') as efi_vision_problems,
        min(first_recorded_date) filter (where deficit_slug = 'weight-loss') as efi_weight_loss,
    from first_code_dates
    group by patient_id
),

-- value-rule deficits: one row per patient and date
value_flags as (
    select
        patient_id,
        index_date,
        bool_or(deficit_slug = 'activity-limitation') as efi_activity_limitation,
        bool_or(deficit_slug = 'anaemia') as efi_anaemia,
        bool_or(deficit_slug = 'arthritis') as efi_arthritis,
        bool_or(deficit_slug = 'atrial-fibrillation') as efi_atrial_fibrillation,
        bool_or(deficit_slug = 'stroke-tia') as efi_stroke_tia,
        bool_or(deficit_slug = 'ckd') as efi_ckd,
        bool_or(deficit_slug = 'diabetes') as efi_diabetes,
        bool_or(deficit_slug = 'dizziness') as efi_dizziness,
        bool_or(deficit_slug = 'dyspnoea') as efi_dyspnoea,
        bool_or(deficit_slug = 'falls') as efi_falls,
        bool_or(deficit_slug = 'foot-problems') as efi_foot_problems,
        bool_or(deficit_slug = 'fragility-fracture') as efi_fragility_fracture,
        bool_or(deficit_slug = 'hearing-loss') as efi_hearing_loss,
        bool_or(deficit_slug = 'heart-failure') as efi_heart_failure,
        bool_or(deficit_slug = 'heart-valve-disease') as efi_heart_valve_disease,
        bool_or(deficit_slug = 'housebound') as efi_housebound,
        bool_or(deficit_slug = 'hypertension') as efi_hypertension,
        bool_or(deficit_slug = 'hypotension') as efi_hypotension,
        bool_or(deficit_slug = 'chd') as efi_chd,
        bool_or(deficit_slug = 'cognitive-problems') as efi_cognitive_problems,
        bool_or(deficit_slug = 'mobility-problems') as efi_mobility_problems,
        bool_or(deficit_slug = 'osteoporosis') as efi_osteoporosis,
        bool_or(deficit_slug = 'parkinsons') as efi_parkinsons,
        bool_or(deficit_slug = 'peptic-ulcer') as efi_peptic_ulcer,
        bool_or(deficit_slug = 'pvd') as efi_pvd,
        bool_or(deficit_slug = 'care-requirement') as efi_care_requirement,
        bool_or(deficit_slug = 'respiratory-disease') as efi_respiratory_disease,
        bool_or(deficit_slug = 'skin-ulcer') as efi_skin_ulcer,
        bool_or(deficit_slug = 'sleep-disturbance') as efi_sleep_disturbance,
        bool_or(deficit_slug = 'social-vulnerability') as efi_social_vulnerability,
        bool_or(deficit_slug = 'thyroid-disorders') as efi_thyroid_disorders,
        bool_or(deficit_slug = 'urinary-incontinence') as efi_urinary_incontinence,
        bool_or(deficit_slug = 'urinary-system-disease') as efi_urinary_system_disease,
        bool_or(deficit_slug = 'vision-problems') as efi_vision_problems,
        bool_or(deficit_slug = 'weight-loss') as efi_weight_loss,
    from value_deficits
    group by patient_id, index_date
),

-- a deficit is present at D when a code was recorded on or before D or its value rule holds;
-- polypharmacy: 5 or more distinct medicines in the 12 months up to D
deficit_flags as (
    select
        cohort.cohort_id,
        (
            coalesce(first_codes.efi_activity_limitation <= cohort.index_date, false)
            or coalesce(value_flags.efi_activity_limitation, false)
        )::integer as efi_activity_limitation,
        (
            coalesce(first_codes.efi_anaemia <= cohort.index_date, false)
            or coalesce(value_flags.efi_anaemia, false)
        )::integer as efi_anaemia,
        (
            coalesce(first_codes.efi_arthritis <= cohort.index_date, false)
            or coalesce(value_flags.efi_arthritis, false)
        )::integer as efi_arthritis,
        (
            coalesce(first_codes.efi_atrial_fibrillation <= cohort.index_date, false)
            or coalesce(value_flags.efi_atrial_fibrillation, false)
        )::integer as efi_atrial_fibrillation,
        (
            coalesce(first_codes.efi_stroke_tia <= cohort.index_date, false)
            or coalesce(value_flags.efi_stroke_tia, false)
        )::integer as efi_stroke_tia,
        (
            coalesce(first_codes.efi_ckd <= cohort.index_date, false)
            or coalesce(value_flags.efi_ckd, false)
        )::integer as efi_ckd,
        (
            coalesce(first_codes.efi_diabetes <= cohort.index_date, false)
            or coalesce(value_flags.efi_diabetes, false)
        )::integer as efi_diabetes,
        (
            coalesce(first_codes.efi_dizziness <= cohort.index_date, false)
            or coalesce(value_flags.efi_dizziness, false)
        )::integer as efi_dizziness,
        (
            coalesce(first_codes.efi_dyspnoea <= cohort.index_date, false)
            or coalesce(value_flags.efi_dyspnoea, false)
        )::integer as efi_dyspnoea,
        (
            coalesce(first_codes.efi_falls <= cohort.index_date, false)
            or coalesce(value_flags.efi_falls, false)
        )::integer as efi_falls,
        (
            coalesce(first_codes.efi_foot_problems <= cohort.index_date, false)
            or coalesce(value_flags.efi_foot_problems, false)
        )::integer as efi_foot_problems,
        (
            coalesce(first_codes.efi_fragility_fracture <= cohort.index_date, false)
            or coalesce(value_flags.efi_fragility_fracture, false)
        )::integer as efi_fragility_fracture,
        (
            coalesce(first_codes.efi_hearing_loss <= cohort.index_date, false)
            or coalesce(value_flags.efi_hearing_loss, false)
        )::integer as efi_hearing_loss,
        (
            coalesce(first_codes.efi_heart_failure <= cohort.index_date, false)
            or coalesce(value_flags.efi_heart_failure, false)
        )::integer as efi_heart_failure,
        (
            coalesce(first_codes.efi_heart_valve_disease <= cohort.index_date, false)
            or coalesce(value_flags.efi_heart_valve_disease, false)
        )::integer as efi_heart_valve_disease,
        (
            coalesce(first_codes.efi_housebound <= cohort.index_date, false)
            or coalesce(value_flags.efi_housebound, false)
        )::integer as efi_housebound,
        (
            coalesce(first_codes.efi_hypertension <= cohort.index_date, false)
            or coalesce(value_flags.efi_hypertension, false)
        )::integer as efi_hypertension,
        (
            coalesce(first_codes.efi_hypotension <= cohort.index_date, false)
            or coalesce(value_flags.efi_hypotension, false)
        )::integer as efi_hypotension,
        (
            coalesce(first_codes.efi_chd <= cohort.index_date, false)
            or coalesce(value_flags.efi_chd, false)
        )::integer as efi_chd,
        (
            coalesce(first_codes.efi_cognitive_problems <= cohort.index_date, false)
            or coalesce(value_flags.efi_cognitive_problems, false)
        )::integer as efi_cognitive_problems,
        (
            coalesce(first_codes.efi_mobility_problems <= cohort.index_date, false)
            or coalesce(value_flags.efi_mobility_problems, false)
        )::integer as efi_mobility_problems,
        (
            coalesce(first_codes.efi_osteoporosis <= cohort.index_date, false)
            or coalesce(value_flags.efi_osteoporosis, false)
        )::integer as efi_osteoporosis,
        (
            coalesce(first_codes.efi_parkinsons <= cohort.index_date, false)
            or coalesce(value_flags.efi_parkinsons, false)
        )::integer as efi_parkinsons,
        (
            coalesce(first_codes.efi_peptic_ulcer <= cohort.index_date, false)
            or coalesce(value_flags.efi_peptic_ulcer, false)
        )::integer as efi_peptic_ulcer,
        (
            coalesce(first_codes.efi_pvd <= cohort.index_date, false)
            or coalesce(value_flags.efi_pvd, false)
        )::integer as efi_pvd,
        (
            coalesce(first_codes.efi_care_requirement <= cohort.index_date, false)
            or coalesce(value_flags.efi_care_requirement, false)
        )::integer as efi_care_requirement,
        (
            coalesce(first_codes.efi_respiratory_disease <= cohort.index_date, false)
            or coalesce(value_flags.efi_respiratory_disease, false)
        )::integer as efi_respiratory_disease,
        (
            coalesce(first_codes.efi_skin_ulcer <= cohort.index_date, false)
            or coalesce(value_flags.efi_skin_ulcer, false)
        )::integer as efi_skin_ulcer,
        (
            coalesce(first_codes.efi_sleep_disturbance <= cohort.index_date, false)
            or coalesce(value_flags.efi_sleep_disturbance, false)
        )::integer as efi_sleep_disturbance,
        (
            coalesce(first_codes.efi_social_vulnerability <= cohort.index_date, false)
            or coalesce(value_flags.efi_social_vulnerability, false)
        )::integer as efi_social_vulnerability,
        (
            coalesce(first_codes.efi_thyroid_disorders <= cohort.index_date, false)
            or coalesce(value_flags.efi_thyroid_disorders, false)
        )::integer as efi_thyroid_disorders,
        (
            coalesce(first_codes.efi_urinary_incontinence <= cohort.index_date, false)
            or coalesce(value_flags.efi_urinary_incontinence, false)
        )::integer as efi_urinary_incontinence,
        (
            coalesce(first_codes.efi_urinary_system_disease <= cohort.index_date, false)
            or coalesce(value_flags.efi_urinary_system_disease, false)
        )::integer as efi_urinary_system_disease,
        (
            coalesce(first_codes.efi_vision_problems <= cohort.index_date, false)
            or coalesce(value_flags.efi_vision_problems, false)
        )::integer as efi_vision_problems,
        (
            coalesce(first_codes.efi_weight_loss <= cohort.index_date, false)
            or coalesce(value_flags.efi_weight_loss, false)
        )::integer as efi_weight_loss,
        (coalesce(medicines.n_distinct_medicines_12m, 0) >= 5)::integer as efi_polypharmacy,
    from cohort
    left join first_codes on cohort.patient_id = first_codes.patient_id
    left join value_flags
        on cohort.patient_id = value_flags.patient_id
        and cohort.index_date = value_flags.index_date
    left join medicines on cohort.cohort_id = medicines.cohort_id
),

counted as (
    select
        *,
            efi_activity_limitation
            + efi_anaemia
            + efi_arthritis
            + efi_atrial_fibrillation
            + efi_stroke_tia
            + efi_ckd
            + efi_diabetes
            + efi_dizziness
            + efi_dyspnoea
            + efi_falls
            + efi_foot_problems
            + efi_fragility_fracture
            + efi_hearing_loss
            + efi_heart_failure
            + efi_heart_valve_disease
            + efi_housebound
            + efi_hypertension
            + efi_hypotension
            + efi_chd
            + efi_cognitive_problems
            + efi_mobility_problems
            + efi_osteoporosis
            + efi_parkinsons
            + efi_peptic_ulcer
            + efi_pvd
            + efi_polypharmacy
            + efi_care_requirement
            + efi_respiratory_disease
            + efi_skin_ulcer
            + efi_sleep_disturbance
            + efi_social_vulnerability
            + efi_thyroid_disorders
            + efi_urinary_incontinence
            + efi_urinary_system_disease
            + efi_vision_problems
            + efi_weight_loss as efi_deficit_count,
    from deficit_flags
),

n_deficits as (
    select count(*) as n_deficits from deficits
),

final as (
    select
        counted.*,
        counted.efi_deficit_count / n_deficits.n_deficits as efi,
        case
            when counted.efi_deficit_count / n_deficits.n_deficits <= 0.12 then 'fit'
            when counted.efi_deficit_count / n_deficits.n_deficits <= 0.24 then 'mild'
            when counted.efi_deficit_count / n_deficits.n_deficits <= 0.36 then 'moderate'
            else 'severe'
        end as efi_category,
    from counted
    cross join n_deficits
)

select
    cohort_id,
    efi_deficit_count,
    efi,
    efi_category,
    efi_activity_limitation,
    efi_anaemia,
    efi_arthritis,
    efi_atrial_fibrillation,
    efi_stroke_tia,
    efi_ckd,
    efi_diabetes,
    efi_dizziness,
    efi_dyspnoea,
    efi_falls,
    efi_foot_problems,
    efi_fragility_fracture,
    efi_hearing_loss,
    efi_heart_failure,
    efi_heart_valve_disease,
    efi_housebound,
    efi_hypertension,
    efi_hypotension,
    efi_chd,
    efi_cognitive_problems,
    efi_mobility_problems,
    efi_osteoporosis,
    efi_parkinsons,
    efi_peptic_ulcer,
    efi_pvd,
    efi_polypharmacy,
    efi_care_requirement,
    efi_respiratory_disease,
    efi_skin_ulcer,
    efi_sleep_disturbance,
    efi_social_vulnerability,
    efi_thyroid_disorders,
    efi_urinary_incontinence,
    efi_urinary_system_disease,
    efi_vision_problems,
    efi_weight_loss,
from final
