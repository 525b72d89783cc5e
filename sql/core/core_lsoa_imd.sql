-- one row per LSOA (latest snapshot; accepted rows only, typed and normalised)
with

accepted as (
    select * from raw.accepted_rows('lsoa_imd')
),

final as (
    select
        upper(raw.trimmed(lsoa_code)) as lsoa_code,
        cast(raw.trimmed(imd_decile) as integer) as imd_decile,
    from accepted
)

select
    lsoa_code,
    imd_decile,
from final
