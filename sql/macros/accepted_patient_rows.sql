-- macro: one row per accepted row of one extract file keyed by NHS number, with nhs_number_digits and patient_id
-- The same rows of a file keyed by NHS number, with `nhs_number_digits` and `patient_id`
-- (the connection's `patient_id` macro, `warehouse.install_pseudonym_macro`). The digits
-- are computed once per row, the HMAC once per distinct number; the rows are read twice
-- (for the distinct numbers, then for the join) rather than held in memory.
create or replace macro raw.accepted_patient_rows(snapshot, extract_file) as table
    with keyed as not materialized (
    select *, raw.nhs_digits(nhs_number) as nhs_number_digits
    from raw.accepted_rows(snapshot, extract_file)),
    pseudonyms as (
    select nhs_number_digits, patient_id(nhs_number_digits) as patient_id
    from (select distinct nhs_number_digits from keyed))
    select keyed.*, pseudonyms.patient_id from keyed
    inner join pseudonyms on keyed.nhs_number_digits = pseudonyms.nhs_number_digits
