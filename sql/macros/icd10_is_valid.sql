-- macro: whether a text ICD-10 code is valid once normalised (false, never null)
create or replace macro raw.icd10_is_valid(x) as
    coalesce(raw.icd10_shape_ok(raw.icd10_normalise(x)), false)
