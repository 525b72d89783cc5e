-- one row per unplanned A&E attendance per feature it counts towards at $as_of, for the patients in $patient_ids
with

patients as (
    select distinct unnest(cast($patient_ids as varchar[])) as patient_id
),

ae_attendances as (
    select * from core.core_ae_attendances
),

misc_codes as (
    select * from ref.snomed_misc
),

deficit_codes as (
    select * from ref.efi_deficits_snomed
),

-- SNOMED CT terms from the code lists (EXTRACTS.md 1.1 gives A&E no term column): a chief
-- complaint that a code list names is shown by its term, any other by its code
snomed_terms as (
    select code, min(term) as term from misc_codes group by code
    union all
    select code, min(term) as term from deficit_codes
    where code not in (select code from misc_codes)
    group by code
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
        labelled.patient_id,
        labelled.feature,
        'ae_attendances' as source,
        labelled.arrival_date as event_date,
        labelled.chief_complaint_snomed as code,
        'Unplanned A&E attendance'
        || coalesce(
            ': ' || snomed_terms.term,
            ': chief complaint ' || labelled.chief_complaint_snomed,
            ''
        ) as term,
    from labelled
    left join snomed_terms on labelled.chief_complaint_snomed = snomed_terms.code
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
