-- one row per registered patient (latest snapshot; accepted rows only, typed and normalised), with
-- the date of death as the earliest of gp_patients.date_of_death and the discharge date of any
-- accepted acute spell discharged to $died_discharge_destination (79, died), and which source dates it
with

accepted as (
    select * from raw.accepted_patient_rows('gp_patients')
),

accepted_spells as (
    select * from raw.accepted_rows('acute_spells')
),

-- GP records learn of a hospital death days or weeks late: the discharge dates it
hospital_deaths as (
    select
        nhs_number__digits as nhs_number_digits,
        min(discharge_date__date) as hospital_death_date,
    from accepted_spells
    where raw.blank_to_null(discharge_destination) = $died_discharge_destination
    group by nhs_number__digits
),

patients as (
    select
        accepted.*,
        hospital_deaths.hospital_death_date,
    from accepted
    left join hospital_deaths
        on hospital_deaths.nhs_number_digits = accepted.nhs_number_digits
),

final as (
    select
        patient_id,
        cast(date_trunc('month', date_of_birth__date) as date) as birth_month,
        raw.trimmed(sex) as sex,
        raw.blank_to_null(ethnic_category) as ethnic_category,
        upper(raw.blank_to_null(lsoa_code)) as lsoa_code,
        upper(raw.trimmed(practice_code)) as practice_code,
        registration_start_date__date as registration_start_date,
        registration_end_date__date as registration_end_date,
        -- least() skips nulls: whichever of the two dates is known and earlier
        least(date_of_death__date, hospital_death_date) as date_of_death,
        case
            when date_of_death__date <= hospital_death_date
                or hospital_death_date is null
                then if(date_of_death__date is null, null, 'gp')
            else 'hospital'
        end as death_source,
    from patients
)

select
    patient_id,
    birth_month,
    sex,
    ethnic_category,
    lsoa_code,
    practice_code,
    registration_start_date,
    registration_end_date,
    date_of_death,
    death_source,
from final
