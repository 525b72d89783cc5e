-- one row per community contact per feature it counts towards at $as_of, for the patients in $patient_ids
with

patients as (
    select distinct unnest(cast($patient_ids as varchar[])) as patient_id
),

contacts as (
    select * from core.core_community_contacts
),

social_care as (
    select * from core.core_social_care_services
),

recent as (
    select
        contacts.*,
        cast($as_of as date) - contacts.contact_date as days_before,
    from contacts
    inner join patients on contacts.patient_id = patients.patient_id
    where contacts.contact_date <= $as_of
        and contacts.contact_date > cast($as_of as date) - 365
),

labelled as (
    select patient_id, 'n_contacts_' || team_type || '_90d' as feature, contact_date, team_type
    from recent where is_attended and days_before < 90
    union all
    select patient_id, 'n_community_contacts_90d', contact_date, team_type
    from recent where is_attended and days_before < 90
    union all
    select patient_id, 'n_community_contacts_prev_90d', contact_date, team_type
    from recent where is_attended and days_before >= 90 and days_before < 180
    union all
    select patient_id, 'n_community_missed_90d', contact_date, team_type
    from recent where not is_attended and days_before < 90
    union all
    select patient_id, 'n_ucr_referrals_365d', contact_date, team_type
    from recent where team_type = 'urgent_community_response'
    union all
    select patient_id, 'n_reablement_episodes_365d', contact_date, team_type
    from recent where team_type = 'reablement'
),

reablement_packages as (
    select
        social_care.patient_id,
        'n_reablement_episodes_365d' as feature,
        'social_care_services' as source,
        social_care.start_date as event_date,
        -- no clinical code: the team or service is named in the term
        cast(null as varchar) as code,
        'Social care reablement package started' as term,
    from social_care
    inner join patients on social_care.patient_id = patients.patient_id
    where social_care.service_type = 'reablement'
        and social_care.start_date <= $as_of
        and social_care.start_date > cast($as_of as date) - 365
),

final as (
    select
        patient_id,
        feature,
        'community_contacts' as source,
        contact_date as event_date,
        -- no clinical code: the team or service is named in the term
        cast(null as varchar) as code,
        'Community contact: ' || replace(team_type, '_', ' ') as term,
    from labelled
    union all
    select patient_id, feature, source, event_date, code, term
    from reablement_packages
)

select
    patient_id,
    cast($as_of as date) as index_date,
    feature,
    source,
    event_date,
    code,
    term,
from final
