-- macro: a YYYY-MM-DD text as a date, or null
-- YYYY-MM-DD: the shape, then a real calendar date; strptime rejects non-digits and signs.
-- Fast path: 10 bytes, a digit first, no space last, dashes at 5 and 8 (so ASCII, its own
-- trim); DuckDB's date cast then reads exactly 4+2+2 digits, as strptime does, at a third
-- of the cost (tests/integration/test_macro_equivalence.py holds it to the definition below).
create or replace macro raw.parse_date(x) as case
    when strlen(x) = 10 and x >= '0' and x < ':' and not suffix(x, ' ')
    and x like '____-__-__'
    then try_cast(x as date)
    when raw.trimmed(x) like '____-__-__'
    then cast(try_strptime(raw.trimmed(x), '%Y-%m-%d') as date) end
