-- macro: whether a text is a whole number of up to 18 digits
create or replace macro raw.is_integer(x) as
    regexp_full_match(raw.trimmed(x), '[+-]?[0-9]{1,18}')
