-- one row per neighbourhood given a weekly review capacity for the publication at $as_of
-- From the capacity file (`run --capacity`), bound as two lists of the same length; a
-- neighbourhood not in it has no row here, and this_week empty on its list.
with

given as (
    select
        unnest(cast($capacity_neighbourhoods as varchar[])) as neighbourhood_code,
        unnest(cast($capacity_reviews as integer[])) as weekly_reviews,
),

final as (
    select
        cast($as_of as date) as as_of,
        neighbourhood_code,
        weekly_reviews,
    from given
)

select
    as_of,
    neighbourhood_code,
    weekly_reviews,
from final
order by neighbourhood_code
