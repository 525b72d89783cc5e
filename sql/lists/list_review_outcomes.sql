-- one row per review outcome the team returned for a patient on one of its published lists (recorded once)
-- The store behind last_review_date / last_review_outcome, the weekly capacity cut and the
-- run report. No NHS number: patient_id is the warehouse's pseudonym. The key
-- (publication_as_of, neighbourhood_code, patient_id, review_outcome, review_date) makes a
-- second copy of a file (renamed or not) record nothing.
create table if not exists lists.list_review_outcomes (
    publication_as_of date not null,
    neighbourhood_code varchar not null,
    patient_id varchar not null,
    review_outcome varchar not null,
    review_date date not null,
    file_name varchar not null,
    file_sha256 varchar not null,
    file_row integer not null,
    recorded_by varchar not null,
    recorded_at timestamp not null,
    recorded_as_of date not null,
    primary key (publication_as_of, neighbourhood_code, patient_id, review_outcome, review_date)
)
