-- one row per publication replaced by `run --republish`: the replaced row of audit.publications and when it was replaced
create table if not exists audit.replaced_publications as
select
    *,
    current_timestamp as replaced_at,
from audit.publications
limit 0
