-- macro: text trimmed, or null when blank
create or replace macro raw.blank_to_null(x) as nullif(raw.trimmed(x), '')
