-- one row per opt-out recorded for a patient (type and date), carried up from core for the scores layer's exclusions
with

opt_outs as (
    select * from core.core_opt_outs
),

final as (
    select
        patient_id,
        opt_out_type,
        recorded_date,
    from opt_outs
)

select
    patient_id,
    opt_out_type,
    recorded_date,
from final
