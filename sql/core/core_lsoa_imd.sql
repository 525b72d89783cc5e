-- one row per LSOA (latest snapshot; accepted rows only, typed and normalised)
with

file_loads as (
    select load_id
    from audit.loads
    where snapshot_id = $snapshot_id and file = 'lsoa_imd'
),

landed as (
    select *
    from raw.lsoa_imd
    where _load_id in (select load_id from file_loads)
),

excluded as (
    select load_id, row_number
    from quarantine.rejected_rows
    where load_id in (select load_id from file_loads)
    union all
    select load_id, row_number
    from quarantine.duplicate_rows
    where load_id in (select load_id from file_loads)
),

accepted as (
    select landed.*
    from landed
    anti join excluded
        on landed._load_id = excluded.load_id and landed._row_number = excluded.row_number
),

final as (
    select
        upper(trim(lsoa_code)) as lsoa_code,
        cast(trim(imd_decile) as integer) as imd_decile,
    from accepted
)

select
    lsoa_code,
    imd_decile,
from final
