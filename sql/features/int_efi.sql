-- one row per patient per index date: electronic Frailty Index (Clegg 2016), deficit count, category and one 0/1 column per deficit
with

cohort as (
    select patient_id, index_date from features.int_cohort
),

deficits_present as (
    select * from features.int_efi_deficits
),

deficits as (
    select * from ref.efi_deficits
),

-- only the 36 deficits of ref.efi_deficits count (one row each per patient and date)
known_deficits as (
    select distinct
        deficits_present.patient_id,
        deficits_present.index_date,
        deficits_present.deficit_slug,
    from deficits_present
    inner join deficits on deficits_present.deficit_slug = deficits.slug
),

deficit_flags as (
    select
        patient_id,
        index_date,
        count(*) as efi_deficit_count,
        count(*) filter (where deficit_slug = 'activity-limitation') as efi_activity_limitation,
        count(*) filter (where deficit_slug = 'anaemia') as efi_anaemia,
        count(*) filter (where deficit_slug = 'arthritis') as efi_arthritis,
        count(*) filter (where deficit_slug = 'atrial-fibrillation') as efi_atrial_fibrillation,
        count(*) filter (where deficit_slug = 'stroke-tia') as efi_stroke_tia,
        count(*) filter (where deficit_slug = 'ckd') as efi_ckd,
        count(*) filter (where deficit_slug = 'diabetes') as efi_diabetes,
        count(*) filter (where deficit_slug = 'dizziness') as efi_dizziness,
        count(*) filter (where deficit_slug = 'dyspnoea') as efi_dyspnoea,
        count(*) filter (where deficit_slug = 'falls') as efi_falls,
        count(*) filter (where deficit_slug = 'foot-problems') as efi_foot_problems,
        count(*) filter (where deficit_slug = 'fragility-fracture') as efi_fragility_fracture,
        count(*) filter (where deficit_slug = 'hearing-loss') as efi_hearing_loss,
        count(*) filter (where deficit_slug = 'heart-failure') as efi_heart_failure,
        count(*) filter (where deficit_slug = 'heart-valve-disease') as efi_heart_valve_disease,
        count(*) filter (where deficit_slug = 'housebound') as efi_housebound,
        count(*) filter (where deficit_slug = 'hypertension') as efi_hypertension,
        count(*) filter (where deficit_slug = 'hypotension') as efi_hypotension,
        count(*) filter (where deficit_slug = 'chd') as efi_chd,
        count(*) filter (where deficit_slug = 'cognitive-problems') as efi_cognitive_problems,
        count(*) filter (where deficit_slug = 'mobility-problems') as efi_mobility_problems,
        count(*) filter (where deficit_slug = 'osteoporosis') as efi_osteoporosis,
        count(*) filter (where deficit_slug = 'parkinsons') as efi_parkinsons,
        count(*) filter (where deficit_slug = 'peptic-ulcer') as efi_peptic_ulcer,
        count(*) filter (where deficit_slug = 'pvd') as efi_pvd,
        count(*) filter (where deficit_slug = 'polypharmacy') as efi_polypharmacy,
        count(*) filter (where deficit_slug = 'care-requirement') as efi_care_requirement,
        count(*) filter (where deficit_slug = 'respiratory-disease') as efi_respiratory_disease,
        count(*) filter (where deficit_slug = 'skin-ulcer') as efi_skin_ulcer,
        count(*) filter (where deficit_slug = 'sleep-disturbance') as efi_sleep_disturbance,
        count(*) filter (where deficit_slug = 'social-vulnerability') as efi_social_vulnerability,
        count(*) filter (where deficit_slug = 'thyroid-disorders') as efi_thyroid_disorders,
        count(*) filter (where deficit_slug = 'urinary-incontinence') as efi_urinary_incontinence,
        count(*) filter (where deficit_slug = 'urinary-system-disease') as efi_urinary_system_disease,
        count(*) filter (where deficit_slug = 'vision-problems') as efi_vision_problems,
        count(*) filter (where deficit_slug = 'weight-loss') as efi_weight_loss,
    from known_deficits
    group by patient_id, index_date
),

n_deficits as (
    select count(*) as n_deficits from deficits
),

