-- one row per returned list (feedback file) read, by its content's sha256: the same file twice is read once
create table if not exists lists.list_feedback_files (
    file_sha256 varchar primary key,
    file_name varchar not null,
    publication_as_of date not null,
    neighbourhood_code varchar not null,
    matched_by varchar not null,
    n_rows integer not null,
    n_recorded integer not null,
    n_duplicate integer not null,
    n_rejected integer not null,
    recorded_by varchar not null,
    recorded_at timestamp not null,
    recorded_as_of date not null
)
