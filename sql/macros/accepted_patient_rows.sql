-- macro: one row per accepted row of one extract file keyed by NHS number, with nhs_number_digits and patient_id
-- The same rows of a file keyed by NHS number, with `nhs_number_digits` (parsed once, by the
-- scan that staged the file) and `patient_id` (the connection's `patient_id` macro,
-- `warehouse.install_pseudonym_macro`), the HMAC computed once per distinct number.
create or replace macro raw.accepted_patient_rows(extract_file) as table
    with keyed as not materialized (
    select *, nhs_number__digits as nhs_number_digits
    from raw.accepted_rows(extract_file)),
    pseudonyms as (
    select nhs_number_digits, patient_id(nhs_number_digits) as patient_id
    from (select distinct nhs_number_digits from keyed))
    select keyed.*, pseudonyms.patient_id from keyed
    inner join pseudonyms on keyed.nhs_number_digits = pseudonyms.nhs_number_digits
