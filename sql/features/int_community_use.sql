-- one row per patient per index date (keyed by int_cohort.cohort_id): community health contacts by team (90 days), trend, UCR referrals and reablement (365 days)
with

cohort as (
    select cohort_id, patient_id, index_date from features.int_cohort
),

index_dates as (
    select
        index_date,
        index_date - 90 as start_90d,
        index_date - 180 as start_180d,
        index_date - 365 as start_365d,
    from features.feat_index_dates
),

contacts as (
    select * from core.core_community_contacts
),

social_care as (
    select * from core.core_social_care_services
),

-- contacts dated in (D - 180 days, D]
contacts_in_window as (
    select
        contacts.patient_id,
        index_dates.index_date,
        contacts.team_type,
        contacts.is_attended,
        contacts.contact_date > index_dates.start_90d as in_90d,
    from contacts
    inner join index_dates
        on contacts.contact_date > index_dates.start_180d
        and contacts.contact_date <= index_dates.index_date
),

contact_counts as (
    select
        patient_id,
        index_date,
        count(*) filter (where is_attended and in_90d) as n_community_contacts_90d,
        count(*) filter (where is_attended and not in_90d) as n_community_contacts_prev_90d,
        count(*) filter (
            where is_attended and in_90d and team_type = 'district_nursing'
        ) as n_contacts_district_nursing_90d,
        count(*) filter (
            where is_attended and in_90d and team_type = 'urgent_community_response'
        ) as n_contacts_urgent_community_response_90d,
        count(*) filter (
            where is_attended and in_90d and team_type = 'reablement'
        ) as n_contacts_reablement_90d,
        count(*) filter (
            where is_attended and in_90d and team_type = 'intermediate_care'
        ) as n_contacts_intermediate_care_90d,
        count(*) filter (
            where is_attended and in_90d and team_type = 'community_matron'
        ) as n_contacts_community_matron_90d,
        count(*) filter (
            where is_attended and in_90d and team_type = 'therapy'
        ) as n_contacts_therapy_90d,
        count(*) filter (
            where is_attended and in_90d and team_type = 'older_adult_mental_health'
        ) as n_contacts_older_adult_mental_health_90d,
        count(*) filter (
            where is_attended and in_90d and team_type = 'palliative_care'
        ) as n_contacts_palliative_care_90d,
        count(*) filter (
            where is_attended and in_90d and team_type = 'other'
        ) as n_contacts_other_90d,
        count(*) filter (where not is_attended and in_90d) as n_community_missed_90d,
    from contacts_in_window
    group by patient_id, index_date
),

-- UCR and reablement referrals (a referral is its referral_id, else the contact itself) with
-- a contact in (D - 365 days, D]: the referral's latest contact on or before D is in the
-- window; each contact is "the latest" until the next one, so a referral matches a date once
referral_contacts as (
    select distinct
        patient_id,
        team_type,
        coalesce(referral_id, 'contact:' || contact_id) as referral_key,
        contact_date,
    from contacts
    where team_type in ('urgent_community_response', 'reablement')
),

referral_periods as (
    select
        patient_id,
        team_type,
        contact_date,
        -- an upper bound for the join: the next contact, at most 366 days on
        least(
            coalesce(
                lead(contact_date) over (
                    partition by patient_id, team_type, referral_key order by contact_date
                ),
                contact_date + 366
            ),
            contact_date + 366
        ) as latest_until,
    from referral_contacts
),

referral_counts as (
    select
        referral_periods.patient_id,
        index_dates.index_date,
        count(*) filter (
            where referral_periods.team_type = 'urgent_community_response'
        ) as n_ucr_referrals_365d,
        count(*) filter (
            where referral_periods.team_type = 'reablement'
        ) as n_community_reablement_referrals_365d,
    from referral_periods
    inner join index_dates
        on referral_periods.contact_date <= index_dates.index_date
        and referral_periods.latest_until > index_dates.index_date
        and referral_periods.contact_date > index_dates.start_365d
    group by referral_periods.patient_id, index_dates.index_date
),

-- social care reablement packages started in (D - 365 days, D]
reablement_packages as (
    select
        social_care.patient_id,
        index_dates.index_date,
        count(*) as n_reablement_packages_365d,
    from social_care
    inner join index_dates
        on social_care.start_date > index_dates.start_365d
        and social_care.start_date <= index_dates.index_date
    where social_care.service_type = 'reablement'
    group by social_care.patient_id, index_dates.index_date
),

final as (
    select
        cohort.cohort_id,
        coalesce(contact_counts.n_community_contacts_90d, 0) as n_community_contacts_90d,
        coalesce(contact_counts.n_community_contacts_prev_90d, 0)
            as n_community_contacts_prev_90d,
        coalesce(contact_counts.n_community_contacts_90d, 0)
        - coalesce(contact_counts.n_community_contacts_prev_90d, 0)
            as community_contacts_change_90d,
        coalesce(contact_counts.n_contacts_district_nursing_90d, 0)
            as n_contacts_district_nursing_90d,
        coalesce(contact_counts.n_contacts_urgent_community_response_90d, 0)
            as n_contacts_urgent_community_response_90d,
        coalesce(contact_counts.n_contacts_reablement_90d, 0) as n_contacts_reablement_90d,
        coalesce(contact_counts.n_contacts_intermediate_care_90d, 0)
            as n_contacts_intermediate_care_90d,
        coalesce(contact_counts.n_contacts_community_matron_90d, 0)
            as n_contacts_community_matron_90d,
        coalesce(contact_counts.n_contacts_therapy_90d, 0) as n_contacts_therapy_90d,
        coalesce(contact_counts.n_contacts_older_adult_mental_health_90d, 0)
            as n_contacts_older_adult_mental_health_90d,
        coalesce(contact_counts.n_contacts_palliative_care_90d, 0)
            as n_contacts_palliative_care_90d,
        coalesce(contact_counts.n_contacts_other_90d, 0) as n_contacts_other_90d,
        coalesce(contact_counts.n_community_missed_90d, 0) as n_community_missed_90d,
        coalesce(referral_counts.n_ucr_referrals_365d, 0) as n_ucr_referrals_365d,
        coalesce(referral_counts.n_community_reablement_referrals_365d, 0)
        + coalesce(reablement_packages.n_reablement_packages_365d, 0)
            as n_reablement_episodes_365d,
    from cohort
    left join contact_counts
        on cohort.patient_id = contact_counts.patient_id
        and cohort.index_date = contact_counts.index_date
    left join referral_counts
        on cohort.patient_id = referral_counts.patient_id
        and cohort.index_date = referral_counts.index_date
    left join reablement_packages
        on cohort.patient_id = reablement_packages.patient_id
        and cohort.index_date = reablement_packages.index_date
)

select
    cohort_id,
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
from final
