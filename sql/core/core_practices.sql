-- one row per GP practice (latest snapshot; accepted rows only, typed and normalised)
with

file_loads as (
    select load_id
    from audit.loads
    where snapshot_id = $snapshot_id and file = 'practices'
),

landed as (
    select *
    from raw.practices
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
        upper(trim(practice_code)) as practice_code,
        raw.blank_to_null(practice_name) as practice_name,
        upper(raw.blank_to_null(pcn_code)) as pcn_code,
        raw.blank_to_null(pcn_name) as pcn_name,
        trim(neighbourhood_code) as neighbourhood_code,
        trim(neighbourhood_name) as neighbourhood_name,
    from accepted
)

select
    practice_code,
    practice_name,
    pcn_code,
    pcn_name,
    neighbourhood_code,
    neighbourhood_name,
from final
