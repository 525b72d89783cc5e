-- one row per patient on a neighbourhood's previous list who is not on its list at $as_of, with why they left
-- Layer exception: reads core.core_patients and core.core_practices (a patient who died or moved is in
-- no feature or score relation, so why they left is only in core) and features.feat_patients (whether
-- a patient still registered is no longer housebound: the scores layer holds only the housebound).
with

history as (
    select * from lists.list_entries
),

current_list as (
    select * from lists.list_week
),

cohort as (
    select * from scores.score_cohort
),

patients as (
    select * from features.feat_patients
),

core_patients as (
    select * from core.core_patients
),

practices as (
    select * from core.core_practices
),

review_outcomes as (
    select * from lists.list_review_outcomes
),

reported_gone as (
    select distinct patient_id
    from review_outcomes
    where review_outcome in ('died', 'moved_away')
        and publication_as_of < $as_of
),

previous_publication as (
    select neighbourhood_code, max(as_of) as previous_as_of,
    from history
    where as_of < $as_of
    group by neighbourhood_code
),

previous_entries as (
    select history.*,
    from history
    inner join previous_publication
        on previous_publication.neighbourhood_code = history.neighbourhood_code
        and previous_publication.previous_as_of = history.as_of
),

left_list as (
    select previous_entries.*,
    from previous_entries
    anti join current_list
        on current_list.patient_id = previous_entries.patient_id
        and current_list.neighbourhood_code = previous_entries.neighbourhood_code
),

classified as (
    select
        left_list.neighbourhood_code,
        left_list.patient_id,
        left_list.as_of as previous_as_of,
        left_list.rank as previous_rank,
        left_list.risk_score as previous_risk_score,
        case
            -- core's date of death: the GP's or a hospital death (discharged to 79), the earlier
            when core_patients.date_of_death <= $as_of then 'died'
            when core_patients.patient_id is null
                or core_patients.registration_end_date <= $as_of
                or practices.neighbourhood_code is distinct from left_list.neighbourhood_code
                then 'moved'
            when reported_gone.patient_id is not null
                then 'reported died/moved away by the team'
            when cohort.exclusion_reason = 'opt_out' then 'opted out'
            when patients.patient_id is not null and not patients.housebound
                then 'no longer housebound'
            else 'other'
        end as reason,
    from left_list
    left join core_patients on core_patients.patient_id = left_list.patient_id
    left join practices on practices.practice_code = core_patients.practice_code
    left join cohort on cohort.patient_id = left_list.patient_id and cohort.as_of = $as_of
    left join reported_gone on reported_gone.patient_id = left_list.patient_id
    left join patients
        on patients.patient_id = left_list.patient_id and patients.index_date = $as_of
),

final as (
    select
        cast($as_of as date) as as_of,
        neighbourhood_code,
        patient_id,
        previous_as_of,
        previous_rank,
        previous_risk_score,
        reason,
    from classified
)

select
    as_of,
    neighbourhood_code,
    patient_id,
    previous_as_of,
    previous_rank,
    previous_risk_score,
    reason,
from final
order by neighbourhood_code, previous_rank
