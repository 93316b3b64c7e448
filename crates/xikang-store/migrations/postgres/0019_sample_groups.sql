-- xikang schema v19 (postgres): a tube's swabs in one row; tubes' pages filled. never edit
-- once released.

-- since v17 a tube's moves are appended to lab_tube_moves and its opening row is never
-- updated: the room v8 left on each page for in-place updates (fillfactor 40) only spread
-- a round's million tubes over two and a half times the pages. new pages are filled.
alter table lab_tubes reset (fillfactor);

-- a city-wide round binds ten million swabs. one row and one (person, round) index entry
-- per swab cost postgresql about as much as the server's checking of the scanned codes
-- (docs/testing.md, session 6). the swabs one write binds into one tube at one time are
-- now one row, their people in binding order: a tenth of the rows, and one index entry per
-- row, by tube. what the dropped (person, round) key did is done elsewhere, as v8 did for
-- the (tube, person) key:
-- - a person is sampled once per round: the server checks it against its lab index under
--   the lab's lock before every write (and, among several nodes, that no other node's lab
--   write came in between, docs/nodes.md);
-- - a person's history: the lab index knows the tubes that hold the person's swabs, and
--   their rows are found by tube.
-- ids are 4-byte: dense from 1, far below 2^31; the store refuses one that does not fit.
create table lab_sample_groups (
    tube integer not null,
    round integer,
    sampled_at bigint not null,
    persons integer[] not null
);
insert into lab_sample_groups (tube, round, sampled_at, persons)
    select tube::integer, round::integer, sampled_at, array_agg(person::integer order by ctid)
    from lab_samples
    group by tube, round, sampled_at
    order by min(ctid), tube;
create index lab_sample_groups_tube on lab_sample_groups (tube);
drop table lab_samples;
