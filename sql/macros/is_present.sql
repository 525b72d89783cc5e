-- macro: whether a text is present, i.e. raw.blank_to_null(x) is not null (false, never null)
-- A null or empty value is absent; a value whose first character is ASCII other than a space
-- (compared as bytes: below U+00A0, the first space separator past ASCII) cannot trim to
-- empty. Only the others pay for trim(). Every rule of a column checks presence.
create or replace macro raw.is_present(x) as case
    when x is null or x = '' then false
    when x < chr(160) and not prefix(x, ' ') then true
    else raw.blank_to_null(x) is not null end
