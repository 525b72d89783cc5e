-- macro: whether a normalised ICD-10 code has the shape letter, two digits, up to three more
create or replace macro raw.icd10_shape_ok(n) as
    regexp_full_match(n, '[A-Z][0-9]{2}[0-9A-Z]{0,3}')
