-- xikang schema v8 (postgres): a lighter write path for city-wide screening rounds.
-- never edit once released.

-- a tube row is rewritten at each of its four state changes after opening (sealed, in
-- transport, received, resulted). with room left on each page, postgresql updates it in
-- place (a heap-only tuple) and leaves its two indexes alone: none of their columns change.
alter table lab_tubes set (fillfactor = 40);

-- ten million samples a round: each index is paid per row. the (person, round) key stays
-- (a person is sampled once per round; it also finds a person's history). the (tube,
-- person) key goes: the server checks that a person is not in a tube twice before writing,
-- and inside a round the (person, round) key already forbids it. samples are read back in
-- storage order, which is the order they were bound.
alter table lab_samples drop constraint lab_samples_pkey;
