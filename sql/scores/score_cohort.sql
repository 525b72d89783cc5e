-- one row per patient housebound at $as_of (alive and registered), with whether they are listed and why not
-- Opt-outs: any opt-out of a type in $opt_out_types excludes the patient, whatever its recorded date.
-- Carries what the lists need of the layers below (the attributes they show, and every opt-out type
-- recorded for the patient for the analysts' policy), so lists read only scores.
with

patients as (
    select * from features.feat_patients
),

opt_outs as (
    select * from features.feat_opt_outs
),

housebound as (
    select
        patient_id,
        index_date as as_of,
        practice_code,
        neighbourhood_code,
        practice_name,
        caseload_team,
        age,
        sex,
        imd_decile,
        efi,
        efi_category,
        hfrs,
        hfrs_band,
        in_hospital,
        on_caseload,
        is_care_home_resident,
    from patients
    where index_date = $as_of
        and housebound
),

opted_out as (
    select distinct patient_id
    from opt_outs
    where list_contains(cast($opt_out_types as varchar[]), opt_out_type)
),

recorded_opt_outs as (
    select
        patient_id,
        list(distinct opt_out_type order by opt_out_type) as opt_out_types,
    from opt_outs
    group by patient_id
),

final as (
    select
        housebound.*,
        opted_out.patient_id is not null as is_opted_out,
        case
            when opted_out.patient_id is not null then 'opt_out'
            when housebound.neighbourhood_code is null then 'no_neighbourhood'
        end as exclusion_reason,
        exclusion_reason is null as is_listed,
        coalesce(recorded_opt_outs.opt_out_types, []) as opt_out_types,
    from housebound
    left join opted_out on opted_out.patient_id = housebound.patient_id
    left join recorded_opt_outs on recorded_opt_outs.patient_id = housebound.patient_id
)

select
    patient_id,
    as_of,
    practice_code,
    neighbourhood_code,
    practice_name,
    caseload_team,
    is_opted_out,
    exclusion_reason,
    is_listed,
    age,
    sex,
    imd_decile,
    efi,
    efi_category,
    hfrs,
    hfrs_band,
    in_hospital,
    on_caseload,
    is_care_home_resident,
    opt_out_types,
from final
