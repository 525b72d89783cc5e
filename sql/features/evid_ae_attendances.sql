-- one row per unplanned A&E attendance per feature it counts towards at $as_of, for the patients in $patient_ids
with

patients as (
    select distinct unnest(cast($patient_ids as varchar[])) as patient_id
),

ae_attendances as (
    select * from core.core_ae_attendances
),

attendances as (
    select
        ae_attendances.*,
        cast($as_of as date) - ae_attendances.arrival_date as days_before,
    from ae_attendances
    inner join patients on ae_attendances.patient_id = patients.patient_id
    where ae_attendances.arrival_date <= $as_of
        and ae_attendances.is_planned is not true
),

labelled as (
    select patient_id, 'n_ae_unplanned_90d' as feature, arrival_date, chief_complaint_snomed
    from attendances where days_before < 90
    union all
    select patient_id, 'n_ae_unplanned_prev_90d', arrival_date, chief_complaint_snomed
    from attendances where days_before >= 90 and days_before < 180
    union all
    select patient_id, 'n_ae_unplanned_365d', arrival_date, chief_complaint_snomed
    from attendances where days_before < 365
),

final as (
    select
        patient_id,
        feature,
        'ae_attendances' as source,
        arrival_date as event_date,
        chief_complaint_snomed as code,
        'Unplanned A&E attendance' as term,
    from labelled
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
