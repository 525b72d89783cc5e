-- one row per patient who left a neighbourhood's list per publication, with why
create table if not exists lists.left_list (
    as_of date,
    neighbourhood_code varchar,
    patient_id varchar,
    previous_as_of date,
    previous_rank integer,
    reason varchar,
)
