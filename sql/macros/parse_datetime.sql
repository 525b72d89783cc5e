-- macro: a YYYY-MM-DD HH:MM[:SS[.f]] text (space or T) as a timestamp, or null
create or replace macro raw.parse_datetime(x) as case
    when regexp_full_match(raw.trimmed(x),
    '[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,6})?)?')
    then try_cast(replace(raw.trimmed(x), 'T', ' ') as timestamp) end
