-- macro: whether a text NHS number is valid (false, never null)
create or replace macro raw.nhs_is_valid(x) as coalesce(raw.nhs_check_ok(raw.nhs_digits(x)),
    false)
