-- macro: whether 10 digits pass the NHS number modulus-11 check (and are not all one digit)
create or replace macro raw.nhs_check_ok(n) as
    regexp_full_match(n, '[0-9]{10}')
    and n <> repeat(left(n, 1), 10)
    and (11 - ((ascii(substr(n, 1, 1)) - 48) * 10 + (ascii(substr(n, 2, 1)) - 48) * 9
    + (ascii(substr(n, 3, 1)) - 48) * 8 + (ascii(substr(n, 4, 1)) - 48) * 7
    + (ascii(substr(n, 5, 1)) - 48) * 6 + (ascii(substr(n, 6, 1)) - 48) * 5
    + (ascii(substr(n, 7, 1)) - 48) * 4 + (ascii(substr(n, 8, 1)) - 48) * 3
    + (ascii(substr(n, 9, 1)) - 48) * 2) % 11) % 11 = ascii(substr(n, 10, 1)) - 48
