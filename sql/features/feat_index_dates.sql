-- one row per index date the features are built at (replaced on each build)
create or replace table features.feat_index_dates (
    index_date date primary key,
)
