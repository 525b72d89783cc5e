-- macro: an ICD-10 code in upper case without spaces, dots or trailing dash/D/A/X fillers, or null
create or replace macro raw.icd10_normalise(x) as nullif(
    left(regexp_replace(upper(x), '[[:space:].]', '', 'g'), 3) ||
    regexp_replace(regexp_replace(substr(regexp_replace(upper(x), '[[:space:].]', '', 'g'), 4),
    '[-DA]+$', ''), 'X+$', ''), '')
