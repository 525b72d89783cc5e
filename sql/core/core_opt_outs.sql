-- one row per recorded opt-out (latest snapshot; accepted rows only, typed and normalised)
with

accepted as (
    select * from raw.accepted_patient_rows('opt_outs')
),

final as (
    select
        patient_id,
        raw.trimmed(opt_out_type) as opt_out_type,
        recorded_date__date as recorded_date,
    from accepted
)

select
    patient_id,
    opt_out_type,
    recorded_date,
from final
