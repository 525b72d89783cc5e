-- one row per GP practice (latest snapshot; accepted rows only, typed and normalised)
with

accepted as (
    select * from raw.accepted_rows('practices')
),

final as (
    select
        upper(raw.trimmed(practice_code)) as practice_code,
        raw.blank_to_null(practice_name) as practice_name,
        upper(raw.blank_to_null(pcn_code)) as pcn_code,
        raw.blank_to_null(pcn_name) as pcn_name,
        raw.trimmed(neighbourhood_code) as neighbourhood_code,
        raw.trimmed(neighbourhood_name) as neighbourhood_name,
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
