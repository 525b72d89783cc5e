-- one row per neighbourhood per standard per week of the 12 weeks up to $as_of: referrals and how many met the standard
-- Layer exception: reads core.core_community_contacts, core.core_patients and core.core_practices: the
-- standards measure every community referral of the neighbourhood, not the scored cohort.
-- Standards (CSDS): urgent community response referrals (priority urgent_2h or unstated) first seen
-- within 2 hours; reablement referrals first seen within 2 days. A referral still inside its window
-- at $as_of with no attended contact is pending and not counted; one past it with no contact has not met it.
with

contacts as (
    select * from core.core_community_contacts
),

core_patients as (
    select * from core.core_patients
),

practices as (
    select * from core.core_practices
),

referral_contacts as (
    select
        patient_id,
        referral_id,
        team_type,
        min(referral_received_datetime) as referral_received_datetime,
        min(case when is_attended and contact_datetime >= referral_received_datetime
            then contact_datetime end) as first_seen_datetime,
    from contacts
    where referral_id is not null
        and referral_received_datetime is not null
        and (
            (team_type = 'urgent_community_response' and coalesce(priority, 'urgent_2h') = 'urgent_2h')
            or team_type = 'reablement'
        )
    group by patient_id, referral_id, team_type
),

referrals as (
    select
        *,
        case when team_type = 'urgent_community_response' then 'ucr_2h' else 'reablement_2d' end
            as standard,
        case when team_type = 'urgent_community_response' then interval 2 hour else interval 2 day end
            as target,
        cast(referral_received_datetime as date) as received_date,
    from referral_contacts
),

windowed as (
    select
        *,
        first_seen_datetime is not null
            and first_seen_datetime - referral_received_datetime <= target as is_met,
        first_seen_datetime is null
            and referral_received_datetime + target > cast($as_of as date) + interval 1 day
            as is_pending,
        cast(floor(date_diff('day', received_date, cast($as_of as date)) / 7) as integer)
            as weeks_back,
    from referrals
    where received_date > cast($as_of as date) - 84 and received_date <= $as_of
),

located as (
    select windowed.*, practices.neighbourhood_code,
    from windowed
    inner join core_patients on core_patients.patient_id = windowed.patient_id
    inner join practices on practices.practice_code = core_patients.practice_code
    where not windowed.is_pending
),

neighbourhood_weeks as (
    select neighbourhood_code, standard, weeks_back,
    from (select distinct neighbourhood_code from practices)
    cross join (select unnest(['ucr_2h', 'reablement_2d']) as standard)
    cross join (select cast(unnest(range(12)) as integer) as weeks_back)
),

final as (
    select
        neighbourhood_weeks.neighbourhood_code,
        neighbourhood_weeks.standard,
        cast(cast($as_of as date) - 7 * neighbourhood_weeks.weeks_back - 6 as date) as week_start,
        cast(cast($as_of as date) - 7 * neighbourhood_weeks.weeks_back as date) as week_end,
        count(located.referral_id) as n_referrals,
        count(located.referral_id) filter (where located.is_met) as n_met,
    from neighbourhood_weeks
    left join located
        on located.neighbourhood_code = neighbourhood_weeks.neighbourhood_code
        and located.standard = neighbourhood_weeks.standard
        and located.weeks_back = neighbourhood_weeks.weeks_back
    group by all
)

select
    cast($as_of as date) as as_of,
    neighbourhood_code,
    standard,
    week_start,
    week_end,
    n_referrals,
    n_met,
from final
order by neighbourhood_code, standard, week_start
