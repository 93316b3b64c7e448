-- Registry of location-ping partitions (`pings_YYYYMMDD`, one table per Asia/Shanghai day,
-- created by the store like the check-in tables): the day and the rows it holds.
-- (0005 is taken by another branch.)
create table ping_days (
    day integer primary key,
    row_count bigint not null default 0
);
