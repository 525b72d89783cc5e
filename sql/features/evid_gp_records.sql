-- one row per GP record behind a feature, for the patients in $patient_ids, dated on or before $as_of
with

patients as (
    select distinct unnest(cast($patient_ids as varchar[])) as patient_id
),

gp_events as (
    select * from core.core_gp_events
),

ae_attendances as (
    select * from core.core_ae_attendances
),

deficit_codes as (
    select * from ref.efi_deficits_snomed
),

value_rules as (
    select * from ref.efi_value_rules
),

observation_codes as (
    select * from ref.observation_codes
),

misc_codes as (
    select * from ref.snomed_misc
),

events_for_patients as (
    select gp_events.*
    from gp_events
    inner join patients on gp_events.patient_id = patients.patient_id
    where gp_events.event_date <= $as_of
),

-- codes that are both in a deficit's list and an observation of that deficit's value rule
-- (723245007 COPD exacerbation count): shown once, with their value, by observation_records
rule_observation_codes as (
    select distinct
        observation_codes.snomed_code,
        value_rules.deficit_slug,
    from observation_codes
    inner join value_rules on observation_codes.observation = value_rules.observation
),

-- eFI deficit codes
deficit_records as (
    select
        events_for_patients.patient_id,
        'efi_' || replace(deficit_codes.slug, '-', '_') as feature,
        events_for_patients.event_date,
        events_for_patients.snomed_code as code,
        deficit_codes.term,
    from events_for_patients
    inner join deficit_codes on events_for_patients.snomed_code = deficit_codes.code
    anti join rule_observation_codes
        on deficit_codes.code = rule_observation_codes.snomed_code
        and deficit_codes.slug = rule_observation_codes.deficit_slug
),

-- observations behind eFI value rules and the Clinical Frailty Scale
observation_records as (
    select distinct
        events_for_patients.patient_id,
        coalesce(
            'efi_' || replace(value_rules.deficit_slug, '-', '_'), 'cfs_latest'
        ) as feature,
        events_for_patients.event_date,
        events_for_patients.snomed_code as code,
        observation_codes.term
        || coalesce(': ' || cast(events_for_patients.numeric_value as varchar), '') as term,
    from events_for_patients
    inner join observation_codes
        on events_for_patients.snomed_code = observation_codes.snomed_code
    left join value_rules on observation_codes.observation = value_rules.observation
    where value_rules.observation is not null
        or observation_codes.observation = 'clinical_frailty_scale'
),

-- circumstances codes
misc_records as (
    select
        events_for_patients.patient_id,
        case misc_codes.category
            when 'housebound' then 'housebound'
            when 'no_longer_housebound' then 'housebound'
            when 'care_home_residence' then 'is_care_home_resident'
            when 'lives_alone' then 'lives_alone'
            when 'carer' then 'is_carer'
            when 'no_carer' then 'has_no_carer'
            when 'dementia' then 'has_dementia'
            when 'palliative_care' then 'on_palliative_care_register'
            when 'dnacpr' then 'has_dnacpr'
            when 'falls' then 'n_falls_365d'
        end as feature,
        events_for_patients.event_date,
        events_for_patients.snomed_code as code,
        misc_codes.term,
    from events_for_patients
    inner join misc_codes on events_for_patients.snomed_code = misc_codes.code
    where misc_codes.category <> 'falls' or events_for_patients.event_date > $as_of - 365
),

-- A&E accommodation status (residence records), with the code list's term where it has one
misc_terms as (
    select code, min(term) as term from misc_codes group by code
),

accommodation_records as (
    select
        ae_attendances.patient_id,
        'is_care_home_resident' as feature,
        ae_attendances.arrival_date as event_date,
        ae_attendances.accommodation_status_snomed as code,
        'A&E accommodation status' || coalesce(': ' || misc_terms.term, '') as term,
    from ae_attendances
    inner join patients on ae_attendances.patient_id = patients.patient_id
    left join misc_terms on ae_attendances.accommodation_status_snomed = misc_terms.code
    where ae_attendances.arrival_date <= $as_of
        and ae_attendances.accommodation_status_snomed is not null
),

final as (
    select patient_id, feature, 'gp_events' as source, event_date, code, term
    from deficit_records
    union all
    select patient_id, feature, 'gp_events' as source, event_date, code, term
    from observation_records
    union all
    select patient_id, feature, 'gp_events' as source, event_date, code, term
    from misc_records
    where feature is not null
    union all
    select patient_id, feature, 'ae_attendances' as source, event_date, code, term
    from accommodation_records
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
