-- one row per neighbourhood per profile dimension per category: the listed housebound population at $as_of
with

current_list as (
    select * from lists.list_week
),

by_frailty as (
    select
        neighbourhood_code,
        'frailty' as dimension,
        coalesce(efi_category, 'unknown') as category,
        count(*) as n_patients,
    from current_list
    group by all
),

by_residence as (
    select
        neighbourhood_code,
        'residence' as dimension,
        case when is_care_home_resident then 'care home' else 'own home' end as category,
        count(*) as n_patients,
    from current_list
    group by all
),

by_tier as (
    select
        neighbourhood_code,
        'tier' as dimension,
        risk_tier as category,
        count(*) as n_patients,
    from current_list
    group by all
),

by_change as (
    select
        neighbourhood_code,
        'change' as dimension,
        change as category,
        count(*) as n_patients,
    from current_list
    group by all
),

final as (
    select * from by_frailty
    union all
    select * from by_residence
    union all
    select * from by_tier
    union all
    select * from by_change
)

select
    cast($as_of as date) as as_of,
    neighbourhood_code,
    dimension,
    category,
    n_patients,
from final
order by neighbourhood_code, dimension, category
