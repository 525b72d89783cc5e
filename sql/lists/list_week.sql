-- one row per listed patient in the publication at $as_of: rank within the neighbourhood and change since its previous list
with

scores as (
    select * from scores.scores
),

cohort as (
    select * from scores.score_cohort
),

patients as (
    select * from features.feat_patients
),

history as (
    select * from lists.list_entries
),

review_outcomes as (
    select * from lists.list_review_outcomes
),

current_scores as (
    select * from scores where as_of = $as_of
),

-- The team reported them died or moved away on an earlier list: off every later list until
-- the records agree (then the records keep them off). Shown in list_left_week.
reported_gone as (
    select distinct patient_id
    from review_outcomes
    where review_outcome in ('died', 'moved_away')
        and publication_as_of < $as_of
),

listed as (
    select cohort.*,
    from cohort
    anti join reported_gone on reported_gone.patient_id = cohort.patient_id
    where cohort.as_of = $as_of and cohort.is_listed
),

ranked as (
    select
        listed.neighbourhood_code,
        listed.practice_code,
        current_scores.patient_id,
        current_scores.risk_score,
        current_scores.raw_score,
        current_scores.risk_tier,
        current_scores.model_version,
        row_number() over (
            partition by listed.neighbourhood_code
            order by current_scores.risk_score desc, current_scores.patient_id
        ) as rank,
    from current_scores
    inner join listed on listed.patient_id = current_scores.patient_id
),

previous_publication as (
    select neighbourhood_code, max(as_of) as previous_as_of,
    from history
    where as_of < $as_of
    group by neighbourhood_code
),

previous_entries as (
    select history.neighbourhood_code, history.patient_id, history.rank as previous_rank,
    from history
    inner join previous_publication
        on previous_publication.neighbourhood_code = history.neighbourhood_code
        and previous_publication.previous_as_of = history.as_of
),

final as (
    select
        cast($as_of as date) as as_of,
        ranked.neighbourhood_code,
        ranked.rank,
        ranked.patient_id,
        ranked.practice_code,
        ranked.risk_score,
        ranked.raw_score,
        ranked.risk_tier,
        case
            when previous_entries.patient_id is null then 'new'
            when ranked.rank < previous_entries.previous_rank then 'up'
            when ranked.rank > previous_entries.previous_rank then 'down'
            else 'same'
        end as change,
        previous_entries.previous_rank,
        previous_publication.previous_as_of,
        patients.efi,
        patients.efi_category,
        patients.hfrs,
        patients.hfrs_band,
        coalesce(patients.in_hospital, false) as in_hospital,
        coalesce(patients.on_caseload, false) as on_caseload,
        coalesce(patients.is_care_home_resident, false) as is_care_home_resident,
        ranked.model_version,
    from ranked
    left join previous_publication
        on previous_publication.neighbourhood_code = ranked.neighbourhood_code
    left join previous_entries
        on previous_entries.neighbourhood_code = ranked.neighbourhood_code
        and previous_entries.patient_id = ranked.patient_id
    left join patients
        on patients.patient_id = ranked.patient_id
        and patients.index_date = $as_of
)

select
    as_of,
    neighbourhood_code,
    rank,
    patient_id,
    practice_code,
    risk_score,
    raw_score,
    risk_tier,
    change,
    previous_rank,
    previous_as_of,
    efi,
    efi_category,
    hfrs,
    hfrs_band,
    in_hospital,
    on_caseload,
    is_care_home_resident,
    model_version,
from final
order by neighbourhood_code, rank
