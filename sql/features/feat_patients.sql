-- one row per patient per index date, for every patient alive and registered at the index date: every feature of features/dictionary.py
with

cohort as (
    select * from features.int_cohort
),

circumstances as (
    select * from features.int_circumstances
),

efi as (
    select * from features.int_efi
),

hfrs as (
    select * from features.int_hfrs
),

acute_use as (
    select * from features.int_acute_use
),

urgent_care as (
    select * from features.int_urgent_care
),

community_use as (
    select * from features.int_community_use
),

social_care as (
    select * from features.int_social_care
),

medicines as (
    select * from features.int_medicines
),

final as (
    select
        cohort.patient_id,
        cohort.index_date,
        cohort.practice_code,
        cohort.neighbourhood_code,
        cohort.age,
        cohort.sex,
        cohort.sex_female,
        cohort.ethnic_group,
        cohort.imd_decile,
        circumstances.housebound,
        circumstances.has_housebound_code,
        circumstances.is_care_home_resident,
        circumstances.lives_alone,
        circumstances.is_carer,
        circumstances.has_no_carer,
        circumstances.has_dementia,
        circumstances.on_palliative_care_register,
        circumstances.has_dnacpr,
        circumstances.cfs_latest,
        circumstances.on_caseload,
        circumstances.in_hospital,
        efi.efi,
        efi.efi_deficit_count,
        efi.efi_category,
        efi.efi_activity_limitation,
        efi.efi_anaemia,
        efi.efi_arthritis,
        efi.efi_atrial_fibrillation,
        efi.efi_stroke_tia,
        efi.efi_ckd,
        efi.efi_diabetes,
        efi.efi_dizziness,
        efi.efi_dyspnoea,
        efi.efi_falls,
        efi.efi_foot_problems,
        efi.efi_fragility_fracture,
        efi.efi_hearing_loss,
        efi.efi_heart_failure,
        efi.efi_heart_valve_disease,
        efi.efi_housebound,
        efi.efi_hypertension,
        efi.efi_hypotension,
        efi.efi_chd,
        efi.efi_cognitive_problems,
        efi.efi_mobility_problems,
        efi.efi_osteoporosis,
        efi.efi_parkinsons,
        efi.efi_peptic_ulcer,
        efi.efi_pvd,
        efi.efi_polypharmacy,
        efi.efi_care_requirement,
        efi.efi_respiratory_disease,
        efi.efi_skin_ulcer,
        efi.efi_sleep_disturbance,
        efi.efi_social_vulnerability,
        efi.efi_thyroid_disorders,
        efi.efi_urinary_incontinence,
        efi.efi_urinary_system_disease,
        efi.efi_vision_problems,
        efi.efi_weight_loss,
        hfrs.hfrs,
        hfrs.hfrs_band,
        hfrs.n_hfrs_categories,
        acute_use.n_emergency_admissions_30d,
        acute_use.n_emergency_admissions_90d,
        acute_use.n_emergency_admissions_prev_90d,
        acute_use.n_emergency_admissions_365d,
        acute_use.emergency_bed_days_365d,
        acute_use.n_elective_admissions_365d,
        acute_use.days_since_last_emergency_discharge,
        urgent_care.n_ae_unplanned_90d,
        urgent_care.n_ae_unplanned_prev_90d,
        urgent_care.n_ae_unplanned_365d,
        urgent_care.n_falls_365d,
        community_use.n_community_contacts_90d,
        community_use.n_community_contacts_prev_90d,
        community_use.community_contacts_change_90d,
        community_use.n_contacts_district_nursing_90d,
        community_use.n_contacts_urgent_community_response_90d,
        community_use.n_contacts_reablement_90d,
        community_use.n_contacts_intermediate_care_90d,
        community_use.n_contacts_community_matron_90d,
        community_use.n_contacts_therapy_90d,
        community_use.n_contacts_older_adult_mental_health_90d,
        community_use.n_contacts_palliative_care_90d,
        community_use.n_contacts_other_90d,
        community_use.n_community_missed_90d,
        community_use.n_ucr_referrals_365d,
        community_use.n_reablement_episodes_365d,
        social_care.social_care_hours_per_week,
        social_care.has_home_care,
        social_care.has_care_home_placement,
        medicines.n_distinct_medicines_12m,
    from cohort
    inner join circumstances
        on cohort.patient_id = circumstances.patient_id
        and cohort.index_date = circumstances.index_date
    inner join efi
        on cohort.patient_id = efi.patient_id
        and cohort.index_date = efi.index_date
    inner join hfrs
        on cohort.patient_id = hfrs.patient_id
        and cohort.index_date = hfrs.index_date
    inner join acute_use
        on cohort.patient_id = acute_use.patient_id
        and cohort.index_date = acute_use.index_date
    inner join urgent_care
        on cohort.patient_id = urgent_care.patient_id
        and cohort.index_date = urgent_care.index_date
    inner join community_use
        on cohort.patient_id = community_use.patient_id
        and cohort.index_date = community_use.index_date
    inner join social_care
        on cohort.patient_id = social_care.patient_id
        and cohort.index_date = social_care.index_date
    inner join medicines
        on cohort.patient_id = medicines.patient_id
        and cohort.index_date = medicines.index_date
)

select
    patient_id,
    index_date,
    practice_code,
    neighbourhood_code,
    age,
    sex,
    sex_female,
    ethnic_group,
    imd_decile,
    housebound,
    has_housebound_code,
    is_care_home_resident,
    lives_alone,
    is_carer,
    has_no_carer,
    has_dementia,
    on_palliative_care_register,
    has_dnacpr,
    cfs_latest,
    on_caseload,
    in_hospital,
    efi,
    efi_deficit_count,
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
    hfrs,
    hfrs_band,
    n_hfrs_categories,
    n_emergency_admissions_30d,
    n_emergency_admissions_90d,
    n_emergency_admissions_prev_90d,
    n_emergency_admissions_365d,
    emergency_bed_days_365d,
    n_elective_admissions_365d,
    days_since_last_emergency_discharge,
    n_ae_unplanned_90d,
    n_ae_unplanned_prev_90d,
    n_ae_unplanned_365d,
    n_falls_365d,
    n_community_contacts_90d,
    n_community_contacts_prev_90d,
    community_contacts_change_90d,
    n_contacts_district_nursing_90d,
    n_contacts_urgent_community_response_90d,
    n_contacts_reablement_90d,
    n_contacts_intermediate_care_90d,
    n_contacts_community_matron_90d,
    n_contacts_therapy_90d,
    n_contacts_older_adult_mental_health_90d,
    n_contacts_palliative_care_90d,
    n_contacts_other_90d,
    n_community_missed_90d,
    n_ucr_referrals_365d,
    n_reablement_episodes_365d,
    social_care_hours_per_week,
    has_home_care,
    has_care_home_placement,
    n_distinct_medicines_12m,
from final
