-- macro: an NHS number with spaces and hyphens removed, or null when blank
create or replace macro raw.nhs_digits(x) as
    nullif(replace(replace(trim(x), ' ', ''), '-', ''), '')
