-- one row per community contact: the latest submission of each contact_id (then the latest
-- row within a submission); latest snapshot, accepted rows only, typed and normalised
with

accepted as (
    select * from raw.accepted_patient_rows('community_contacts')
),

typed as (
    select
        raw.trimmed(contact_id) as contact_id,
        cast(raw.trimmed(submission_id) as bigint) as submission_id,
        patient_id,
        raw.blank_to_null(referral_id) as referral_id,
        referral_received_datetime__datetime as referral_received_datetime,
        contact_datetime__datetime as contact_datetime,
        raw.trimmed(team_type) as team_type,
        raw.blank_to_null(priority) as priority,
        raw.parse_boolean(attended) as is_attended,
        cast(raw.blank_to_null(duration_minutes) as integer) as duration_minutes,
        raw.blank_to_null(location) as location,
        _row_number as row_number,
    from accepted
),

latest as (
    select *
    from typed
    qualify row_number() over (
        partition by contact_id order by submission_id desc, row_number desc
    ) = 1
),

final as (
    select
        *,
        cast(contact_datetime as date) as contact_date,
    from latest
)

select
    contact_id,
    submission_id,
    patient_id,
    referral_id,
    referral_received_datetime,
    contact_datetime,
    contact_date,
    team_type,
    priority,
    is_attended,
    duration_minutes,
    location,
from final
