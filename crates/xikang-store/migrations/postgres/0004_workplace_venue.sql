-- The venue a workplace's people scan in at (tracing's workplace rule), if any.
-- (0002 and 0003 are taken by the testing and duties branches.)
alter table workplaces add column venue bigint;
