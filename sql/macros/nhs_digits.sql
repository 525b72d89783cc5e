-- macro: an NHS number with spaces and hyphens removed, or null when blank
-- A value of ASCII characters only with no space or hyphen has nothing to remove (its trim
-- is itself): the common case costs two contains() and a length instead of trim + replace.
create or replace macro raw.nhs_digits(x) as case
    when contains(x, ' ') or contains(x, '-') or strlen(x) <> length(x)
    then nullif(replace(replace(trim(x), ' ', ''), '-', ''), '')
    else nullif(x, '') end
