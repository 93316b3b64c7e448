-- xikang schema v17 (postgres): a tube's moves are appended, not updated. never edit once
-- released.

-- a city-wide round moves a million tubes through four states (sealed, in transport,
-- received, resulted): updating each row in place cost about 9 us a row (an index probe
-- and a new row version), more than the round's ten million samples together. each move
-- is now appended by binary copy with everything that changes after opening; the tube's
-- current state is its opening row overlaid by its latest move, read when the server
-- loads. states only ever move forward (open < sealed < in transport < received <
-- resulted or invalid), so the latest move is the one with the highest state. no index:
-- the table is read whole, at load, and never searched.
create table lab_tube_moves (
    tube bigint not null,
    state integer not null,
    sealed_at bigint,
    batch bigint,
    shipped_at bigint,
    received_at bigint,
    resulted_at bigint,
    outcome integer,
    ct real,
    lab text
);
