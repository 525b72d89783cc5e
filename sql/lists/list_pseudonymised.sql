-- one row per patient housebound at $as_of: whether the pseudonymised analyst publication holds them (keyed by patient_id, no identifiers), and why not
-- Opt-outs: the analyst_outputs policy ($opt_out_types) applies on top of the direct-care exclusions of score_cohort, whose excluded patients are never scored.
-- Age is given in 5-year bands (90+ together); no name, NHS number, date of birth, month of birth or LSOA.
with

cohort as (
    select * from scores.score_cohort
),

scores as (
    select * from scores.scores
),

reasons as (
    select * from scores.reasons
),

patients as (
    select * from scores.score_cohort
),

current_cohort as (
    select * from cohort where as_of = $as_of
),

current_scores as (
    select * from scores where as_of = $as_of
),

current_patients as (
    select * from patients where as_of = $as_of
),

analyst_opted_out as (
    select patient_id
    from current_patients
    where list_has_any(opt_out_types, cast($opt_out_types as varchar[]))
),

reason_features as (
    select
        patient_id,
        string_agg(feature, '; ' order by reason_rank) as reason_features,
    from reasons
    where as_of = $as_of
    group by patient_id
),

eligibility as (
    select
        current_cohort.patient_id,
        current_cohort.neighbourhood_code,
        current_cohort.practice_code,
        case
            when current_cohort.is_opted_out or analyst_opted_out.patient_id is not null
                then 'opt_out'
            when current_cohort.exclusion_reason is not null
                then current_cohort.exclusion_reason
            when current_scores.patient_id is null then 'not_scored'
        end as analyst_exclusion_reason,
    from current_cohort
    left join analyst_opted_out on analyst_opted_out.patient_id = current_cohort.patient_id
    left join current_scores on current_scores.patient_id = current_cohort.patient_id
),

ranked as (
    select
        eligibility.patient_id,
        row_number() over (
            partition by eligibility.neighbourhood_code
            order by current_scores.risk_score desc, eligibility.patient_id
        ) as rank,
    from eligibility
    inner join current_scores on current_scores.patient_id = eligibility.patient_id
    where eligibility.analyst_exclusion_reason is null
),

final as (
    select
        cast($as_of as date) as as_of,
        eligibility.patient_id,
        eligibility.neighbourhood_code,
        eligibility.practice_code,
        eligibility.analyst_exclusion_reason is null as is_published,
        eligibility.analyst_exclusion_reason as exclusion_reason,
        ranked.rank,
        current_scores.risk_score,
        current_scores.risk_tier,
        case
            when current_patients.age is null then null
            when current_patients.age >= 90 then '90+'
            else
                cast(current_patients.age // 5 * 5 as varchar)
                || '-'
                || cast(current_patients.age // 5 * 5 + 4 as varchar)
        end as age_band,
        current_patients.sex,
        current_patients.imd_decile,
        current_patients.efi,
        current_patients.efi_category,
        current_patients.hfrs,
        current_patients.hfrs_band,
        coalesce(current_patients.in_hospital, false) as in_hospital,
        coalesce(current_patients.on_caseload, false) as on_caseload,
        coalesce(current_patients.is_care_home_resident, false) as is_care_home_resident,
        reason_features.reason_features,
        current_scores.model_version,
    from eligibility
    left join ranked on ranked.patient_id = eligibility.patient_id
    left join current_scores on current_scores.patient_id = eligibility.patient_id
    left join current_patients on current_patients.patient_id = eligibility.patient_id
    left join reason_features on reason_features.patient_id = eligibility.patient_id
)

select
    as_of,
    patient_id,
    neighbourhood_code,
    practice_code,
    is_published,
    exclusion_reason,
    rank,
    risk_score,
    risk_tier,
    age_band,
    sex,
    imd_decile,
    efi,
    efi_category,
    hfrs,
    hfrs_band,
    in_hospital,
    on_caseload,
    is_care_home_resident,
    reason_features,
    model_version,
from final
order by neighbourhood_code, rank, patient_id
