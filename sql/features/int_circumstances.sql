-- one row per patient per index date (keyed by int_cohort.cohort_id): cohort and circumstances (housebound, care home, living situation, registers, caseload, in hospital)
with

cohort as (
    select cohort_id, patient_id, index_date from features.int_cohort
),

index_dates as (
    select index_date from features.feat_index_dates
),

-- not materialized: read twice below, and a copy of every GP event costs more than two scans
gp_events as not materialized (
    select * from core.core_gp_events
),

ae_attendances as (
    select * from core.core_ae_attendances
),

acute_spells as (
    select * from core.core_acute_spells
),

caseload as (
    select * from core.core_caseload
),

misc_codes as (
    select * from ref.snomed_misc
),

dnacpr_codes as (
    select * from ref.dnacpr_status
),

observation_codes as (
    select * from ref.observation_codes
),

-- GP events with a circumstances code, scanned once
misc_events as materialized (
    select
        gp_events.patient_id,
        gp_events.event_date,
        gp_events.snomed_code,
        misc_codes.category,
    from gp_events
    inner join misc_codes on gp_events.snomed_code = misc_codes.code
),

-- housebound status: the latest `housebound` / `no_longer_housebound` code on or before D
-- (on a day with both, housebound wins)
housebound_codes as (
    select
        misc_events.patient_id,
        misc_events.event_date,
        bool_or(misc_events.category = 'housebound') as is_housebound,
    from misc_events
    where misc_events.category in ('housebound', 'no_longer_housebound')
    group by misc_events.patient_id, misc_events.event_date
),

-- residence: GP care home residence codes, and every A&E attendance that recorded an
-- accommodation status (a care home code, or any other code meaning the patient lives
-- elsewhere); the latest on or before D decides (on a day with both, care home wins)
residence_records as (
    select
        misc_events.patient_id,
        misc_events.event_date as record_date,
        true as is_care_home,
    from misc_events
    where misc_events.category = 'care_home_residence'
    union all
    select
        ae_attendances.patient_id,
        ae_attendances.arrival_date as record_date,
        ae_attendances.accommodation_status_snomed in (
            select code from misc_codes where category = 'care_home_residence'
        ) as is_care_home,
    from ae_attendances
    where ae_attendances.accommodation_status_snomed is not null
),

residence_days as (
    select
        patient_id,
        record_date,
        bool_or(is_care_home) as is_care_home,
    from residence_records
    group by patient_id, record_date
),

-- DNACPR: the latest not-for-resuscitation / for-resuscitation code on or before D
dnacpr_days as (
    select
        misc_events.patient_id,
        misc_events.event_date,
        bool_or(dnacpr_codes.is_dnacpr) as is_dnacpr,
    from misc_events
    inner join dnacpr_codes on misc_events.snomed_code = dnacpr_codes.code
    where misc_events.category = 'dnacpr'
    group by misc_events.patient_id, misc_events.event_date
),

-- Clinical Frailty Scale: the latest valid score (1-9) on or before D (highest on a tie)
cfs_days as (
    select
        gp_events.patient_id,
        gp_events.event_date,
        max(gp_events.numeric_value) as cfs_score,
    from gp_events
    inner join observation_codes on gp_events.snomed_code = observation_codes.snomed_code
    where observation_codes.observation = 'clinical_frailty_scale'
        and gp_events.numeric_value between 1 and 9
    group by gp_events.patient_id, gp_events.event_date
),

-- every status as periods: a record is the latest one from its date until the next record
status_periods as (
    select
        'housebound' as status,
        patient_id,
        event_date as valid_from,
        lead(event_date) over (partition by patient_id order by event_date) as valid_until,
        is_housebound::double as status_value,
    from housebound_codes
    union all
    select
        'care_home' as status,
        patient_id,
        record_date as valid_from,
        lead(record_date) over (partition by patient_id order by record_date) as valid_until,
        is_care_home::double as status_value,
    from residence_days
    union all
    select
        'dnacpr' as status,
        patient_id,
        event_date as valid_from,
        lead(event_date) over (partition by patient_id order by event_date) as valid_until,
        is_dnacpr::double as status_value,
    from dnacpr_days
    union all
    select
        'cfs' as status,
        patient_id,
        event_date as valid_from,
        lead(event_date) over (partition by patient_id order by event_date) as valid_until,
        cfs_score as status_value,
    from cfs_days
),

