-- one row per patient per index date per eFI deficit whose value rule holds for the latest value on or before the index date
with

index_dates as (
    select index_date from features.feat_index_dates
),

gp_events as (
    select * from core.core_gp_events
),

patients as (
    select * from core.core_patients
),

value_rules as (
    select * from ref.efi_value_rules
),

observation_codes as (
    select * from ref.observation_codes
),

-- value-based deficits: each observation value, and whether any applicable rule holds for it
observations as (
    select
        gp_events.patient_id,
        gp_events.event_date,
        gp_events.numeric_value,
        observation_codes.observation,
    from gp_events
    inner join observation_codes on gp_events.snomed_code = observation_codes.snomed_code
    where observation_codes.observation in (select observation from value_rules)
),

rule_results as (
    select
        observations.patient_id,
        value_rules.deficit_slug,
        observations.observation,
        observations.event_date,
        bool_or(
            case value_rules.comparison
                when 'any' then true
                when 'lt' then observations.numeric_value < value_rules.threshold
                when 'le' then observations.numeric_value <= value_rules.threshold
                when 'gt' then observations.numeric_value > value_rules.threshold
                when 'ge' then observations.numeric_value >= value_rules.threshold
            end
            and (value_rules.sex is null or value_rules.sex = patients.sex)
            and (value_rules.value_from is null or observations.numeric_value >= value_rules.value_from)
            and (
                value_rules.value_below is null
                or observations.numeric_value < value_rules.value_below
            )
        ) as rule_holds,
    from observations
    inner join value_rules on observations.observation = value_rules.observation
    inner join patients on observations.patient_id = patients.patient_id
    -- a value rule reads a value; only 'any' (a score was recorded) needs none
    where observations.numeric_value is not null or value_rules.comparison = 'any'
    group by
        observations.patient_id,
        value_rules.deficit_slug,
        observations.observation,
        observations.event_date
),

-- the latest value of each observation on or before D: valid from its date until the next one
rule_periods as (
    select
        patient_id,
        deficit_slug,
        event_date,
        lead(event_date) over (
            partition by patient_id, deficit_slug, observation order by event_date
        ) as next_event_date,
        rule_holds,
    from rule_results
),

final as (
    select
        rule_periods.patient_id,
        index_dates.index_date,
        rule_periods.deficit_slug,
    from rule_periods
    inner join index_dates
        on rule_periods.event_date <= index_dates.index_date
        and coalesce(rule_periods.next_event_date, date '9999-12-31') > index_dates.index_date
    where rule_periods.rule_holds
)

select distinct
    patient_id,
    index_date,
    deficit_slug,
from final
