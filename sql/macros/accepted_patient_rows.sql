-- macro: one row per accepted row of one extract file keyed by NHS number, with nhs_number_digits and patient_id
-- The same rows of a file keyed by NHS number, with `nhs_number_digits` (parsed once, by the
-- scan that staged the file) and `patient_id` from `_cf_pseudonyms`, the temporary table of
-- pseudonyms ingest keeps for the load (`pipelines.ingest.load.keep_pseudonyms`: the HMAC of
-- each distinct number computed once, whichever files name it).
create or replace macro raw.accepted_patient_rows(extract_file) as table
    select rows.*, rows.nhs_number__digits as nhs_number_digits, pseudonyms.patient_id
    from raw.accepted_rows(extract_file) as rows
    inner join _cf_pseudonyms as pseudonyms
    on rows.nhs_number__digits = pseudonyms.nhs_number_digits