final as (
    select
        cohort.patient_id,
        cohort.index_date,
        coalesce(deficit_flags.efi_deficit_count, 0) as efi_deficit_count,
        coalesce(deficit_flags.efi_deficit_count, 0) / n_deficits.n_deficits as efi,
        case
            when coalesce(deficit_flags.efi_deficit_count, 0) / n_deficits.n_deficits <= 0.12
                then 'fit'
            when coalesce(deficit_flags.efi_deficit_count, 0) / n_deficits.n_deficits <= 0.24
                then 'mild'
            when coalesce(deficit_flags.efi_deficit_count, 0) / n_deficits.n_deficits <= 0.36
                then 'moderate'
            else 'severe'
        end as efi_category,
        coalesce(deficit_flags.efi_activity_limitation, 0) as efi_activity_limitation,
        coalesce(deficit_flags.efi_anaemia, 0) as efi_anaemia,
        coalesce(deficit_flags.efi_arthritis, 0) as efi_arthritis,
        coalesce(deficit_flags.efi_atrial_fibrillation, 0) as efi_atrial_fibrillation,
        coalesce(deficit_flags.efi_stroke_tia, 0) as efi_stroke_tia,
        coalesce(deficit_flags.efi_ckd, 0) as efi_ckd,
        coalesce(deficit_flags.efi_diabetes, 0) as efi_diabetes,
        coalesce(deficit_flags.efi_dizziness, 0) as efi_dizziness,
        coalesce(deficit_flags.efi_dyspnoea, 0) as efi_dyspnoea,
        coalesce(deficit_flags.efi_falls, 0) as efi_falls,
        coalesce(deficit_flags.efi_foot_problems, 0) as efi_foot_problems,
        coalesce(deficit_flags.efi_fragility_fracture, 0) as efi_fragility_fracture,
        coalesce(deficit_flags.efi_hearing_loss, 0) as efi_hearing_loss,
        coalesce(deficit_flags.efi_heart_failure, 0) as efi_heart_failure,
        coalesce(deficit_flags.efi_heart_valve_disease, 0) as efi_heart_valve_disease,
        coalesce(deficit_flags.efi_housebound, 0) as efi_housebound,
        coalesce(deficit_flags.efi_hypertension, 0) as efi_hypertension,
        coalesce(deficit_flags.efi_hypotension, 0) as efi_hypotension,
        coalesce(deficit_flags.efi_chd, 0) as efi_chd,
        coalesce(deficit_flags.efi_cognitive_problems, 0) as efi_cognitive_problems,
        coalesce(deficit_flags.efi_mobility_problems, 0) as efi_mobility_problems,
        coalesce(deficit_flags.efi_osteoporosis, 0) as efi_osteoporosis,
        coalesce(deficit_flags.efi_parkinsons, 0) as efi_parkinsons,
        coalesce(deficit_flags.efi_peptic_ulcer, 0) as efi_peptic_ulcer,
        coalesce(deficit_flags.efi_pvd, 0) as efi_pvd,
        coalesce(deficit_flags.efi_polypharmacy, 0) as efi_polypharmacy,
        coalesce(deficit_flags.efi_care_requirement, 0) as efi_care_requirement,
        coalesce(deficit_flags.efi_respiratory_disease, 0) as efi_respiratory_disease,
        coalesce(deficit_flags.efi_skin_ulcer, 0) as efi_skin_ulcer,
        coalesce(deficit_flags.efi_sleep_disturbance, 0) as efi_sleep_disturbance,
        coalesce(deficit_flags.efi_social_vulnerability, 0) as efi_social_vulnerability,
        coalesce(deficit_flags.efi_thyroid_disorders, 0) as efi_thyroid_disorders,
        coalesce(deficit_flags.efi_urinary_incontinence, 0) as efi_urinary_incontinence,
        coalesce(deficit_flags.efi_urinary_system_disease, 0) as efi_urinary_system_disease,
        coalesce(deficit_flags.efi_vision_problems, 0) as efi_vision_problems,
        coalesce(deficit_flags.efi_weight_loss, 0) as efi_weight_loss,
    from cohort
    cross join n_deficits
    left join deficit_flags
        on cohort.patient_id = deficit_flags.patient_id
        and cohort.index_date = deficit_flags.index_date
)

select
    patient_id,
    index_date,
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
