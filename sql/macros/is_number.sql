-- macro: whether a text is a decimal number
create or replace macro raw.is_number(x) as
    regexp_full_match(raw.trimmed(x), '[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)')
