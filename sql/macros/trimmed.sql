-- macro: a text without leading or trailing space separators, exactly as trim(x)
-- DuckDB's trim() removes Unicode space separators (category Zs: U+0020, U+00A0, U+1680,
-- U+2000-U+200A, U+202F, U+205F, U+3000), not tabs or line breaks, and costs a copy of every
-- value. A value of ASCII characters only (as many bytes as characters) with no space at
-- either end is its own trim: prefix/suffix/strlen/length are several times cheaper than trim.
create or replace macro raw.trimmed(x) as case
    when prefix(x, ' ') or suffix(x, ' ') or strlen(x) <> length(x) then trim(x) else x end
