-- macro: a true/false text (any case) as a boolean, or null
create or replace macro raw.parse_boolean(x) as case lower(raw.trimmed(x))
    when 'true' then true when 'false' then false end
