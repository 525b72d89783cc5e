-- one row per community contact: the latest submission of each contact_id (then the latest
-- row within a submission); latest snapshot, accepted rows only, typed and normalised
with

file_loads as (
    select load_id
    from audit.loads
    where snapshot_id = $snapshot_id and file = 'community_contacts'
),

landed as (
    select *
    from raw.community_contacts
    where _load_id in (select load_id from file_loads)
),

excluded as (
    select load_id, row_number
    from quarantine.rejected_rows
    where load_id in (select load_id from file_loads)
    union all
    select load_id, row_number
    from quarantine.duplicate_rows
    where load_id in (select load_id from file_loads)
),

accepted as (
    select landed.*
    from landed
    anti join excluded
        on landed._load_id = excluded.load_id and landed._row_number = excluded.row_number
),

pseudonyms as (
    select
        nhs_number,
        patient_id(nhs_number) as patient_id,
    from (select distinct raw.nhs_digits(nhs_number) as nhs_number from accepted)
),

typed as (
    select
        trim(accepted.contact_id) as contact_id,
        cast(trim(accepted.submission_id) as bigint) as submission_id,
        pseudonyms.patient_id,
        raw.blank_to_null(accepted.referral_id) as referral_id,
        raw.parse_datetime(accepted.referral_received_datetime) as referral_received_datetime,
        raw.parse_datetime(accepted.contact_datetime) as contact_datetime,
        cast(raw.parse_datetime(accepted.contact_datetime) as date) as contact_date,
        trim(accepted.team_type) as team_type,
        raw.blank_to_null(accepted.priority) as priority,
        raw.parse_boolean(accepted.attended) as is_attended,
        cast(raw.blank_to_null(accepted.duration_minutes) as integer) as duration_minutes,
        raw.blank_to_null(accepted.location) as location,
        accepted._row_number as row_number,
    from accepted
    inner join pseudonyms
        on raw.nhs_digits(accepted.nhs_number) = pseudonyms.nhs_number
),

final as (
    select *
    from typed
    qualify row_number() over (
        partition by contact_id order by submission_id desc, row_number desc
    ) = 1
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