statuses_at_date as (
    select
        status_periods.patient_id,
        index_dates.index_date,
        max(status_periods.status_value) filter (
            where status_periods.status = 'housebound'
        ) as housebound_value,
        max(status_periods.status_value) filter (
            where status_periods.status = 'care_home'
        ) as care_home_value,
        max(status_periods.status_value) filter (where status_periods.status = 'dnacpr') as dnacpr_value,
        max(status_periods.status_value) filter (where status_periods.status = 'cfs') as cfs_value,
    from status_periods
    inner join index_dates
        on status_periods.valid_from <= index_dates.index_date
        and coalesce(status_periods.valid_until, date '9999-12-31') > index_dates.index_date
    group by status_periods.patient_id, index_dates.index_date
),

-- registers and situations that hold once ever recorded on or before D
first_recorded as (
    select
        patient_id,
        category,
        min(event_date) as first_recorded_date,
    from misc_events
    where category in ('lives_alone', 'carer', 'no_carer', 'dementia', 'palliative_care')
    group by patient_id, category
),

ever_at_date as (
    select
        first_recorded.patient_id,
        index_dates.index_date,
        bool_or(first_recorded.category = 'lives_alone') as lives_alone,
        bool_or(first_recorded.category = 'carer') as is_carer,
        bool_or(first_recorded.category = 'no_carer') as has_no_carer,
        bool_or(first_recorded.category = 'dementia') as has_dementia,
        bool_or(first_recorded.category = 'palliative_care') as on_palliative_care_register,
    from first_recorded
    inner join index_dates on first_recorded.first_recorded_date <= index_dates.index_date
    group by first_recorded.patient_id, index_dates.index_date
),

-- open caseload at D: started on or before D, not ended on or before D; several open caseloads:
-- their teams in order, separated by '; '
caseload_at_date as (
    select
        caseload.patient_id,
        index_dates.index_date,
        string_agg(distinct caseload.team, '; ' order by caseload.team) as caseload_team,
    from caseload
    inner join index_dates
        on caseload.start_date <= index_dates.index_date
        and (caseload.end_date is null or caseload.end_date > index_dates.index_date)
    group by caseload.patient_id, index_dates.index_date
),

-- in hospital at D: an emergency or elective spell (OUTPUTS.md) admitted on or before D and
-- not discharged by D
in_hospital_at_date as (
    select distinct
        acute_spells.patient_id,
        index_dates.index_date,
    from acute_spells
    inner join index_dates
        on acute_spells.admission_date <= index_dates.index_date
        and (acute_spells.is_emergency or acute_spells.is_elective)
        and (
            acute_spells.discharge_date is null
            or acute_spells.discharge_date > index_dates.index_date
        )
),

final as (
    select
        cohort.cohort_id,
        coalesce(statuses_at_date.housebound_value = 1, false)
        or coalesce(statuses_at_date.care_home_value = 1, false) as housebound,
        coalesce(statuses_at_date.housebound_value = 1, false) as has_housebound_code,
        coalesce(statuses_at_date.care_home_value = 1, false) as is_care_home_resident,
        coalesce(ever_at_date.lives_alone, false) as lives_alone,
        coalesce(ever_at_date.is_carer, false) as is_carer,
        coalesce(ever_at_date.has_no_carer, false) as has_no_carer,
        coalesce(ever_at_date.has_dementia, false) as has_dementia,
        coalesce(ever_at_date.on_palliative_care_register, false) as on_palliative_care_register,
        coalesce(statuses_at_date.dnacpr_value = 1, false) as has_dnacpr,
        statuses_at_date.cfs_value as cfs_latest,
        caseload_at_date.patient_id is not null as on_caseload,
        caseload_at_date.caseload_team,
        in_hospital_at_date.patient_id is not null as in_hospital,
    from cohort
    left join statuses_at_date
        on cohort.patient_id = statuses_at_date.patient_id
        and cohort.index_date = statuses_at_date.index_date
    left join ever_at_date
        on cohort.patient_id = ever_at_date.patient_id
        and cohort.index_date = ever_at_date.index_date
    left join caseload_at_date
        on cohort.patient_id = caseload_at_date.patient_id
        and cohort.index_date = caseload_at_date.index_date
    left join in_hospital_at_date
        on cohort.patient_id = in_hospital_at_date.patient_id
        and cohort.index_date = in_hospital_at_date.index_date
)

select
    cohort_id,
    housebound,
    has_housebound_code,
    is_care_home_resident,
    lives_alone,
    is_carer,
    has_no_carer,
    has_dementia,
    on_palliative_care_register,
    has_dnacpr,
    cfs_latest,
    on_caseload,
    caseload_team,
    in_hospital,
from final
